"""WebSocket behaviours docs/websockets.md (and runbolt.md's settings table) states that no
other test covered, through a real runbolt: bytes sent to a group arrive as binary
frames (in the process and through Redis), Redis group subscriptions restored after the
connection to Redis is lost, a member that stops reading not holding up the others, the
ASGI ``websocket.http.response`` extension (a custom denial of the handshake), the
64-message queue that makes ``send_*`` wait for a slow reader, ``WS_PING_INTERVAL = 0``
turning pings off, and the open-file limit raised to the hard limit at start."""

import base64
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from django_bolt.testing.process import BoltProcess, free_port
from tests.conftest import MANAGE_PY, ROOT, requires, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REDIS_URL = os.environ.get("REDIS_URL")
needs_redis = requires("Redis (REDIS_URL)", REDIS_URL)

# -- a site with the routes these tests need, beside the testproject's ---------------------

SITE_API = '''
"""WebSocket routes for tests/websocket/test_documented_websockets.py."""

import asyncio
import os

from django_bolt import BoltAPI
from django_bolt.websocket import GroupError, WebSocket

api = BoltAPI()
SENT = {}


@api.websocket("/ws/member/{group}")
async def member(websocket: WebSocket, group: str):
    """Joins the group; what the client sends goes to the group as it came, text or bytes."""
    await websocket.accept()
    await websocket.group_add(group)
    await websocket.send_json({"joined": group, "pid": os.getpid()})
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        await api.group_send(group, data if data is not None else message["text"])


@api.post("/groups/{group}")
async def say(group: str, text: str):
    try:
        await api.group_send(group, text)
    except GroupError as exc:
        return {"error": str(exc)}
    return {"sent": text}


@api.websocket("/ws/flood/{key}")
async def flood(websocket: WebSocket, key: str, count: int, size: int):
    """``count`` binary messages of ``size`` bytes (message i is i's four bytes repeated);
    SENT[key] counts the sends that have returned."""
    await websocket.accept()
    SENT[key] = 0
    for i in range(count):
        await websocket.send_bytes(i.to_bytes(4, "big") * (size // 4))
        SENT[key] = i + 1
    await websocket.close()


@api.get("/flood/{key}")
async def flood_sent(key: str):
    return {"sent": SENT.get(key)}


@api.websocket("/ws/quiet")
async def quiet(websocket: WebSocket, seconds: float):
    """Says nothing for ``seconds``, then one message."""
    await websocket.accept()
    await asyncio.sleep(seconds)
    await websocket.send_text(f"after {seconds:g} quiet seconds")
    await websocket.close()
'''

SITE_ASGI = '''
"""An ASGI application for WebSockets no route owns: /denied/ is refused with a response
of its own (the websocket.http.response extension); other paths are accepted and told
the extensions their scope offered."""

import json


async def application(scope, receive, send):
    assert scope["type"] == "websocket", scope["type"]
    assert (await receive())["type"] == "websocket.connect"
    if scope["path"] == "/denied/" and "websocket.http.response" in scope["extensions"]:
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"www-authenticate", b'Bearer realm="notes"'),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"sign in ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"first"})
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps(sorted(scope["extensions"]))})
    await send({"type": "websocket.close", "code": 1000})
'''

SITE_URLS = """
from django.urls import path

from testproject.urls import urlpatterns as project_patterns
from documented_api import api

urlpatterns = [path("doc/", api.urls), *project_patterns]
"""

SITE_SETTINGS = """
from testproject.settings import *  # noqa: F403

ROOT_URLCONF = "documented_urls"
ASGI_APPLICATION = "documented_asgi.application"
"""


@pytest.fixture(scope="module")
def site_env(tmp_path_factory):
    """The environment that makes runbolt serve the testproject plus the routes above."""
    folder = tmp_path_factory.mktemp("documented_site")
    for name, text in (
        ("documented_api.py", SITE_API),
        ("documented_asgi.py", SITE_ASGI),
        ("documented_urls.py", SITE_URLS),
        ("documented_settings.py", SITE_SETTINGS),
    ):
        (folder / name).write_text(text.lstrip())
    return {
        "DJANGO_SETTINGS_MODULE": "documented_settings",
        "PYTHONPATH": f"{folder}:{ROOT / 'testproject'}",
    }


@pytest.fixture(scope="module")
def server(bolt, site_env):
    with bolt(env=site_env) as srv:
        yield srv


@pytest.fixture
def redis_env():
    prefix = f"bolt-test-{uuid.uuid4().hex[:8]}:"
    return {"BOLT_REDIS_URL": REDIS_URL, "BOLT_REDIS_PREFIX": prefix}


def ws_url(server, path):
    return f"ws://127.0.0.1:{server.port}{path}"


def join(server, group):
    """A member of ``group`` (a websockets client) once the server says it joined."""
    ws = connect(ws_url(server, f"/doc/ws/member/{group}")).__enter__()
    joined = json.loads(ws.recv(timeout=10))
    assert joined["joined"] == group
    ws.pid = joined["pid"]
    return ws


def members_on_both_workers(server, group, tries=60):
    members = []
    for _ in range(tries):
        members.append(join(server, group))
        if len({m.pid for m in members}) == 2:
            return members
    pytest.fail("new connections never reached the second worker")


class RawClient:
    """A WebSocket client on a bare socket: it reads only when told to (a slow reader)."""

    def __init__(self, port, path, receive_buffer=None):
        self.sock = socket.socket()
        if receive_buffer:  # before connecting, so the window stays that small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def fill(self):
        chunk = self.sock.recv(1 << 20)
        assert chunk, "the server closed the connection"
        self.buffer += chunk

    def take(self, n):
        while len(self.buffer) < n:
            self.fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def frame(self):
        """(opcode, payload) of the next frame from the server (never masked)."""
        first, second = self.take(2)
        assert not second & 0x80, "a server frame was masked"
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self.take(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self.take(8))[0]
        return first & 0x0F, self.take(length)

    def close(self):
        self.sock.close()


TEXT, BINARY, CLOSE, PING = 0x1, 0x2, 0x8, 0x9


def close_code(payload):
    return struct.unpack("!H", payload[:2])[0]


# -- groups: bytes are binary frames --------------------------------------------------------


def assert_binary_and_text_reach_every_member(members):
    payload = bytes(range(256)) + b"\x00 not text \xff"
    members[0].send(payload)
    for ws in members:
        received = ws.recv(timeout=10)
        assert isinstance(received, bytes), received  # a binary frame
        assert received == payload
    members[-1].send("text stays text")
    for ws in members:
        assert ws.recv(timeout=10) == "text stays text"


def test_bytes_sent_to_a_group_reach_members_as_binary_frames(server):
    """websockets.md: "`message` is a `str` (sent as text), `bytes` (binary) or anything
    msgspec can encode (sent as JSON text)." """
    group = f"bin-{uuid.uuid4().hex[:8]}"
    with join(server, group) as a, join(server, group) as b:
        assert_binary_and_text_reach_every_member([a, b])


@needs_redis
def test_bytes_sent_to_a_group_through_redis_reach_members_as_binary_frames(
    bolt, site_env, redis_env
):
    group = f"bin-{uuid.uuid4().hex[:8]}"
    with bolt("--processes", "2", env={**site_env, **redis_env}) as srv:
        members = members_on_both_workers(srv, group)
        try:
            assert_binary_and_text_reach_every_member(members)
        finally:
            for ws in members:
                ws.close()


# -- groups: subscriptions restored after Redis was lost ------------------------------------


def redis_client_ports(pid, redis_port):
    """Local ports of ``pid``'s TCP connections to Redis (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if inode in inodes and int(remote.split(":")[1], 16) == redis_port:
            ports.add(int(local.split(":")[1], 16))
    return ports


@needs_redis
def test_group_subscriptions_are_restored_after_the_redis_connection_is_lost(bolt, redis_env):
    """websockets.md: "while Redis is unreachable `group_send` raises
    `django_bolt.websocket.GroupError`, and the subscriptions are restored when it comes
    back." The Redis connections of both workers' subscriptions are killed (Redis's
    CLIENT KILL, as when Redis restarts or a network path drops); members on both
    processes keep receiving the group's messages."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    redis_port = client.connection_pool.connection_kwargs.get("port", 6379)
    room = uuid.uuid4().hex[:8]
    channel = f"{redis_env['BOLT_REDIS_PREFIX']}ws:chat.{room}"
    base = None
    with bolt("--processes", "2", env=redis_env) as srv:
        base = f"http://127.0.0.1:{srv.port}/api/ws"
        members = []
        try:
            while len({m.pid for m in members}) < 2:
                assert len(members) < 60, "new connections never reached the second worker"
                ws = connect(f"ws://127.0.0.1:{srv.port}/api/ws/chat/{room}").__enter__()
                ready = json.loads(ws.recv(timeout=10))
                assert ready["event"] == "ready"
                ws.pid = ready["pid"]
                members.append(ws)
            assert client.pubsub_numsub(channel) == [(channel.encode(), 2)]
            ports = set().union(
                *(redis_client_ports(pid, redis_port) for pid in {m.pid for m in members})
            )
            subscribed = [
                c
                for c in client.client_list()
                if int(c["addr"].rsplit(":", 1)[1]) in ports and int(c["sub"]) > 0
            ]
            assert len(subscribed) == 2, subscribed  # one per worker
            for c in subscribed:
                assert client.client_kill_filter(_id=c["id"]) == 1
            lost = {c["id"] for c in subscribed}
            assert not lost & {c["id"] for c in client.client_list()}
            # Each worker subscribes again on a connection of its own.
            wait_for(lambda: client.pubsub_numsub(channel) == [(channel.encode(), 2)], timeout=30)
            r = httpx.post(f"{base}/announce/{room}", params={"text": "after the loss"})
            assert (r.status_code, r.json()) == (200, {"sent": True})
            for ws in members:
                assert json.loads(ws.recv(timeout=10)) == {"announcement": "after the loss"}
            # And a member's own message reaches the members of both processes.
            sender = members[0]
            sender.send("still one room")
            expected = {"name": "anon", "text": "still one room", "pid": sender.pid}
            for ws in members:
                assert json.loads(ws.recv(timeout=10)) == expected
        finally:
            for ws in members:
                ws.close()


# -- groups: a slow member does not hold up the others --------------------------------------


def test_a_member_that_stops_reading_does_not_hold_up_the_others(server):
    """websockets.md: "a member that lets it fill is closed with 1008 rather than buffered
    without bound or silently skipped. The sender never waits for the slowest member."
    One member stops reading; the other sends 1,600 messages of 16 KiB to the group one
    after another (each sent once the previous came back), more than the stopped member's
    queue of 1,024 and its sockets hold: every one comes back to it, in order, and the
    stopped member is closed with 1008 after a gapless run of the first ones."""
    group = f"slow-{uuid.uuid4().hex[:8]}"
    stopped = RawClient(server.port, f"/doc/ws/member/{group}", receive_buffer=4096)
    try:
        opcode, joined = stopped.frame()
        assert (opcode, json.loads(joined)["joined"]) == (TEXT, group)
        # From here on, nothing is read from `stopped` until the others are done.
        messages = [f"{n:05d} " + "x" * (16 * 1024 - 6) for n in range(1600)]
        with join(server, group) as reader:
            for text in messages:
                reader.send(text)
                assert reader.recv(timeout=10) == text
        # What the stopped member got: a prefix of the messages, whole and in order,
        # then the close.
        got = []
        while True:
            opcode, payload = stopped.frame()
            if opcode != TEXT:
                break
            got.append(payload.decode())
        assert opcode == CLOSE
        assert close_code(payload) == 1008
        # No gap (nothing silently skipped) and not all of them: the rest was dropped
        # with the connection.
        assert got == messages[: len(got)]
        assert len(got) < len(messages)
    finally:
        stopped.close()


# -- the ASGI application's denial response ---------------------------------------------


def test_an_asgi_application_can_deny_the_handshake_with_its_own_http_response(server):
    """websockets.md: "A consumer that closes before accepting refuses the handshake with
    403, as the ASGI specification says; the `websocket.http.response` extension (a custom
    denial response) is supported." """
    with pytest.raises(InvalidStatus) as denied:
        connect(ws_url(server, "/denied/"), open_timeout=10)
    response = denied.value.response
    assert response.status_code == 401
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["www-authenticate"] == 'Bearer realm="notes"'
    assert response.body == b"sign in first"  # both pieces of the body, in order
    # The scope offers the extension, which is how an application knows it may deny so.
    with connect(ws_url(server, "/accepted/"), open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10)) == ["websocket.http.response"]


# -- back-pressure: 64 messages waiting ----------------------------------------------------


def test_send_waits_once_64_messages_wait_for_a_client_that_does_not_read(server):
    """websockets.md: "Outgoing messages go through a queue per connection: when the
    handler has 64 messages waiting, `send_*` waits until the client has read, so a slow
    reader cannot make the server buffer without bound."

    A `send_*` that finds room returns without yielding to the event loop, so whenever
    another request of the process runs, the flooding handler is waiting for room: its
    count is then the 64 queued plus what has left the queue, which for a client that
    reads nothing is bounded by the frame writer (one frame in hand, a channel of 32 and
    a batch of up to 32 being written) and what the two sockets hold. Without the 64 the
    handler would run through all its messages at once (the connection's queue holds
    1,024)."""
    key = uuid.uuid4().hex[:8]
    count, size = 300, 256 * 1024
    sent_url = f"http://127.0.0.1:{server.port}/doc/flood/{key}"
    client = RawClient(server.port, f"/doc/ws/flood/{key}?count={count}&size={size}", 16384)
    try:
        with httpx.Client() as http:
            # The 64 are queued without the client reading anything.
            wait_for(lambda: (http.get(sent_url).json()["sent"] or 0) >= 64)
            max_send_buffer = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
            receive_buffer = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            in_sockets = -(-(max_send_buffer + receive_buffer) // size) + 1
            bound = 64 + 1 + 32 + 32 + in_sockets
            assert bound < count
            progress = [http.get(sent_url).json()["sent"] for _ in range(30)]
            assert all(64 <= n <= bound for n in progress), (progress, bound)
            # Once the client reads, every message arrives whole, in order, then the close.
            for i in range(count):
                opcode, payload = client.frame()
                assert opcode == BINARY
                assert payload == i.to_bytes(4, "big") * (size // 4), i
            opcode, payload = client.frame()
            assert (opcode, close_code(payload)) == (CLOSE, 1000)
            assert http.get(sent_url).json() == {"sent": count}
    finally:
        client.close()


# -- keep-alive pings off ----------------------------------------------------------------


@pytest.mark.timeout(90)
def test_a_ping_interval_of_0_sends_no_pings(bolt, site_env):
    """websockets.md: "after `BOLT["WS_PING_INTERVAL"]` seconds (20; 0 turns it off)
    without anything from the client the server sends a ping". A client that says nothing
    for longer than the default interval (21 s against 20) gets no ping, and is not closed
    for failing to answer one (the ping timeout is half a second here): the first frame it
    receives is the handler's message."""
    env = {**site_env, "BOLT_WS_PING_INTERVAL": "0", "BOLT_WS_PING_TIMEOUT": "0.5"}
    with bolt(env=env) as srv:
        client = RawClient(srv.port, "/doc/ws/quiet?seconds=21")
        try:
            assert client.frame() == (TEXT, b"after 21 quiet seconds")
            opcode, payload = client.frame()
            assert (opcode, close_code(payload)) == (CLOSE, 1000)
        finally:
            client.close()


# -- the open-file limit ---------------------------------------------------------------------


def open_file_limits(pid):
    """(soft, hard) "Max open files" of a process, from /proc/<pid>/limits."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no open-file limit for {pid}")


@pytest.mark.parametrize("processes", ["1", "2"])
def test_runbolt_raises_the_open_file_limit_to_the_hard_limit(e2e_db, processes):
    """websockets.md: "`runbolt` raises the process's open-file limit to its hard limit at
    start-up; each connection takes one file descriptor, and the limit is lowered so that
    WebSockets never take more than four fifths of them (at least 256 stay [...]; the log
    says so when it lowers it)". Started with a soft limit of 1,024, every serving
    process runs with the hard limit, and the WebSocket limit is computed from it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 1024:
        pytest.skip(f"the hard open-file limit ({hard}) leaves nothing to raise")
    port = free_port()

    def low_soft_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

    proc = subprocess.Popen(
        [sys.executable, "-u", str(MANAGE_PY), "runbolt", "--port", str(port)]
        + ["--processes", processes],
        env={**os.environ, "BOLT_SQLITE_PATH": str(e2e_db)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=low_soft_limit,
        start_new_session=True,
    )
    server = BoltProcess(proc, "127.0.0.1", port)
    try:
        server.wait_ready()
        serving = [proc.pid]
        if processes == "2":
            path = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
            serving = wait_for(lambda: len(c := path.read_text().split()) == 2 and c)
        for pid in serving:
            assert open_file_limits(pid) == (hard, hard), pid
        room = hard - max(256, hard // 5)
        if room < 20_000:  # the default WS_MAX_CONNECTIONS is lowered, and the log says so
            line = f"WebSocket connections: at most {room} per process"
            wait_for(lambda: server.log.count(line) == int(processes))
        assert httpx.get(f"{server.url}/api/hello").json() == {"message": "Hello, World!"}
    finally:
        assert server.stop() == 0
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)  # ours untouched
