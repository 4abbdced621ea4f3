"""Request bodies on Django's own paths over a real socket: their own limit, streamed
into ``wsgi.input`` with flat memory, Django's limits applied, and refusals a browser
can read."""

import hashlib
import json
import socket
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

MiB = 1024 * 1024
BOUNDARY = "bolt-test-boundary"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def peak_rss(pid):
    """The process's peak resident set (VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def multipart(size, field="upload", block=256 * 1024):
    """A multipart body with one generated file of ``size`` bytes, as (length, chunks,
    sha256 of the file): the client never holds the whole file either."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbig one\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    digest = hashlib.sha256()
    pattern = bytes(range(256)) * (block // 256)
    full, rest = divmod(size, block)
    for _ in range(full):
        digest.update(pattern)
    digest.update(pattern[:rest])

    def chunks():
        yield head
        for _ in range(full):
            yield pattern
        yield pattern[:rest]
        yield tail

    return len(head) + size + len(tail), chunks, digest.hexdigest()


def post_upload(client, path, size):
    length, chunks, sha = multipart(size)
    response = client.post(
        path,
        content=chunks(),
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(length),
        },
    )
    return response, sha


def read_reply(sock, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep and b"content-length:" in head.lower():
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) >= length:
                break
    return data


def test_an_upload_beyond_the_api_limit_streams_into_django_with_flat_memory(bolt):
    with bolt("--max-body-size", str(MiB)) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            # Warm up: the first upload loads Django's upload machinery.
            response, _ = post_upload(client, "/django/upload/", 2 * MiB)
            assert response.status_code == 200, response.text
            before = peak_rss(server.proc.pid)

            response, sha = post_upload(client, "/django/upload/", 48 * MiB)
            assert response.status_code == 200, response.text
            assert response.json() == {
                "files": {"upload": {"size": 48 * MiB, "sha256": sha}},
                "fields": {"title": "big one"},
            }
            grown = peak_rss(server.proc.pid) - before
            # Never held whole: well under the upload's size.
            assert grown < 24 * MiB, f"peak RSS grew by {grown / MiB:.1f} MiB for a 48 MiB upload"

            # The API keeps its own, smaller limit.
            response, _ = post_upload(client, "/api/upload", 2 * MiB)
            assert response.status_code == 413
            assert response.json() == {
                "detail": f"Request body is larger than the limit of {MiB} bytes"
            }


def test_a_chunked_upload_reaches_django_whole(bolt):
    with bolt() as server:
        length, chunks, sha = multipart(3 * MiB)
        response = httpx.post(
            f"{server.url}/django/upload/",
            content=chunks(),  # no Content-Length: sent chunked
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            timeout=30,
        )
        assert response.request.headers.get("transfer-encoding") == "chunked"
        assert response.status_code == 200, response.text
        assert response.json()["files"] == {"upload": {"size": 3 * MiB, "sha256": sha}}


def test_django_paths_have_their_own_limit_and_refuse_in_html_for_browsers(bolt):
    with bolt("--django-max-body-size", str(5 * MiB)) as server:
        head = (
            "POST /django/upload/ HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {6 * MiB}\r\n"
        )
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(f"{head}Accept: {BROWSER_ACCEPT}\r\n\r\n".encode())
            reply = read_reply(s)
        status, _, rest = reply.partition(b"\r\n")
        assert status == b"HTTP/1.1 413 Payload Too Large"
        head_bytes, _, body = rest.partition(b"\r\n\r\n")
        assert b"content-type: text/html; charset=utf-8" in head_bytes.lower()
        assert b"<title>413 Payload Too Large</title>" in body
        assert f"limit of {5 * MiB} bytes".encode() in body

        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(f"{head}Accept: application/json\r\n\r\n".encode())
            reply = read_reply(s)
        assert reply.startswith(b"HTTP/1.1 413")
        body = reply.partition(b"\r\n\r\n")[2]
        assert json.loads(body) == {
            "detail": f"Request body is larger than the limit of {5 * MiB} bytes"
        }

        # Under the limit, the same path takes the body.
        with httpx.Client(base_url=server.url, timeout=30) as client:
            response, sha = post_upload(client, "/django/upload/", 4 * MiB)
            assert response.status_code == 200
            assert response.json()["files"]["upload"]["sha256"] == sha


def test_djangos_own_upload_limits_apply(bolt):
    with bolt() as server:
        # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default) caps a urlencoded form.
        form = b"note=" + b"x" * (3 * MiB)
        response = httpx.post(
            f"{server.url}/django/upload/",
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
        assert response.status_code == 400
        # A small form still parses.
        response = httpx.post(f"{server.url}/django/upload/", data={"note": "short"})
        assert response.json() == {"files": {}, "fields": {"note": "short"}}


def stalled_upload(port, sent, declared, accept="application/json"):
    """Opens a connection that sends the head and ``sent`` bytes of a ``declared``-byte
    multipart body, then stops."""
    s = socket.create_connection(("127.0.0.1", port))
    length, chunks, _ = multipart(declared)
    s.sendall(
        (
            "POST /django/upload/ HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {length}\r\nAccept: {accept}\r\n\r\n"
        ).encode()
    )
    budget = sent
    for chunk in chunks():
        if budget <= 0:
            break
        s.sendall(chunk[:budget])
        budget -= len(chunk)
    return s


def test_a_stalled_upload_times_out_with_408_and_frees_the_django_thread(bolt):
    with bolt("--body-timeout", "1", "--threads", "1") as server:
        # Past the first MiB, the request is already in Django when the client stalls.
        s = stalled_upload(server.port, 2 * MiB, 8 * MiB, accept=BROWSER_ACCEPT)
        started = time.monotonic()
        with s:
            reply = read_reply(s)
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"<title>408 Request Timeout</title>" in reply
        assert time.monotonic() - started < 10
        # The one Django thread was released: Django pages answer at once.
        response = httpx.get(f"{server.url}/django/plain/", timeout=5)
        assert response.status_code == 200
        assert response.text == "django view: GET /django/plain/"


def test_a_client_that_leaves_mid_upload_frees_the_django_thread(bolt):
    with bolt("--threads", "1") as server:
        s = stalled_upload(server.port, 2 * MiB, 8 * MiB)
        s.close()
        response = httpx.get(f"{server.url}/django/plain/", timeout=10)
        assert response.status_code == 200
        with httpx.Client(base_url=server.url, timeout=30) as client:
            response, sha = post_upload(client, "/django/upload/", 3 * MiB)
            assert response.json()["files"]["upload"]["sha256"] == sha


def test_a_slow_upload_is_not_cut_by_the_handler_timeout(bolt):
    """--timeout bounds the answer, counted from when the body is in: an upload that
    keeps arriving (each piece within --body-timeout) takes as long as it takes."""
    with bolt("--timeout", "1", "--body-timeout", "5") as server:
        length, chunks, sha = multipart(3 * MiB, block=256 * 1024)

        def slowly():
            for chunk in chunks():
                time.sleep(0.15)  # 15 pieces: about 2 seconds in all
                yield chunk

        started = time.monotonic()
        response = httpx.post(
            f"{server.url}/django/upload/",
            content=slowly(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(length),
            },
            timeout=30,
        )
        assert time.monotonic() - started > 1.5
        assert response.status_code == 200, response.text
        assert response.json()["files"]["upload"]["sha256"] == sha
