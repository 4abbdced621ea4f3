"""runbolt's limits over a real socket: --timeout (504, async handlers cancelled, stuck
sync threads replaced), --max-pending (503 at once), and gunicorn's head limits."""

import socket
import threading
import time

import httpx
import pytest

from django_bolt.testing.process import free_port
from tests.conftest import answer, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

BROWSER = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


def test_a_slow_async_handler_gets_504_and_is_cancelled(bolt, tmp_path):
    env = {"BOLT_TEST_MARKER_DIR": str(tmp_path)}
    with bolt("--timeout", "0.5", env=env) as server, httpx.Client(base_url=server.url) as c:
        started = time.monotonic()
        response = c.get("/api/hang", params={"seconds": 30})
        assert response.status_code == 504
        assert response.json() == {"detail": "No answer within 0.5 seconds"}
        assert time.monotonic() - started < 10
        wait_for(lambda: (tmp_path / "hang-cancelled").exists())
        wait_for(lambda: "cancelled after 0.5 seconds" in server.log)
        # Quick handlers are untouched, and so is one that answers within the limit.
        assert c.get("/api/hello").status_code == 200
        assert c.get("/api/hang", params={"seconds": 0.05}).json() == {"slept": 0.05}


def test_a_stuck_sync_handler_gets_504_and_its_thread_is_replaced(bolt):
    with bolt("--timeout", "0.5", "--threads", "1") as server:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert c.get("/django/plain/").status_code == 200  # Django's first page is slow
            response = c.get("/api/hang-sync", params={"seconds": 20})
            assert response.status_code == 504
            # The one thread is still asleep in the handler: a thread takes its place,
            # so sync routes and Django pages keep being served.
            wait_for(lambda: "is stuck; another thread takes its place" in server.log)
            assert c.get("/api/hang-sync", params={"seconds": 0}).json() == {"slept": 0.0}
            page = c.get("/django/plain/")
            assert page.status_code == 200


def test_a_slow_django_view_gets_an_html_504_for_a_browser(bolt):
    with bolt("--timeout", "0.3") as server:
        response = httpx.get(
            f"{server.url}/django/slow-stream/", headers={"Accept": BROWSER}, timeout=30
        )
        # A stream starts its answer at once: the timeout is about starting, not finishing.
        assert response.status_code == 200
        assert response.text == "part 0\npart 1\npart 2\n"


def test_a_slow_django_page_gets_504_as_html_for_a_browser_and_json_otherwise(bolt):
    with bolt("--timeout", "0.3") as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/django/slow/?seconds=2", headers={"Accept": BROWSER})
        assert page.status_code == 504
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "<h1>504 Gateway Timeout</h1>" in page.text
        assert "No answer within 0.3 seconds" in page.text
        other = client.get("/django/slow/?seconds=2")
        assert answer(other) == (504, {"detail": "No answer within 0.3 seconds"})


def test_max_pending_answers_503_at_once_beyond_the_limit(bolt):
    metrics_port = free_port()
    with bolt(
        "--max-pending", "2", "--timeout", "0", "--metrics-port", str(metrics_port)
    ) as server:
        results = []

        def slow():
            with httpx.Client(base_url=server.url, timeout=30) as c:
                results.append(c.get("/api/hang", params={"seconds": 4}).status_code)

        def in_flight():
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            return "\ndjango_bolt_requests_in_flight 2\n" in text

        holders = [threading.Thread(target=slow) for _ in range(2)]
        for t in holders:
            t.start()
        with httpx.Client(base_url=server.url, timeout=30) as c:
            # Both slow requests are in the server (so in Python): the next is refused.
            wait_for(in_flight)
            refused = c.get("/api/hello")
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "1"
            assert refused.json() == {"detail": "The server is busy; try again shortly"}
            page = c.get("/django/plain/", headers={"Accept": BROWSER})
            assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
            # What Rust answers alone never takes a place, so it is never refused.
            assert c.get("/secure/me").status_code == 401
            preflight = c.options(
                "/api/cors-demo",
                headers={
                    "Origin": "https://demo.example",
                    "Access-Control-Request-Method": "GET",
                },
            )
            assert preflight.status_code == 204
            # The bucket's four pass the gate and find Python full; the fifth is refused
            # by the gate itself.
            limited = [c.get("/api/limited").status_code for _ in range(5)]
            assert limited == [503, 503, 503, 503, 429]
            for t in holders:
                t.join()
            assert results == [200, 200]
            # Their places are given back.
            assert c.get("/api/hello").status_code == 200


def raw(port, head):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                header, _, body = data.partition(b"\r\n\r\n")
                length = int(header.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
        return data


def test_head_limits_like_gunicorns(bolt):
    with bolt(
        "--limit-request-line", "100",
        "--limit-request-field-size", "200",
        "--limit-request-fields", "10",
    ) as server:  # fmt: skip
        long_line = raw(
            server.port, b"GET /api/hello?q=" + b"x" * 100 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert long_line.startswith(b"HTTP/1.1 414")
        assert b"The request line is longer than 100 bytes" in long_line

        big_field = raw(
            server.port, b"GET /api/hello HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 200 + b"\r\n\r\n"
        )
        assert big_field.startswith(b"HTTP/1.1 431")
        assert b"The header field x-big is longer than 200 bytes" in big_field

        fields = b"".join(b"X-F%d: v\r\n" % i for i in range(10))
        many = raw(
            server.port,
            b"GET /django/plain/ HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n" + fields + b"\r\n",
        )
        assert many.startswith(b"HTTP/1.1 431")
        assert b"<title>431 Request Header Fields Too Large</title>" in many

        ok = raw(server.port, b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")


def test_default_head_limits_admit_ordinary_requests(bolt):
    with bolt() as server:
        # A long but legal query string and a 4 KB cookie pass the defaults.
        r = httpx.get(
            f"{server.url}/api/hello",
            params={"q": "x" * 3500},
            headers={"Cookie": "a=" + "c" * 4000},
        )
        assert r.status_code == 200
        too_long = httpx.get(f"{server.url}/api/hello", params={"q": "x" * 4100})
        assert too_long.status_code == 414


def test_a_head_that_does_not_arrive_in_time_gets_408(bolt):
    with bolt("--header-timeout", "0.5") as server:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n")  # and no blank line
            reply = s.recv(65536)
        assert reply.startswith(b"HTTP/1.1 408"), reply
        assert time.monotonic() - started < 5
        assert httpx.get(f"{server.url}/api/hello").status_code == 200


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_every_head_of_a_kept_alive_connection_must_arrive_in_time(bolt):
    """Not only the first: a later head that trickles in (a byte now and then, so the
    connection is never idle) gets 408 and the connection is closed, after the answers
    already owed; a head sent in pieces within the time is served."""
    with bolt("--header-timeout", "1") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n")
            first = b""
            while b"Hello, World!" not in first:
                first += s.recv(65536)
            s.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            stop = threading.Event()

            def trickle():
                while not stop.wait(0.2):
                    try:
                        s.sendall(b"X-Slow: y\r\n")
                    except OSError:
                        return

            sender = threading.Thread(target=trickle)
            sender.start()
            try:
                rest = _read_until_closed(s)
            finally:
                stop.set()
                sender.join()
            assert rest == (
                b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            assert time.monotonic() - started < 5
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            # Two requests pipelined, the second head split over three sends.
            s.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\nGET /api/items/7 HTTP/1.1\r\n")
            s.sendall(b"Host: x\r\n")
            s.sendall(b"Connection: close\r\n\r\n")
            both = _read_until_closed(s)
            assert both.count(b"HTTP/1.1 200 OK") == 2
            assert both.endswith(b'{"item_id":7,"q":null,"limit":10}')


@pytest.mark.parametrize("path", ["/api/items", "/django/upload/"])
def test_a_chunk_size_no_client_sends_is_refused_at_once(bolt, path):
    """A chunk declaring 2^64-1 bytes is refused before any of it is awaited (no body
    timeout), on API and Django paths, and the connection is closed."""
    with bolt() as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            started = time.monotonic()
            s.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
                + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n"
            )
            reply = _read_until_closed(s)
            assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n"), reply
            assert time.monotonic() - started < 5


def test_idle_keep_alive_is_bounded_and_header_timeout_0_waits(bolt):
    """--keep-alive bounds the idle time between requests; --header-timeout 0 lets a
    slow first head take longer than the 5 s default."""
    with bolt("--keep-alive", "1", "--header-timeout", "0") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while b"Hello, World!" not in answer:
                answer += s.recv(65536)
            idle_since = time.monotonic()
            assert s.recv(65536) == b""  # closed by the server, not by the 10 s timeout
            assert 0.5 < time.monotonic() - idle_since < 5
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
            s.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n")
            time.sleep(6)
            s.sendall(b"\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200")


def test_clients_that_do_not_read_a_stream_hold_no_python_thread(bolt):
    """Two clients that never read a Django stream, with two Python threads: while they
    stay connected every Django page and sync route is still served at once, because a
    stream waiting for its client parks instead of holding its thread."""
    with bolt("--threads", "2", "--timeout", "0") as server:
        stalled = []
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /django/stream/?n=2000000 HTTP/1.1\r\nHost: x\r\n\r\n")
            stalled.append(s)
        try:
            for s in stalled:  # both streams have started (and fill their buffers)
                s.settimeout(10)
                assert s.recv(16, socket.MSG_PEEK).startswith(b"HTTP/1.1 200")
            with httpx.Client(base_url=server.url, timeout=5) as client:
                for _ in range(10):
                    page = client.get("/django/plain/")
                    assert (page.status_code, page.text) == (200, "django view: GET /django/plain/")
                    assert client.get("/api/sync/3").status_code == 200
                # A third stream, read to its end, is served beside the two that wait.
                whole = client.get("/django/stream/?n=20000")
                assert whole.text == "".join(f"chunk {i}\n" for i in range(20000))
        finally:
            for s in stalled:
                s.close()
        # Their clients gone, the parked streams end; the site serves on.
        with httpx.Client(base_url=server.url, timeout=5) as client:
            assert client.get("/django/plain/").status_code == 200


def test_a_parked_stream_keeps_its_database_cursor_on_any_thread(bolt):
    """A Django stream reading rows through one open cursor, to a client that has not
    read yet. With a single Python thread, other pages are served meanwhile (so the
    stream is parked, not holding the thread), each closing the thread's old connections
    as Django does; then the stream resumes with its own connection and cursor, and
    every row arrives, in order."""
    count = 200_000  # about 20 MB: more than the socket buffers hold
    with bolt("--threads", "1", "--timeout", "0") as server:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        s.sendall(
            f"GET /django/numbers/?count={count}&pad=100 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert s.recv(16, socket.MSG_PEEK).startswith(b"HTTP/1.1 200")
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for _ in range(10):
                assert client.get("/django/plain/").status_code == 200
        received = bytearray()
        while not received.endswith(b"0\r\n\r\n"):
            chunk = s.recv(1 << 20)
            assert chunk, "the stream ended early"
            received += chunk
        s.close()
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    # Undo the chunked framing, then every number in order.
    parts, at = [], 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end], 16)
        if size == 0:
            break
        parts.append(body[end + 2 : end + 2 + size])
        at = end + 4 + size
    numbers = [int(line.split()[0]) for line in b"".join(parts).decode().splitlines()]
    assert numbers == list(range(1, count + 1))


def test_a_client_that_reads_nothing_is_dropped_after_the_send_timeout(bolt):
    # One Python thread; a big Django stream to a client that never reads pins it until
    # the send timeout, then the thread serves others again.
    with bolt("--threads", "1", "--send-timeout", "1", "--timeout", "0") as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /django/stream/?n=2000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            wait_for(lambda: "is abandoned" in server.log, timeout=30)
            with httpx.Client(base_url=server.url, timeout=10) as client:
                page = client.get("/django/plain/")
                assert page.status_code == 200
        finally:
            sock.close()
