"""``client.websocket_connect``: WebSocket routes tested in the test's process, with the
test's database, without a subprocess."""

import time

import pytest
from django.contrib.auth import get_user_model

from django_bolt import BoltAPI
from django_bolt.auth import IsAuthenticated, JWTAuthentication, encode_jwt
from django_bolt.testing import TestClient, WebSocketRejected
from django_bolt.websocket import WebSocket, WebSocketDisconnect

SECRET = "websocket-test-client-secret-long-enough-0123456789"
api = BoltAPI()


@api.websocket("/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    async for message in websocket.iter_text():
        if message == "bye":
            await websocket.close(4001, "asked to leave")
            return
        await websocket.send_text(f"echo: {message}")


@api.websocket("/bytes")
async def reverse(websocket: WebSocket):
    await websocket.accept()
    async for data in websocket.iter_bytes():
        await websocket.send_bytes(data[::-1])


@api.websocket("/rooms/{room}")
async def room(websocket: WebSocket, room: str, name: str = "anon"):
    await websocket.accept(subprotocol="chat.v1")
    await websocket.send_json({"room": room, "name": name})
    await websocket.close()


@api.websocket("/users")
async def users(websocket: WebSocket):
    await websocket.accept()
    names = [u.username async for u in get_user_model().objects.order_by("username")]
    await websocket.send_json(names)
    await websocket.close()


@api.websocket("/private", auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated])
async def private(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(websocket.context["sub"])
    await websocket.close()


@api.websocket("/surface/{n}")
async def surface(websocket, n: int):  # no annotation: found by its name
    await websocket.accept()
    first = await websocket.receive()
    await websocket.send_json(
        {
            "first": first,
            "n": [websocket.path_params, n],
            "q": dict(websocket.query_params),
            "header": websocket.headers.get("x-probe"),
            "client": websocket.client[0] if websocket.client else None,
        }
    )
    await websocket.send_json({"binary": True}, mode="binary")
    assert await websocket.receive_json(mode="binary") == {"from": "client"}
    # Returning without close() closes with 1000.


@api.websocket("/fails-early")
async def fails_early(websocket: WebSocket):
    raise RuntimeError("before accept")


@api.websocket("/fails-late")
async def fails_late(websocket: WebSocket):
    await websocket.accept()
    raise RuntimeError("after accept")


@pytest.fixture(scope="module")
def client():
    with TestClient(api, share_connections=False) as c:
        yield c


def test_text_binary_and_a_close_code(client):
    with client.websocket_connect("/echo") as ws:
        for text in ("hello", "héllo ✓", "x" * 70_000):
            ws.send_text(text)
            assert ws.receive_text() == f"echo: {text}"
        ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert (closed.value.code, closed.value.reason) == (4001, "asked to leave")
    with client.websocket_connect("/bytes") as ws:
        ws.send_bytes(b"\x00\x01\xff")
        assert ws.receive_bytes() == b"\xff\x01\x00"


def test_path_query_and_subprotocol(client):
    with client.websocket_connect("/rooms/lobby?name=ada", subprotocols=["chat.v1"]) as ws:
        assert ws.accepted_subprotocol == "chat.v1"
        assert ws.receive_json() == {"room": "lobby", "name": "ada"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
        assert closed.value.code == 1000


def test_refused_handshakes_and_authentication(client):
    with pytest.raises(WebSocketRejected) as refused:
        client.websocket_connect("/private")
    assert refused.value.status_code == 401
    assert refused.value.json() == {"detail": "Authentication credentials were not provided"}
    assert refused.value.headers["www-authenticate"] == 'Bearer realm="api"'
    with pytest.raises(WebSocketRejected) as missing:
        client.websocket_connect("/nowhere")
    assert (missing.value.status_code, missing.value.json()) == (
        404,
        {"detail": "No WebSocket route at this path"},
    )
    token = encode_jwt({"sub": "42", "exp": int(time.time()) + 60}, secret=SECRET)
    with client.websocket_connect("/private", headers={"Authorization": f"Bearer {token}"}) as ws:
        assert ws.receive_text() == "42"


@pytest.mark.django_db
def test_websocket_handlers_see_the_tests_data():
    get_user_model().objects.create_user("wanda")
    with TestClient(api) as client, client.websocket_connect("/users") as ws:
        assert ws.receive_json() == ["wanda"]


def test_browser_origins_default_to_allowed_hosts(settings):
    """A page from a host in ALLOWED_HOSTS may open a WebSocket; another site may not;
    a client that sends no Origin (not a browser) is not asked."""
    settings.ALLOWED_HOSTS = ["shop.example.com", ".example.org"]
    with TestClient(api, share_connections=False) as client:
        for origin in ("https://shop.example.com", "http://api.example.org"):
            with client.websocket_connect("/echo", headers={"Origin": origin}) as ws:
                ws.send_text("hi")
                assert ws.receive_text() == "echo: hi"
        for origin in ("https://evil.example.net", "https://shop.example.com.evil.net"):
            with pytest.raises(WebSocketRejected) as refused:
                client.websocket_connect("/echo", headers={"Origin": origin})
            assert refused.value.status_code == 403
        with client.websocket_connect("/echo") as ws:
            ws.send_text("no origin")
            assert ws.receive_text() == "echo: no origin"


@pytest.mark.parametrize(
    ("configured", "allowed", "refused"),
    [
        # The setting replaces ALLOWED_HOSTS; a pattern matches subdomains, not the domain.
        (
            ["https://app.example.com", "https://*.example.net"],
            ["https://app.example.com", "https://eu.example.net"],
            ["https://shop.example.com", "https://example.net", "http://eu.example.net"],
        ),
        # "*" is any origin; "null" (a sandboxed page, a file) only when listed.
        ("*", ["https://anything.example", "http://localhost:3000"], ["null"]),
        (["null"], ["null"], ["https://shop.example.com"]),
    ],
)
def test_ws_allowed_origins_setting(settings, configured, allowed, refused):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.BOLT = {"WS_ALLOWED_ORIGINS": configured}
    with TestClient(api, share_connections=False) as client:
        for origin in allowed:
            with client.websocket_connect("/echo", headers={"Origin": origin}) as ws:
                ws.send_text("hi")
                assert ws.receive_text() == "echo: hi"
        for origin in refused:
            with pytest.raises(WebSocketRejected) as no:
                client.websocket_connect("/echo", headers={"Origin": origin})
            assert (no.value.status_code, no.value.json()) == (
                403,
                {"detail": f"Origin {origin} may not open this WebSocket"},
            )


def test_under_debug_local_pages_may_connect_when_allowed_hosts_is_empty(settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = []
    settings.BOLT = {}
    with TestClient(api, share_connections=False) as client:
        for origin in ("http://localhost:3000", "http://127.0.0.1:8000", "http://[::1]:8000"):
            with client.websocket_connect("/echo", headers={"Origin": origin}) as ws:
                ws.send_text("hi")
                assert ws.receive_text() == "echo: hi"
        with pytest.raises(WebSocketRejected):
            client.websocket_connect("/echo", headers={"Origin": "https://shop.example.com"})


def test_the_websocket_surface_and_a_handler_that_returns(client):
    with client.websocket_connect("/surface/7?tag=a", headers={"X-Probe": "yes"}) as ws:
        ws.send_text("hello")
        assert ws.receive_json() == {
            "first": {"type": "websocket.receive", "text": "hello"},
            "n": [{"n": "7"}, 7],
            "q": {"tag": "a"},
            "header": "yes",
            "client": "127.0.0.1",
        }
        assert ws.receive_bytes() == b'{"binary":true}'
        ws.send_bytes(b'{"from":"client"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
        assert closed.value.code == 1000


def test_an_error_before_accept_is_a_500_after_it_a_1011(client, caplog):
    with pytest.raises(WebSocketRejected) as refused:
        client.websocket_connect("/fails-early")
    assert (refused.value.status_code, refused.value.json()) == (
        500,
        {"detail": "Internal Server Error"},
    )
    with client.websocket_connect("/fails-late") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
        assert closed.value.code == 1011
    assert "after accept" in caplog.text
