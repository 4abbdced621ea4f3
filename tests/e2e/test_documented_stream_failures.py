"""docs/routing.md on a ``StreamingResponse`` whose producer fails after its first item,
over a real socket: "a failure later is logged and breaks the connection, so the client
cannot take the truncated body for a complete one".

For an async generator, a sync iterator returned by a sync handler, and a sync iterator
returned by an async handler (read on a thread of its own), a real ``runbolt`` must end
the connection without the chunked body's terminating ``0\\r\\n\\r\\n``: after the status
and the first item, or before any answer when the failure came before the first item went
out. httpx must see an incomplete answer, the failure must be logged, and the server must
go on serving. The routes live in a probe site written under ``tmp_path``."""

import socket
import time

import httpx
import pytest

from tests.conftest import wait_for
from tests.e2e.test_documented_runbolt import site_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

#: The probe site: the testproject's URLs plus streams that fail after their first item.
STREAM_URLS = """
from django.urls import path

from django_bolt import BoltAPI
from django_bolt.responses import StreamingResponse
from testproject.urls import urlpatterns as project_patterns

streams = BoltAPI(openapi_url=None)


def sync_parts(name):
    yield f"{name}: first part;".encode()
    raise RuntimeError(f"{name} source went away")


@streams.get("/async-gen")
async def async_gen():
    async def parts():
        yield b"async-gen: first part;"
        raise RuntimeError("async-gen source went away")

    return StreamingResponse(parts(), media_type="text/plain")


@streams.get("/sync-handler")
def sync_handler():
    return StreamingResponse(sync_parts("sync-handler"), media_type="text/plain")


@streams.get("/sync-iter-from-async")
async def sync_iter_from_async():
    return StreamingResponse(sync_parts("sync-iter-from-async"), media_type="text/plain")


@streams.get("/complete")
async def complete():
    async def parts():
        yield b"whole;"
        yield b"body"

    return StreamingResponse(parts(), media_type="text/plain")


urlpatterns = [path("streams/", streams.urls), *project_patterns]
"""

ROUTES = ["async-gen", "sync-handler", "sync-iter-from-async"]


@pytest.fixture(scope="module")
def server(bolt, tmp_path_factory):
    env = site_env(tmp_path_factory.mktemp("streams"), urls=STREAM_URLS)
    with bolt(env=env) as running:
        yield running


def raw_exchange(server, target: str) -> bytes:
    """Everything the server sends for one HTTP/1.1 GET, up to the connection's end (the
    server closing it or resetting it) or a chunked body's last chunk; a bounded wait,
    never a hang."""
    received = b""
    deadline = time.monotonic() + 30
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode())
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                return received
            if not data:
                return received
            received += data
            if received.endswith(b"\r\n0\r\n\r\n"):
                return received  # a body ended as if complete (the test says so)
    raise AssertionError(f"the connection stayed open after the failure: {received!r}")


def chunked_payload(body: bytes) -> bytes:
    """The data of the complete chunks in a chunked body (stopping at an incomplete one)."""
    payload = b""
    while b"\r\n" in body:
        size_line, rest = body.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if size == 0 or len(rest) < size + 2:
            break
        payload += rest[:size]
        body = rest[size + 2 :]
    return payload


def test_a_complete_stream_ends_with_the_last_chunk(server):
    """The comparison: a stream that does not fail ends with ``0\\r\\n\\r\\n`` and the
    connection stays open for the next request."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(b"GET /streams/complete HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while not received.endswith(b"0\r\n\r\n"):
            data = sock.recv(65536)
            assert data, f"closed before the end of the body: {received!r}"
            received += data
    head, body = received.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in head.lower()
    assert chunked_payload(body) == b"whole;body"


@pytest.mark.parametrize("route", ROUTES)
def test_a_stream_failing_after_its_first_item_breaks_the_connection(server, route):
    """routing.md: "a failure later is logged and breaks the connection, so the client
    cannot take the truncated body for a complete one"."""
    received = raw_exchange(server, f"/streams/{route}")
    first_item = f"{route}: first part;".encode()
    # Either the connection ends before any answer (the first item was still on its way
    # when the failure came), or the answer's head and what had been sent of the body
    # arrive, and the body never gets its terminating zero-size chunk.
    if received:
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), received
        assert b"transfer-encoding: chunked" in head.lower(), head
        assert first_item.startswith(chunked_payload(body)), body
        assert not body.endswith(b"0\r\n\r\n"), f"a complete body was sent: {body!r}"
    # The failure is logged, with its message.
    wait_for(lambda: f"{route} source went away" in server.log, timeout=20)
    # A client library reports the body as incomplete, not as a complete answer.
    with httpx.Client(base_url=server.url, timeout=30) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"/streams/{route}")
        # The server goes on serving.
        assert client.get("/api/hello").json() == {"message": "Hello, World!"}
