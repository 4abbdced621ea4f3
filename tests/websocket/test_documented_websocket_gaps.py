"""WebSocket behaviours docs/websockets.md states that no other test covered, through a real
runbolt:

- a client that reads nothing while the server has something to send is closed with
  1011 after ``WS_PING_TIMEOUT`` seconds;
- ``WS_MAX_CONNECTIONS_PER_CLIENT`` counts, behind a trusted proxy, the forwarded client
  address (and the peer's own address when the peer is not trusted);
- with Django's plain ``get_asgi_application()`` as ``ASGI_APPLICATION``, WebSocket
  requests to paths no route owns go to Django's URL resolver; HTTP requests never go
  through the project's ASGI application;
- without Redis, ``group_send_sync`` from another process (a management command)
  reaches nobody.

The servers run a small site package written under ``tmp_path`` (``site_env``): the
testproject's settings and URLs, plus the routes and ASGI applications these tests need."""

import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import DJANGO_404, MANAGE_PY, ROOT, django_error_page, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SITE_URLS = '''
"""The testproject's URLs plus the routes of test_documented_websocket_gaps."""

from django.urls import path

from django_bolt import BoltAPI
from django_bolt.websocket import WebSocket, WebSocketDisconnect
from testproject.urls import urlpatterns as project_patterns

gaps = BoltAPI(openapi_url=None)
SEEN = {}  # connection key -> what its handler saw


@gaps.websocket("/ws/flood/{key}")
async def flood(websocket: WebSocket, key: str):
    """Sends 16 KiB messages until the connection ends; records how it ended."""
    await websocket.accept()
    SEEN[key] = {"sent": 0}
    block = b"f" * 16384
    try:
        while True:
            await websocket.send_bytes(block)
            SEEN[key]["sent"] += 1
    except WebSocketDisconnect as exc:
        SEEN[key]["send_raised"] = exc.code
    message = await websocket.receive()
    SEEN[key]["disconnect"] = message.get("code")


@gaps.get("/seen/{key}")
async def seen(key: str):
    return SEEN.get(key, {})


urlpatterns = [path("gaps/", gaps.urls), *project_patterns]
'''

#: An ASGI application that takes WebSockets and would answer HTTP itself, if asked.
SPY_ASGI = '''
"""Answers HTTP with 418 and WebSockets with one message naming itself."""


async def application(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"from the ASGI application"})
        return
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "asgi websocket at " + scope["path"]})
    await send({"type": "websocket.close", "code": 1000})
'''

PLAIN_ASGI = """
from django.core.asgi import get_asgi_application

application = get_asgi_application()
"""


@pytest.fixture(scope="module")
def site_env(tmp_path_factory):
    """The environment that makes runbolt (or manage.py) serve the site package ``wsgaps``;
    ``asgi`` picks its ASGI_APPLICATION from the environment."""
    folder = tmp_path_factory.mktemp("ws_gaps_site")
    package = folder / "wsgaps"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "urls.py").write_text(SITE_URLS.lstrip())
    (package / "spy_asgi.py").write_text(SPY_ASGI.lstrip())
    (package / "plain_asgi.py").write_text(PLAIN_ASGI.lstrip())
    (package / "settings.py").write_text(
        'from testproject.settings import *  # noqa: F403\n\nROOT_URLCONF = "wsgaps.urls"\n'
    )
    return {
        "DJANGO_SETTINGS_MODULE": "wsgaps.settings",
        "PYTHONPATH": f"{folder}:{ROOT / 'testproject'}",
    }


def handshake(port, path, headers=(), receive_buffer=None):
    """A raw WebSocket handshake: (socket, status code, rest of what was read)."""
    sock = socket.socket()
    if receive_buffer:  # before connecting, so the window stays that small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{extra}\r\n".encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return sock, int(head.split(b" ", 2)[1]), rest


# -- a client that reads nothing while the server sends --------------------------------------


def frames_until_closed(sock, data):
    """Every frame (opcode, payload) the server sent, read until it closed the socket."""
    frames = []
    while True:
        while len(data) >= 2:
            length, at = data[1] & 0x7F, 2
            if length == 126 and len(data) >= 4:
                length, at = struct.unpack("!H", data[2:4])[0], 4
            elif length == 127 and len(data) >= 10:
                length, at = struct.unpack("!Q", data[2:10])[0], 10
            elif length >= 126:
                break
            if len(data) < at + length:
                break
            frames.append((data[0] & 0x0F, data[at : at + length]))
            data = data[at + length :]
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return frames
        data += chunk


@pytest.fixture(scope="module")
def stall_server(bolt, site_env):
    """Pings stay at their 20 s interval; a stalled client gets a one-second timeout."""
    with bolt(env={**site_env, "BOLT_WS_PING_TIMEOUT": "1"}) as server:
        yield server


def flood_a_client_that_reads_nothing(server):
    """A flooding handler's connection to a client with a small receive window that
    reads nothing until its handler has seen the end: (what the handler saw, the frames
    the client then finds, the seconds it took)."""
    key = uuid.uuid4().hex[:8]
    sock, status, rest = handshake(server.port, f"/gaps/ws/flood/{key}", receive_buffer=4096)
    try:
        assert status == 101
        started = time.monotonic()
        seen_url = f"{server.url}/gaps/seen/{key}"
        seen = wait_for(lambda: (s := httpx.get(seen_url).json()).get("disconnect") and s)
        elapsed = time.monotonic() - started
        return seen, frames_until_closed(sock, rest), elapsed
    finally:
        sock.close()


def test_a_client_that_reads_nothing_while_the_server_sends_is_dropped_with_1011(
    stall_server,
):
    """websockets.md: "A client that reads nothing for `WS_PING_TIMEOUT` seconds while the
    server has something to send is dropped: the handler sees the close as 1011, and the
    connection is cut." The handler sends without end to a
    client that reads nothing (and is not silent long enough for a keep-alive ping: the
    interval stays at 20 s); with a ping timeout of one second the handler learns that
    the connection closed with 1011 (its pending send raises), and the server closes the
    socket: the client, reading at last, finds the messages that fitted, then the end."""
    seen, frames, elapsed = flood_a_client_that_reads_nothing(stall_server)
    assert 1.0 <= elapsed < 15
    assert seen["disconnect"] == 1011, seen
    assert "send_raised" in seen and seen["sent"] > 0, seen
    data = [payload for opcode, payload in frames if opcode == 0x2]
    assert len(data) >= 1 and all(payload == b"f" * 16384 for payload in data)


# -- the per-client limit behind a proxy ---------------------------------------------------


def open_when_allowed(port, headers):
    """A connection opened once the server lets this client have one more (each refused
    attempt closed)."""

    def attempt():
        sock, status, _ = handshake(port, "/api/ws/echo", headers)
        if status == 101:
            return sock
        sock.close()
        return None

    return wait_for(attempt)


def test_the_per_client_limit_counts_the_forwarded_address_of_a_trusted_proxy(bolt, site_env):
    """websockets.md: "`BOLT["WS_MAX_CONNECTIONS_PER_CLIENT"]` [...] holds one client
    address (as the rate limits see it, behind a trusted proxy the forwarded one) to that
    many open connections; further handshakes from it get 429 with `Retry-After`." The
    local host is a trusted proxy by default: clients it forwards are counted apart."""
    env = {**site_env, "BOLT_WS_MAX_PER_CLIENT": "1"}
    held = []
    with bolt(env=env) as server:
        try:
            for forwarded, expected in (
                ("198.51.100.1", 101),
                ("198.51.100.2", 101),
                ("198.51.100.1", 429),
                ("198.51.100.2", 429),
                (None, 101),  # the proxy's own address is a client of its own
                ("198.51.100.3", 101),
            ):
                headers = [("X-Forwarded-For", forwarded)] if forwarded else []
                sock, status, _ = handshake(server.port, "/api/ws/echo", headers)
                held.append(sock)
                assert status == expected, (forwarded, status)
            # The forwarded client whose connection closes may open another.
            held.pop(0).close()
            held.append(open_when_allowed(server.port, [("X-Forwarded-For", "198.51.100.1")]))
        finally:
            for sock in held:
                sock.close()


def test_the_per_client_limit_ignores_forwarded_addresses_from_an_untrusted_peer(bolt, site_env):
    env = {**site_env, "BOLT_WS_MAX_PER_CLIENT": "1"}
    held = []
    with bolt("--forwarded-allow-ips", "10.0.0.1", env=env) as server:
        try:
            first, a, _ = handshake(server.port, "/api/ws/echo", [("X-Forwarded-For", "1.2.3.4")])
            held.append(first)
            second, b, _ = handshake(server.port, "/api/ws/echo", [("X-Forwarded-For", "5.6.7.8")])
            held.append(second)
            assert (a, b) == (101, 429)
        finally:
            for sock in held:
                sock.close()


# -- the project's ASGI application --------------------------------------------------------


def test_djangos_plain_asgi_application_counts_as_none_for_websockets(bolt, site_env):
    """websockets.md: "Django's plain `get_asgi_application()` (which answers HTTP only)
    counts as no such application: a handshake no route owns is then refused with
    `404`." Refused at once, for a Django view's path as for an unknown one."""
    env = {**site_env, "BOLT_ASGI_APPLICATION": "wsgaps.plain_asgi.application"}
    with bolt(env=env) as server:
        for path in ("/django/plain/", "/django/nowhere/"):
            with pytest.raises(InvalidStatus) as refused:
                connect(f"ws://127.0.0.1:{server.port}{path}", open_timeout=10)
            response = refused.value.response
            assert (response.status_code, response.body) == (
                404,
                b'{"detail":"No WebSocket route at this path"}',
            )


def test_http_requests_never_go_through_the_projects_asgi_application(bolt, site_env):
    """websockets.md: "HTTP requests keep going to Django through `runbolt`'s own path,
    not through the ASGI application." The project's ASGI application answers HTTP with
    418 and takes WebSockets: WebSockets to paths no route owns reach it, while HTTP to
    Django's pages (and to paths Django does not know) is answered by Django."""
    env = {**site_env, "BOLT_ASGI_APPLICATION": "wsgaps.spy_asgi.application"}
    with bolt(env=env) as server, httpx.Client(base_url=server.url) as client:
        with connect(f"ws://127.0.0.1:{server.port}/somewhere/", open_timeout=10) as ws:
            assert ws.recv(timeout=10) == "asgi websocket at /somewhere/"
        page = client.get("/django/plain/")
        assert (page.status_code, page.text) == (200, "django view: GET /django/plain/")
        missing = client.get("/somewhere/")
        assert (missing.status_code, missing.content) == (404, django_error_page(*DJANGO_404))
        posted = client.post("/django/upload/", data={"field": "value"})
        assert posted.json() == {"files": {}, "fields": {"field": "value"}}
        assert client.get("/api/hello").json() == {"message": "Hello, World!"}


# -- group_send_sync from another process without Redis -------------------------------------


def test_without_redis_group_send_sync_from_a_management_command_reaches_nobody(
    bolt, site_env, e2e_db
):
    """websockets.md: "Without `BOLT_REDIS_URL`, groups live in the process: [...] only
    connections of the same process are reached, and `group_send_sync` from another
    process (a management command) reaches nobody." The testproject's ``announce``
    command calls ``api.group_send_sync``: it completes without an error, and the room's
    member receives nothing from it; the next message the member receives is one sent
    afterwards by the server's own process."""
    room = uuid.uuid4().hex[:8]
    env = {**site_env, "BOLT_REDIS_URL": ""}
    with bolt(env=env) as server:
        with connect(f"ws://127.0.0.1:{server.port}/api/ws/chat/{room}", open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["event"] == "ready"
            command = subprocess.run(
                [sys.executable, str(MANAGE_PY), "announce", room, "from the command"],
                env={**os.environ, **env, "BOLT_SQLITE_PATH": str(e2e_db)},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert command.returncode == 0, command.stderr
            assert command.stdout.strip() == f"sent to chat.{room}"
            said = httpx.post(
                f"{server.url}/api/ws/announce/{room}", params={"text": "from the server"}
            )
            assert said.json() == {"sent": True}
            assert json.loads(ws.recv(timeout=10)) == {"announcement": "from the server"}
