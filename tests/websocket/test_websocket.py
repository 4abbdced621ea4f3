"""WebSocket routes through a real runbolt, with the ``websockets`` client."""

import base64
import json
import os
import socket
import struct
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(e2e_db, tmp_path_factory):
    from django_bolt.testing import run_bolt
    from tests.conftest import MANAGE_PY

    markers = tmp_path_factory.mktemp("ws-markers")
    env = {"BOLT_SQLITE_PATH": str(e2e_db), "BOLT_TEST_MARKER_DIR": str(markers)}
    with run_bolt(manage_py=str(MANAGE_PY), env=env) as proc:
        proc.markers = markers
        yield proc


def url(server, path):
    return f"ws://127.0.0.1:{server.port}{path}"


def test_echo_text_json_and_binary(server):
    with connect(url(server, "/api/ws/echo")) as ws:
        for text in ("hello", "héllo ✓", ""):
            ws.send(text)
            assert ws.recv(timeout=5) == f"Echo: {text}"
    with connect(url(server, "/api/ws/json")) as ws:
        ws.send(json.dumps({"a": [1, 2]}))
        assert json.loads(ws.recv(timeout=5)) == {"got": {"a": [1, 2]}}
    with connect(url(server, "/api/ws/bytes")) as ws:
        ws.send(b"\x00\x01\x02\xff")
        assert ws.recv(timeout=5) == b"\xff\x02\x01\x00"


def test_many_messages_in_order(server):
    with connect(url(server, "/api/ws/echo")) as ws:
        for i in range(500):
            ws.send(str(i))
        assert [ws.recv(timeout=5) for _ in range(500)] == [f"Echo: {i}" for i in range(500)]


def test_path_query_cookie_subprotocol_and_close_code(server):
    with connect(
        url(server, "/api/ws/rooms/lobby?name=ada"),
        subprotocols=["chat.v1"],
        additional_headers={"Cookie": "c=cookie-value"},
    ) as ws:
        assert ws.subprotocol == "chat.v1"
        assert ws.response.headers["x-room"] == "lobby"
        assert json.loads(ws.recv(timeout=5)) == {
            "room": "lobby",
            "name": "ada",
            "cookie": "cookie-value",
        }
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4000
    assert closed.value.rcvd.reason == "done"


def test_close_before_accept_reaches_the_client_as_a_close_code(server):
    with connect(url(server, "/api/ws/guarded")) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4001
    assert closed.value.rcvd.reason == "unauthorised"
    with connect(url(server, "/api/ws/guarded?token=let-me-in")) as ws:
        assert ws.recv(timeout=5) == "welcome"


def test_client_close_code_reaches_the_handler(server):
    marker = server.markers / "ws-close"
    with connect(url(server, "/api/ws/record-close")) as ws:
        ws.send("hi")
        ws.close(code=4002, reason="bye")
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "4002"


def test_oversized_message_closes_with_1009(server):
    with connect(url(server, "/api/ws/echo"), max_size=None) as ws:
        ws.send("x" * (1024 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 1009


def raw_handshake(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def masked_frame(opcode, payload):
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


def read_close_code(sock):
    data = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) >= 4 and data[0] & 0x0F == 0x8:
            return struct.unpack("!H", data[2:4])[0]
    raise AssertionError(f"no close frame in {data!r}")


def test_invalid_utf8_closes_with_1007(server):
    sock = raw_handshake(server.port, "/api/ws/echo")
    sock.sendall(masked_frame(0x1, b"\xff\xfe\xfd"))
    assert read_close_code(sock) == 1007
    sock.close()


def test_protocol_error_closes_with_1002(server):
    sock = raw_handshake(server.port, "/api/ws/echo")
    # An unmasked frame from a client is a protocol error (RFC 6455 5.1).
    sock.sendall(bytes([0x81, 0x02]) + b"hi")
    assert read_close_code(sock) == 1002
    sock.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_frame_declaring_too_much_is_refused_on_its_header(server):
    sock = raw_handshake(server.port, "/api/ws/echo")
    before = rss_kib(server.proc.pid)
    # A binary frame declaring 100 MiB: its header alone is enough to refuse it, and the
    # payload that follows is never buffered.
    header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 100 * 1024 * 1024) + os.urandom(4)
    sock.sendall(header)
    try:
        for _ in range(64):
            sock.sendall(b"x" * 65536)  # 4 MiB of it, while the server may still read
    except OSError:
        pass  # the server has closed: what was sent was not read
    assert read_close_code(sock) == 1009
    sock.close()
    assert rss_kib(server.proc.pid) - before < 16 * 1024


def test_a_fragmented_message_over_the_limit_closes_with_1009(server):
    sock = raw_handshake(server.port, "/api/ws/echo")
    mask = os.urandom(4)

    def fragment(opcode, fin, size):
        return bytes([(0x80 if fin else 0) | opcode, 0x80 | 127]) + struct.pack("!Q", size) + mask

    # Two fragments of 600 KiB each: each is under the 1 MiB limit, the message is not.
    sock.sendall(fragment(0x2, False, 600 * 1024) + b"\0" * (600 * 1024))
    sock.sendall(fragment(0x0, True, 600 * 1024))
    assert read_close_code(sock) == 1009
    sock.close()


def test_rsv_bits_without_an_extension_close_with_1002(server):
    sock = raw_handshake(server.port, "/api/ws/echo")
    frame = bytearray(masked_frame(0x1, b"hi"))
    frame[0] |= 0x40  # RSV1: no extension was negotiated
    sock.sendall(bytes(frame))
    assert read_close_code(sock) == 1002
    sock.close()


def test_plain_http_on_a_websocket_path_is_not_upgraded(server):
    import httpx

    r = httpx.get(f"http://127.0.0.1:{server.port}/api/ws/echo")
    assert (r.status_code, r.headers["upgrade"]) == (426, "websocket")
    assert r.json() == {"detail": "This path takes WebSocket connections"}


def test_authentication_at_the_handshake(server):
    from websockets.exceptions import InvalidStatus

    from django_bolt.auth import encode_jwt

    secret = "testproject-jwt-secret-0123456789abcdef"
    token = encode_jwt({"sub": "9", "exp": int(time.time()) + 60}, secret=secret)
    with pytest.raises(InvalidStatus) as refused:
        connect(url(server, "/secure/ws"))
    assert refused.value.response.status_code == 401
    with connect(url(server, f"/secure/ws?token={token}")) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"user_id": "9"}
    with connect(
        url(server, "/secure/ws"), additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"user_id": "9"}
    with connect(url(server, "/secure/ws"), additional_headers={"Cookie": f"access={token}"}) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"user_id": "9"}
    expired = encode_jwt({"sub": "9", "exp": int(time.time()) - 60}, secret=secret)
    with pytest.raises(InvalidStatus) as refused:
        connect(url(server, f"/secure/ws?token={expired}"))
    assert refused.value.response.status_code == 401


def test_handler_errors_before_and_after_accept(server):
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        connect(url(server, "/api/ws/fail?when=before"))
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body) == {"detail": "not for you"}
    with connect(url(server, "/api/ws/fail?when=after")) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 1011


def test_typed_path_parameters(server):
    from websockets.exceptions import InvalidStatus

    with connect(url(server, "/api/ws/typed/21")) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"n": 42}
    with pytest.raises(InvalidStatus) as refused:
        connect(url(server, "/api/ws/typed/abc"))
    assert refused.value.response.status_code == 422


@pytest.fixture(scope="module")
def tight_server(e2e_db):
    from django_bolt.testing import run_bolt
    from tests.conftest import MANAGE_PY

    env = {
        "BOLT_SQLITE_PATH": str(e2e_db),
        "BOLT_WS_MAX_MESSAGE": "1000",
        "BOLT_WS_PING_INTERVAL": "0.3",
        # Long enough for a client thread on a loaded machine to answer a ping.
        "BOLT_WS_PING_TIMEOUT": "2",
    }
    with run_bolt(manage_py=str(MANAGE_PY), env=env) as proc:
        yield proc


def read_frames(sock, until_opcode, timeout=15.0):
    """Frames (opcode, payload) from the server until one with ``until_opcode``."""
    frames, data = [], b""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while len(data) >= 2:
            length = data[1] & 0x7F
            if len(data) < 2 + length:
                break
            frames.append((data[0] & 0x0F, data[2 : 2 + length]))
            data = data[2 + length :]
            if frames[-1][0] == until_opcode:
                return frames
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return frames


def test_silent_client_is_pinged_then_closed(tight_server):
    sock = raw_handshake(tight_server.port, "/api/ws/echo")
    started = time.monotonic()
    frames = read_frames(sock, 0x8)
    sock.close()
    opcodes = [op for op, _ in frames]
    assert opcodes[0] == 0x9  # ping
    assert opcodes[-1] == 0x8
    assert struct.unpack("!H", frames[-1][1][:2])[0] == 1011
    # Closed once the ping went unanswered for the timeout, not before.
    assert time.monotonic() - started >= 2


def test_responsive_client_stays_connected(tight_server):
    with connect(url(tight_server, "/api/ws/echo")) as ws:  # answers pings itself
        time.sleep(3)  # past interval + timeout: a silent client would be gone
        ws.send("still here")
        assert ws.recv(timeout=5) == "Echo: still here"


def test_configured_message_limit(tight_server):
    with connect(url(tight_server, "/api/ws/echo")) as ws:
        ws.send("x" * 1000)
        assert ws.recv(timeout=5) == "Echo: " + "x" * 1000
        ws.send("x" * 1001)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 1009


def test_a_client_ping_is_answered_and_its_close_frame_echoed(server):
    """websockets.md: pings from the client get a pong with the same data; a close frame
    from the client is answered with a close frame carrying its code."""
    sock = raw_handshake(server.port, "/api/ws/echo")
    sock.sendall(masked_frame(0x9, b"hi"))
    frames = read_frames(sock, 0xA, timeout=5)
    assert frames[-1] == (0xA, b"hi")
    sock.sendall(masked_frame(0x8, struct.pack("!H", 4002)))
    assert read_close_code(sock) == 4002
    sock.close()


def test_an_unknown_opcode_closes_with_1002(server):
    sock = raw_handshake(server.port, "/api/ws/echo")
    sock.sendall(masked_frame(0x3, b"reserved"))
    assert read_close_code(sock) == 1002
    sock.close()
