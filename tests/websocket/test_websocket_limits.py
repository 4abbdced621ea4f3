"""WebSocket connections cannot use up a process: their limit stays within the file
descriptor limit with room for HTTP, and one client address can be held to a few."""

import base64
import os
import resource
import socket
import subprocess
import sys

import httpx
import pytest

from django_bolt.conf import websocket_limit
from django_bolt.testing.process import BoltProcess, free_port
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_the_limit_keeps_a_fifth_of_the_descriptors():
    assert websocket_limit(20_000, descriptors=20_000) == 16_000
    assert websocket_limit(10_000, descriptors=1_048_576) == 10_000
    assert websocket_limit(0, descriptors=1_048_576) == 1_048_576 - 209_715
    assert websocket_limit(20_000, descriptors=400) == 144  # at least 256 kept


def start(e2e_db, nofile=None, env=None):
    from tests.conftest import MANAGE_PY

    port = free_port()

    def limit_descriptors():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen(
        [sys.executable, "-u", str(MANAGE_PY), "runbolt", "--port", str(port)],
        env={**os.environ, "BOLT_SQLITE_PATH": str(e2e_db), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=limit_descriptors,
    )
    server = BoltProcess(proc, "127.0.0.1", port)
    server.wait_ready()
    return server


def handshake(port, path="/api/ws/echo", heads=None):
    """A raw handshake; the socket and the status line's code (the head is appended to
    ``heads`` when given)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    if heads is not None:
        heads.append(head.split(b"\r\n\r\n")[0].decode("latin-1").lower())
    return sock, int(head.split(b" ", 2)[1])


def test_websockets_stop_short_of_the_descriptor_limit(e2e_db):
    server = start(e2e_db, nofile=400)
    held = []
    try:
        wait_for(lambda: "at most 144 per process" in server.log)
        while True:
            sock, status = handshake(server.port)
            if status != 101:
                break
            held.append(sock)
            assert len(held) <= 144
        assert (len(held), status) == (144, 503)
        sock.close()
        # HTTP is still served at the WebSocket limit.
        with httpx.Client(base_url=server.url) as client:
            assert all(client.get("/api/hello").status_code == 200 for _ in range(20))
        # A connection that leaves makes room for one more.
        held.pop().close()
        for _ in range(50):
            sock, status = handshake(server.port)
            if status == 101:
                held.append(sock)
                break
            sock.close()
        assert status == 101
    finally:
        for sock in held:
            sock.close()
        assert server.stop() == 0


def test_one_address_can_be_held_to_a_few_connections(e2e_db):
    server = start(e2e_db, env={"BOLT_WS_MAX_PER_CLIENT": "2"})
    try:
        first, a = handshake(server.port)
        second, b = handshake(server.port)
        heads = []
        third, c = handshake(server.port, heads=heads)
        assert (a, b, c) == (101, 101, 429)
        assert "\r\nretry-after: " in heads[0], heads[0]
        third.close()
        first.close()
        for _ in range(50):
            again, status = handshake(server.port)
            if status == 101:
                break
            again.close()
        assert status == 101
        again.close()
        second.close()
    finally:
        assert server.stop() == 0
