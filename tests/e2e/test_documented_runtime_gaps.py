"""Documented behaviours of ``runbolt`` (docs/runbolt.md) over a real socket that no other
test covered:

- ``--send-timeout``: a stream whose client reads nothing is stopped (its producer's
  ``close()`` runs) and its connection closed without the end of the chunked body;
- ``--max-pending`` never refuses static files;
- ``--timeout``: a ``FileResponse`` slow to send is not cut once its headers are out;
- TLS: the handshake is bounded by ``--header-timeout`` (at least one second); secure
  cookies and Django's checks for secure requests behave as behind a TLS proxy;
- SIGHUP: new settings are read, and workers replaced after a reload (recycling) are
  fresh interpreters too;
- ``ATOMIC_REQUESTS``: async handlers are not wrapped in a transaction.

Each server runs a small site package written under ``tmp_path`` (``site_env``): the
testproject's settings and URLs plus a probe API and views these tests need."""

import json
import re
import signal
import socket
import ssl
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from django_bolt.testing.process import free_port
from tests.conftest import ROOT, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

#: The probe site's URLconf: the testproject's patterns, plus routes and views that let a
#: test see from outside what happens inside the server process.
SITE_URLS = '''
import asyncio
import io
import os
import time
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, StreamingHttpResponse
from django.urls import path

from django_bolt import BoltAPI, Request
from django_bolt.responses import StreamingResponse
from testproject.urls import urlpatterns as project_patterns

gap = BoltAPI(openapi_url=None)
EVENTS = {}  # producer key -> what it went through, in order
BLOCK = "x" * 65536


def note(key, what):
    EVENTS.setdefault(key, []).append(what)


def endless(key):
    """A sync producer that never ends by itself."""
    note(key, "started")
    try:
        while True:
            yield BLOCK
    except GeneratorExit:
        note(key, "closed")
        raise
    finally:
        note(key, "finally")


async def endless_async(key):
    note(key, "started")
    try:
        while True:
            yield BLOCK
            await asyncio.sleep(0)
    except GeneratorExit:
        note(key, "closed")
        raise
    except asyncio.CancelledError:
        note(key, "cancelled")
        raise
    finally:
        note(key, "finally")


@gap.get("/events/{key}")
async def events(key: str):
    return {"events": EVENTS.get(key, [])}


@gap.get("/stream-sync/{key}")
def stream_sync(key: str):
    return StreamingResponse(endless(key), media_type="text/plain")


@gap.get("/stream-async/{key}")
async def stream_async(key: str):
    return StreamingResponse(endless_async(key), media_type="text/plain")


@gap.get("/hold")
async def hold(flag: str):
    """Stays in Python until the file ``flag`` exists."""
    while not Path(flag).exists():
        await asyncio.sleep(0.02)
    return {"held": True}


@gap.get("/settings")
async def seen_settings():
    return {"label": settings.GAP_LABEL, "pid": os.getpid()}


@gap.post("/body")
async def body_length(request: Request):
    return {"length": len(request.body)}


@gap.post("/notes-async/{title}")
async def note_async(title: str):
    from users.models import Note

    await Note.objects.acreate(title=title)
    raise RuntimeError("after the write")


@gap.post("/notes-sync/{title}")
def note_sync(title: str):
    from users.models import Note

    Note.objects.create(title=title)
    raise RuntimeError("after the write")


@gap.get("/notes/{title}")
async def notes_titled(title: str):
    from users.models import Note

    return {"count": await Note.objects.filter(title=title).acount()}


def django_stream(request):
    return StreamingHttpResponse(endless(request.GET["key"]), content_type="text/plain")


class SlowFile(io.BytesIO):
    """A file whose every read after the first takes ``pause`` seconds (runbolt's
    ``wsgi.file_wrapper`` reads 64 KiB at a time)."""

    def __init__(self, data, pause):
        super().__init__(data)
        self.pause = pause
        self.reads = 0

    def read(self, size=-1):
        if self.reads:
            time.sleep(self.pause)
        self.reads += 1
        return super().read(size)


def slow_file(request):
    data = bytes(range(256)) * 256 * int(request.GET["blocks"])  # 64 KiB per block
    return FileResponse(SlowFile(data, float(request.GET["pause"])), content_type="application/octet-stream")


urlpatterns = [
    path("gap/", gap.urls),
    path("gap-django/stream/", django_stream),
    path("gap-django/slow-file/", slow_file),
    *project_patterns,
]
'''


def site_env(tmp_path: Path, settings: str = "", urls: str = SITE_URLS) -> dict[str, str]:
    """Writes the package ``gapsite`` (the testproject's settings with ``settings``
    appended, and ``urls`` as its URLconf) under ``tmp_path``; returns the environment
    that makes runbolt use it."""
    package = tmp_path / "gapsite"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(
        "from testproject.settings import *  # noqa: F403\n\n"
        'ROOT_URLCONF = "gapsite.urls"\n'
        "GAP_LABEL = None\n" + settings
    )
    (package / "urls.py").write_text(urls.lstrip())
    return {
        "DJANGO_SETTINGS_MODULE": "gapsite.settings",
        "PYTHONPATH": f"{tmp_path}:{ROOT / 'testproject'}",
    }


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sent, until it closed the connection (a reset included)."""
    data = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            return bytes(data)
        if not chunk:
            return bytes(data)
        data += chunk


# -- --send-timeout ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/gap-django/stream/?key={key}",  # a Django StreamingHttpResponse
        "/gap/stream-sync/{key}",  # a sync StreamingResponse
        "/gap/stream-async/{key}",  # an async StreamingResponse
    ],
)
def test_a_stream_whose_client_reads_nothing_is_closed_and_its_connection_cut(
    bolt, tmp_path, target
):
    """runbolt.md: "A client that reads nothing for `--send-timeout` seconds (60) is
    dropped: the producer stops (its `close()` runs), the connection is closed rather
    than the response ending as if complete, and a warning is logged." An endless
    producer, to a client that reads nothing: after the send timeout the producer's
    ``close()`` has run (GeneratorExit at its ``yield``, then its ``finally``), and what
    the client finally reads is a chunked body cut off, without its last chunk."""
    key = uuid.uuid4().hex[:8]
    with bolt("--send-timeout", "1", "--timeout", "0", env=site_env(tmp_path)) as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect(("127.0.0.1", server.port))
        try:
            sock.sendall(f"GET {target.format(key=key)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            events = f"{server.url}/gap/events/{key}"
            done = wait_for(lambda: "finally" in (e := httpx.get(events).json()["events"]) and e)
            assert done == ["started", "closed", "finally"]
            wait_for(lambda: "it is abandoned" in server.log)
            received = read_until_closed(sock)
        finally:
            sock.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    assert b"transfer-encoding: chunked" in head.lower()
    assert len(body) > 65536
    assert not body.endswith(b"0\r\n\r\n"), "the stream was ended as if complete"


# -- --max-pending and static files ------------------------------------------------------


def test_max_pending_never_refuses_static_files(bolt, tmp_path, e2e_static):
    """runbolt.md: "Requests Rust answers alone (static files, preflights, rate limits,
    authentication refusals) are never refused by it." With the one place of
    ``--max-pending 1`` taken, a request for Python gets 503, a static file its bytes."""
    flag = tmp_path / "release"
    metrics_port = free_port()
    env = {**site_env(tmp_path), "BOLT_STATIC_ROOT": str(e2e_static)}
    args = ("--max-pending", "1", "--timeout", "0", "--metrics-port", str(metrics_port))
    with bolt(*args, env=env) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        held = []

        def hold():
            with httpx.Client(base_url=server.url, timeout=60) as own:
                held.append(own.get("/gap/hold", params={"flag": str(flag)}))

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            wait_for(
                lambda: (
                    "\ndjango_bolt_requests_in_flight 1\n"
                    in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
                )
            )
            refused = c.get("/api/hello")
            assert (refused.status_code, refused.headers["retry-after"]) == (503, "1")
            for name in ("admin/css/base.css", "admin/js/core.js"):
                static = c.get(f"/static/{name}", headers={"Accept-Encoding": "identity"})
                assert static.status_code == 200, name
                assert static.content == (e2e_static / name).read_bytes()
        finally:
            flag.write_text("go")
            holder.join()
        assert held[0].json() == {"held": True}
        assert c.get("/api/hello").status_code == 200


# -- --timeout and files -------------------------------------------------------------------


def test_a_file_response_slow_to_send_is_not_cut_by_the_timeout(bolt, tmp_path):
    """runbolt.md: "Streams and files count as started once their first headers are out,
    so a long download or an event stream is not cut." A Django ``FileResponse`` whose
    file gives its first 64 KiB at once and each of the next three after 0.6 s: with
    ``--timeout 0.3`` every byte arrives, with the Content-Length of the file."""
    with bolt("--timeout", "0.3", env=site_env(tmp_path)) as server:
        started = time.monotonic()
        response = httpx.get(
            f"{server.url}/gap-django/slow-file/", params={"blocks": 4, "pause": 0.6}, timeout=30
        )
        took = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.content == bytes(range(256)) * 256 * 4
    assert response.headers["content-length"] == str(4 * 65536)
    assert took > 1.8  # it was slower than the timeout, six times over


# -- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authority():
    import trustme

    return trustme.CA()


@pytest.fixture(scope="module")
def cert_files(authority, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gap_tls")
    issued = authority.issue_cert("127.0.0.1", "localhost")
    cert, key = folder / "cert.pem", folder / "key.pem"
    for n, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(cert), append=n > 0)
    issued.private_key_pem.write_to_path(str(key))
    return str(cert), str(key)


def client_hello() -> bytes:
    """The first flight of a TLS client: its ClientHello record(s)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def seconds_until_dropped(port: int, first_bytes: bytes) -> float:
    """Opens a connection, sends ``first_bytes`` and nothing more: the seconds until the
    server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        started = time.monotonic()
        if first_bytes:
            sock.sendall(first_bytes)
        read_until_closed(sock)
        return time.monotonic() - started


@pytest.mark.parametrize("header_timeout, bound", [("0.2", 1.0), ("2", 2.0)])
def test_the_tls_handshake_must_complete_within_the_header_timeout(
    bolt, cert_files, authority, header_timeout, bound
):
    """runbolt.md: "The TLS handshake must complete within `--header-timeout` (at least
    one second)." A client that opens a connection and sends nothing, and one that sends
    half of its ClientHello, are dropped once that bound has passed (one second for a
    header timeout of 0.2), well before the 30 s the test would wait; a client that
    completes its handshake is served."""
    cert, key = cert_files
    hello = client_hello()
    with bolt(
        "--ssl-certfile", cert, "--ssl-keyfile", key, "--header-timeout", header_timeout
    ) as server:
        for first_bytes in (b"", hello[: len(hello) // 2]):
            took = seconds_until_dropped(server.port, first_bytes)
            assert bound - 0.05 <= took < bound + 4, (first_bytes[:5], took)
        context = ssl.create_default_context()
        authority.configure_trust(context)
        answer = httpx.get(f"{server.url}/api/hello", verify=context)
        assert answer.json() == {"message": "Hello, World!"}


def test_secure_cookies_and_csrf_over_tls_behave_as_behind_a_tls_proxy(
    bolt, tmp_path, cert_files, authority
):
    """runbolt.md: "Django sees `wsgi.url_scheme` https, so `is_secure()`, secure cookies
    and HSTS behave as behind a TLS proxy". With ``CSRF_COOKIE_SECURE`` and
    ``SESSION_COOKIE_SECURE``: the admin's login page sets its CSRF cookie ``Secure``, the
    login sets a ``Secure`` session cookie and the session then works; and Django checks
    the Referer as it does for secure requests only (an http:// Referer is refused)."""
    env = site_env(tmp_path, "CSRF_COOKIE_SECURE = True\nSESSION_COOKIE_SECURE = True\n")
    cert, key = cert_files
    context = ssl.create_default_context()
    authority.configure_trust(context)
    with (
        bolt("--ssl-certfile", cert, "--ssl-keyfile", key, env=env) as server,
        httpx.Client(base_url=server.url, verify=context) as client,
    ):
        login = client.get("/admin/login/")
        assert login.status_code == 200
        (csrf_cookie,) = [
            c for c in login.headers.get_list("set-cookie") if c.startswith("csrftoken=")
        ]
        assert "; Secure" in csrf_cookie
        form = {
            "username": "admin",
            "password": "pw-admin-123",
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        }
        origin = f"127.0.0.1:{server.port}"
        insecure = client.post(
            "/admin/login/", data=form, headers={"Referer": f"http://{origin}/admin/login/"}
        )
        assert insecure.status_code == 403
        assert "CSRF verification failed" in insecure.text
        signed_in = client.post(
            "/admin/login/?next=/admin/",
            data=form,
            headers={"Referer": f"https://{origin}/admin/login/"},
        )
        assert (signed_in.status_code, signed_in.headers["location"]) == (302, "/admin/")
        session_cookie = [
            c for c in signed_in.headers.get_list("set-cookie") if c.startswith("sessionid=")
        ]
        assert len(session_cookie) == 1 and "; Secure" in session_cookie[0]
        assert "; HttpOnly" in session_cookie[0]
        admin = client.get("/admin/")
        assert admin.status_code == 200
        assert "Site administration" in admin.text
        assert re.search(r"Welcome,\s*<strong>admin</strong>", admin.text), admin.text


# -- SIGHUP: new settings, fresh workers -----------------------------------------------------

RELOADED_SETTINGS = """
import json as _json

_GAP = _json.loads(Path(os.environ["GAP_SETTINGS_FILE"]).read_text())
GAP_LABEL = _GAP["label"]
BOLT = {**BOLT, "MAX_BODY_SIZE": _GAP["max_body"]}
"""


def children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return set(int(p) for p in path.read_text().split()) if path.exists() else set()


def labels_until(server, predicate, limit=400):
    """{worker pid: the settings label it reports}, from new connections, until
    ``predicate`` holds for it."""
    seen: dict[int, str] = {}
    for _ in range(limit):
        with httpx.Client(base_url=server.url, timeout=30) as client:  # a new connection
            answer = client.get("/gap/settings").json()
        seen[answer["pid"]] = answer["label"]
        if predicate(seen):
            return seen
    pytest.fail(f"never seen: {seen}")


def test_sighup_reads_new_settings_and_recycled_workers_after_it_are_fresh(bolt, tmp_path):
    """runbolt.md: "SIGHUP starts a new generation of workers in fresh interpreters (new
    code, settings and certificates are read as at a first start) [...] Workers replaced
    after a reload (recycling, crashes) are fresh interpreters too." The settings module
    reads a label and ``BOLT["MAX_BODY_SIZE"]`` from a file. Before any reload, workers
    recycled by ``--max-requests`` are forked from the supervisor's compiled site and keep
    the settings of the start; after SIGHUP the new workers read the file again (the new
    body limit applies in Rust), and so do the workers recycled after the reload."""
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"label": "first", "max_body": 1000}))
    env = {**site_env(tmp_path, RELOADED_SETTINGS), "GAP_SETTINGS_FILE": str(values)}
    with bolt("--processes", "2", "--max-requests", "15", env=env) as server:
        started = wait_for(lambda: len(c := children(server.proc.pid)) == 2 and c)
        values.write_text(json.dumps({"label": "changed, not reloaded", "max_body": 1000}))
        # Recycled workers (pids not of the start), forked: the settings of the start.
        before = labels_until(server, lambda seen: len(set(seen) - started) >= 2)
        assert set(before.values()) == {"first"}, before
        assert httpx.post(f"{server.url}/gap/body", content=b"b" * 2000).status_code == 413

        values.write_text(json.dumps({"label": "second", "max_body": 4000}))
        generation = children(server.proc.pid) | set(before)
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded: 2 new workers serve" in server.log, timeout=60)
        wait_for(lambda: not (children(server.proc.pid) & generation), timeout=60)
        reloaded = labels_until(server, lambda seen: len(seen) >= 2)
        assert set(reloaded.values()) == {"second"}, reloaded
        accepted = httpx.post(f"{server.url}/gap/body", content=b"b" * 2000)
        assert accepted.json() == {"length": 2000}
        assert httpx.post(f"{server.url}/gap/body", content=b"b" * 5000).status_code == 413

        # Recycled after the reload: fresh interpreters, which read the file as it is now.
        known = children(server.proc.pid) | set(reloaded)
        values.write_text(json.dumps({"label": "third", "max_body": 4000}))
        after = labels_until(server, lambda seen: len(set(seen) - known) >= 2)
        assert {after[pid] for pid in set(after) - known} == {"third"}, after


# -- ATOMIC_REQUESTS -------------------------------------------------------------------------


def test_atomic_requests_wrap_sync_handlers_but_not_async_ones(bolt, tmp_path):
    """runbolt.md: "On a database with `ATOMIC_REQUESTS = True`, each sync handler runs
    in a transaction, rolled back when it raises [...]. Async handlers are not wrapped, as
    Django refuses them too". Each handler writes a row, then raises: the sync handler's
    row is rolled back, the async handler's row stays."""
    env = site_env(tmp_path, 'DATABASES["default"]["ATOMIC_REQUESTS"] = True\n')
    title = uuid.uuid4().hex[:12]
    with bolt(env=env) as server, httpx.Client(base_url=server.url) as client:
        assert client.post(f"/gap/notes-sync/sync-{title}").status_code == 500
        assert client.post(f"/gap/notes-async/async-{title}").status_code == 500
        assert client.get(f"/gap/notes/sync-{title}").json() == {"count": 0}
        assert client.get(f"/gap/notes/async-{title}").json() == {"count": 1}
