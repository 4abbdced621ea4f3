"""What docs/testing.md promises and the other testing tests leave open: the client side of
a ``websocket_connect`` session (``send_json``, ``receive()`` giving ``str`` or ``bytes``,
``ping(data)``, ``close(code, reason)`` as the handler sees it), ``force_authenticate``
applying to HTTP requests only, and ``run_bolt(..., test_database=True)`` outside the
``bolt_server`` fixture, in a project's own test suite."""

import json
import subprocess
import sys
import textwrap
import time

import pytest
from django.contrib.auth import get_user_model

from django_bolt import BoltAPI, Request
from django_bolt.auth import IsAuthenticated, JWTAuthentication, encode_jwt
from django_bolt.testing import TestClient, WebSocketRejected
from django_bolt.websocket import WebSocket
from tests.conftest import answer, user_env, wait_for
from tests.testing.test_documented_testing import PROJECT_API

SECRET = "documented-testing-gaps-secret-0123456789abcdef"

api = BoltAPI()

#: (code, reason) of each close the /mirror handler received from its client.
CLOSES: list[tuple[int, str]] = []


@api.websocket("/mirror")
async def mirror(websocket: WebSocket):
    """Says what it received: the kind of frame and its content."""
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            CLOSES.append((message["code"], message["reason"]))
            return
        if "text" in message:
            await websocket.send_json({"kind": "text", "text": message["text"]})
            await websocket.send_text(message["text"].upper())
        else:
            await websocket.send_json({"kind": "bytes", "size": len(message["bytes"])})
            await websocket.send_bytes(message["bytes"][::-1])


secured = BoltAPI(auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated])


@secured.get("/me")
async def me(request: Request):
    return {"user_id": request.context["user_id"]}


@secured.websocket("/ws/me")
async def ws_me(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_json({"sub": websocket.context["sub"]})
    await websocket.close()


@pytest.fixture(scope="module")
def client():
    with TestClient(api, share_connections=False) as c:
        yield c


def test_send_json_sends_a_text_frame_and_receive_gives_str_or_bytes(client):
    """docs/testing.md: "`send_json`/`receive_json` (JSON in text frames), `receive()` (a
    `str` or `bytes`)"."""
    value = {"name": "Zoë", "tags": ["a", "b"], "n": 3, "ok": None}
    with client.websocket_connect("/mirror") as ws:
        ws.send_json(value)
        assert ws.receive_json() == {"kind": "text", "text": json.dumps(value)}
        upper = ws.receive()
        assert type(upper) is str and upper == json.dumps(value).upper()
        ws.send_bytes(b"\x00\x01\x02\xff")
        said = ws.receive()
        assert type(said) is str and json.loads(said) == {"kind": "bytes", "size": 4}
        back = ws.receive()
        assert type(back) is bytes and back == b"\xff\x02\x01\x00"


def read_frame(sock, timeout=10.0) -> tuple[int, bytes]:
    """One unmasked frame from the server, read from the socket itself."""
    sock.settimeout(timeout)
    data = b""
    while len(data) < 2 or len(data) < 2 + (data[1] & 0x7F):
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection"
        data += chunk
    assert not data[1] & 0x80 and (data[1] & 0x7F) < 126
    return data[0], data[2 : 2 + (data[1] & 0x7F)]


def test_ping_sends_a_ping_the_server_answers_with_the_same_data(client):
    """docs/testing.md: the session has "`ping(data)`"."""
    with client.websocket_connect("/mirror") as ws:
        ws.send_text("before")
        assert ws.receive_json() == {"kind": "text", "text": "before"}
        assert ws.receive_text() == "BEFORE"
        assert ws._buffer == b""  # nothing of the server's left unread
        ws.ping(b"are you there")
        assert read_frame(ws.sock) == (0x8A, b"are you there")  # FIN + pong, same data
        ws.ping()
        assert read_frame(ws.sock) == (0x8A, b"")
        # The connection goes on.
        ws.send_text("after")
        assert ws.receive_json() == {"kind": "text", "text": "after"}


def test_close_sends_the_code_and_reason_the_handler_receives(client):
    """docs/testing.md: the session has "`close(code, reason)`"."""
    ws = client.websocket_connect("/mirror")
    ws.send_text("hi")
    assert ws.receive_json() == {"kind": "text", "text": "hi"}
    # (Connections of earlier tests may report their own closes meanwhile.)
    assert (4321, "done for today") not in CLOSES
    ws.close(4321, "done for today")
    wait_for(lambda: (4321, "done for today") in CLOSES, timeout=10)
    assert ws.sock.fileno() == -1  # the socket is closed too


@pytest.mark.django_db
def test_force_authenticate_applies_to_http_requests_only():
    """docs/testing.md: "`force_authenticate` applies to HTTP requests only: authenticate
    a WebSocket with `headers=` (a token) or the query string."."""
    ann = get_user_model().objects.create_user("ann-ws")
    with TestClient(secured) as client:
        client.force_authenticate(ann)
        assert answer(client.get("/me")) == (200, {"user_id": str(ann.pk)})
        with pytest.raises(WebSocketRejected) as refused:
            client.websocket_connect("/ws/me")
        assert refused.value.status_code == 401
        assert refused.value.json() == {"detail": "Authentication credentials were not provided"}
        token = encode_jwt({"sub": str(ann.pk), "exp": int(time.time()) + 60}, secret=SECRET)
        with client.websocket_connect("/ws/me", headers={"Authorization": f"Bearer {token}"}) as ws:
            assert ws.receive_json() == {"sub": str(ann.pk)}


PROJECT_TESTS = """
import httpx
import pytest

from django_bolt.testing import run_bolt


@pytest.mark.django_db(transaction=True)
def test_run_bolt_serves_the_test_database():
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ann")
    with run_bolt("--processes", "2", manage_py="manage.py", test_database=True) as server:
        for _ in range(4):  # new connections: both processes answer
            assert httpx.get(server.url + "/api/users").json() == ["ann"]
    assert server.proc.returncode == 0
"""


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_run_bolt_with_test_database_serves_the_test_database_outside_the_fixture(tmp_path):
    """docs/testing.md: "`run_bolt(..., test_database=True)` does the same outside the
    fixture" (the server uses the test databases, never the development ones)."""
    env = user_env()

    def run(*args, cwd):
        return subprocess.run(
            [sys.executable, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=200,
        )

    made = run("-m", "django_bolt", "init", "shop", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "shop"
    (root / "shop" / "api.py").write_text(PROJECT_API)
    settings = root / "shop" / "settings.py"
    settings.write_text(
        settings.read_text()
        + textwrap.dedent(
            """
            DATABASES["default"]["TEST"] = {"NAME": BASE_DIR / "test_db.sqlite3"}
            """
        )
    )
    (root / "tests" / "test_api.py").write_text(PROJECT_TESTS)
    done = run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
    # The development database was never created, let alone written.
    assert not (root / "db.sqlite3").exists()
