"""What docs/security.md promises about middleware that no other test checked:

- Django middleware around API routes (``django_middleware=``): ``process_view`` hooks
  run, ``MessageMiddleware`` works, the chain is built once, and under Django's own
  handler (runserver) ``django_middleware`` is not applied a second time;
- your own Python middleware: Rust still adds CORS and security headers to its answers,
  streams and files come back unread, ``request.user`` / ``request.context`` are known to
  it, and WebSocket routes take none;
- compression leaves range responses alone, and ``gzip_fallback=False`` turns the gzip
  fallback off.
"""

from pathlib import Path

import pytest
from django.contrib import messages
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from django_bolt import BoltAPI, Request, WebSocket
from django_bolt.auth import IsAuthenticated, JWTAuthentication, encode_jwt
from django_bolt.middleware import CompressionMiddleware, CORSMiddleware
from django_bolt.responses import FileResponse, PlainText, StreamingResponse
from django_bolt.testing import TestClient
from tests.conftest import answer

SECRET = "middleware-gaps-secret-long-enough-0123456789"
ORIGIN = "https://app.example"
#: The headers runbolt adds to API answers for the testproject's SecurityMiddleware and
#: XFrameOptionsMiddleware (their Django defaults).
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "x-frame-options": "DENY",
}
events: list[str] = []


# -- Django middleware around API routes --------------------------------------------------------


class ViewHook:
    """A Django middleware with a ``process_view`` hook: it records the hook's call and
    answers by itself when asked to (as Django lets ``process_view`` do)."""

    built = 0

    def __init__(self, get_response):
        type(self).built += 1
        self.get_response = get_response

    def __call__(self, request):
        events.append("call")
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        events.append(f"process_view {request.path}")
        if request.headers.get("x-stop-in-view"):
            return HttpResponse("stopped in process_view", status=409, content_type="text/plain")
        return None


class Counting:
    """Counts its passes per request path (listed in MIDDLEWARE by one test)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        events.append(f"counting {request.path}")
        response = self.get_response(request)
        response["X-Counting-Passes"] = str(events.count(f"counting {request.path}"))
        return response


hooked = BoltAPI(django_middleware=[ViewHook])


@hooked.get("/hooked/{item_id}")
async def hooked_item(item_id: int):
    events.append("handler")
    return {"item_id": item_id}


@hooked.get("/hooked-sync")
def hooked_sync():
    events.append("handler")
    return {"sync": True}


@pytest.fixture(autouse=True)
def clear_events():
    events.clear()


def test_process_view_hooks_run_around_api_routes():
    """security.md: "`process_view` hooks run"."""
    with TestClient(hooked) as client:
        assert answer(client.get("/hooked/4")) == (200, {"item_id": 4})
        assert events == ["call", "process_view /hooked/4", "handler"]
        events.clear()
        assert answer(client.get("/hooked-sync")) == (200, {"sync": True})
        assert events == ["call", "process_view /hooked-sync", "handler"]
        events.clear()
        stopped = client.get("/hooked/4", headers={"X-Stop-In-View": "1"})
        assert answer(stopped) == (409, b"stopped in process_view")
        assert events == ["call", "process_view /hooked/4"]  # the handler never ran


def test_the_django_middleware_chain_is_built_once():
    """security.md: "The chain is built once, each middleware adapted to the handler's
    mode": serving more requests builds nothing again."""
    with TestClient(hooked) as client:
        client.get("/hooked/1")
        client.get("/hooked-sync")
        built = ViewHook.built
        assert built >= 1
        for n in range(5):
            assert client.get(f"/hooked/{n}").json() == {"item_id": n}
            assert client.get("/hooked-sync").json() == {"sync": True}
        assert ViewHook.built == built


with_messages = BoltAPI(django_middleware=True)


@with_messages.post("/notes")
async def save_note(request: Request):
    messages.success(request.django_request, "Note saved")
    messages.warning(request.django_request, "Disk almost full")
    return {"saved": True}


@with_messages.get("/inbox")
def inbox(request: Request):
    shown = messages.get_messages(request.django_request)
    return {"messages": [(m.level_tag, str(m)) for m in shown]}


@pytest.mark.django_db(transaction=True)
def test_message_middleware_works_on_api_routes():
    """security.md: "Django's `SessionMiddleware`, `AuthenticationMiddleware`,
    `CsrfViewMiddleware`, `MessageMiddleware` and your own work as they do around a view"
    (a message added by one request is shown once, by the next)."""
    with TestClient(with_messages) as client:
        assert answer(client.post("/notes")) == (200, {"saved": True})
        assert answer(client.get("/inbox")) == (
            200,
            {"messages": [["success", "Note saved"], ["warning", "Disk almost full"]]},
        )
        assert answer(client.get("/inbox")) == (200, {"messages": []})


wrapped_twice = BoltAPI(django_middleware=True)


@wrapped_twice.get("/passes")
async def passes():
    return {"ok": True}


listed_twice = BoltAPI(django_middleware=[Counting])


@listed_twice.get("/listed-passes")
async def listed_passes():
    return {"ok": True}


urlpatterns = [path("", wrapped_twice.urls), path("", listed_twice.urls)]


@pytest.mark.django_db
def test_under_djangos_own_handler_django_middleware_is_not_applied_twice(settings):
    """security.md: "Under `runserver` the project's `MIDDLEWARE` already wraps the API
    view, so `django_middleware` is not applied a second time there"."""
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.Counting"]
    django = Client()
    for route in ("/passes", "/listed-passes"):
        r = django.get(route)
        assert (r.status_code, r.json()) == (200, {"ok": True})
        assert r["X-Counting-Passes"] == "1"
        assert events.count(f"counting {route}") == 1
    # Under runbolt (TestClient) the API's own list is what runs, once.
    settings.MIDDLEWARE = settings.MIDDLEWARE[:-1]
    events.clear()
    with TestClient(listed_twice) as client:
        r = client.get("/listed-passes")
        assert answer(r) == (200, {"ok": True})
        assert r.headers["x-counting-passes"] == "1"
        assert events == ["counting /listed-passes"]


# -- your own Python middleware ------------------------------------------------------------------


async def short_circuit(request, call_next):
    """Records each request it sees; answers by itself when asked, else passes on."""
    events.append(f"short_circuit {request.path}")
    if request.headers.get("x-maintenance"):
        return PlainText("down for maintenance", 503)
    return await call_next(request)


async def who(request, call_next):
    """What the middleware knows of the caller before the handler runs."""
    user = request.user
    events.append(f"user={getattr(user, 'id', None)} context={request.context.get('user_id')}")
    response = await call_next(request)
    response.headers["x-seen-user"] = str(getattr(user, "id", None))
    return response


PRODUCED: list[str] = []


async def watched_parts():
    PRODUCED.append("started")
    yield b"part one;"
    yield b"part two"


own = BoltAPI(middleware=[CORSMiddleware(allow_origins=[ORIGIN]), short_circuit])


@own.get("/plain")
async def plain():
    return {"plain": True}


@own.websocket("/ws")
async def ws_echo(websocket: WebSocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(f"echo {text}")


users = BoltAPI(auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated], middleware=[who])


@users.get("/whoami")
async def whoami(request: Request):
    return {"user_id": request.context["user_id"]}


@pytest.fixture(scope="module")
def own_client():
    with TestClient(own) as c:
        yield c


def test_rust_adds_cors_and_security_headers_to_the_middlewares_answers(own_client):
    """security.md: "Rust still adds CORS and security headers to its answer" (the
    handler's answer passed on, and one the middleware gives by itself)."""
    for headers, expected in (
        ({"Origin": ORIGIN}, (200, {"plain": True})),
        ({"Origin": ORIGIN, "X-Maintenance": "1"}, (503, b"down for maintenance")),
    ):
        r = own_client.get("/plain", headers=headers)
        assert answer(r) == expected
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert {k: r.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
    assert events == ["short_circuit /plain"] * 2  # both answers went through it


def test_streams_and_files_come_back_unread(own_client):
    """security.md: "Streams and files come back as they are, unread": the middleware gets
    the stream before any of it was produced, and the file as a file."""
    PRODUCED.clear()

    async def look(request, call_next):
        response = await call_next(request)
        events.append(f"{type(response).__name__} produced={len(PRODUCED)}")
        if isinstance(response, FileResponse):
            events.append(f"path={Path(response.path).name}")
        return response

    api = BoltAPI(middleware=[look])

    @api.get("/stream")
    async def looked_stream():
        return StreamingResponse(watched_parts(), media_type="text/plain")

    @api.get("/file")
    async def looked_file():
        return FileResponse(__file__, filename="source.py", content_type="text/x-python")

    with TestClient(api) as client:
        r = client.get("/stream")
        assert answer(r) == (200, b"part one;part two")
        assert events == ["StreamingResponse produced=0"]
        events.clear()
        r = client.get("/file")
        assert r.status_code == 200
        assert r.content == Path(__file__).read_bytes()
        assert r.headers["content-disposition"] == 'attachment; filename="source.py"'
        assert events == ["FileResponse produced=1", f"path={Path(__file__).name}"]


def test_the_middleware_knows_the_user_and_context():
    """security.md: the middleware runs after authentication and guards, "so
    `request.user` and `request.context` are known"."""
    with TestClient(users) as client:
        token = encode_jwt({"sub": "17", "exp": 4102444800}, secret=SECRET)
        r = client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        assert answer(r) == (200, {"user_id": "17"})
        assert r.headers["x-seen-user"] == "17"
        assert events == ["user=17 context=17"]


def test_websocket_routes_take_no_python_middleware(own_client):
    """security.md: "WebSocket routes take none" (the API's middleware is not run for a
    WebSocket, not even when it would answer by itself)."""
    with own_client.websocket_connect("/ws", headers={"X-Maintenance": "1"}) as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "echo hello"
    assert events == []


# -- compression ---------------------------------------------------------------------------------

BIG_TEXT = "".join(f"line {i:05d} of a compressible text file\n" for i in range(2000))


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    target = tmp_path_factory.mktemp("compression") / "report.txt"
    target.write_text(BIG_TEXT)
    return target


def test_range_responses_are_not_compressed(text_file):
    """security.md: "bodies under `minimum_size` bytes (500), non-text types, ranges and
    responses that already carry `Content-Encoding` are left alone"."""
    api = BoltAPI(middleware=[CompressionMiddleware()])

    @api.get("/report")
    async def report():
        return FileResponse(str(text_file), content_type="text/plain")

    raw = text_file.read_bytes()
    with TestClient(api) as client:
        part = client.get("/report", headers={"Accept-Encoding": "gzip", "Range": "bytes=100-5099"})
        assert part.status_code == 206
        assert "content-encoding" not in part.headers
        assert part.headers["content-range"] == f"bytes 100-5099/{len(raw)}"
        assert part.headers["content-length"] == "5000"
        assert part.content == raw[100:5100]


def test_gzip_fallback_false_turns_the_gzip_fallback_off():
    """security.md: "`backend` is `"gzip"`, `"brotli"` or `"zstd"`, negotiated from
    `Accept-Encoding` (with gzip as fallback unless `gzip_fallback=False`)"."""
    body = {"text": BIG_TEXT[:4000]}

    def site(**options):
        api = BoltAPI(middleware=[CompressionMiddleware(backend="brotli", **options)])

        @api.get("/doc")
        async def doc():
            return body

        return api

    gzip_only = {"Accept-Encoding": "gzip"}
    with TestClient(site()) as client:
        r = client.get("/doc", headers=gzip_only)
        assert (r.headers.get("content-encoding"), r.json()) == ("gzip", body)
        r = client.get("/doc", headers={"Accept-Encoding": "br, gzip"})
        assert (r.headers.get("content-encoding"), r.json()) == ("br", body)
    with TestClient(site(gzip_fallback=False)) as client:
        r = client.get("/doc", headers=gzip_only)
        assert (r.headers.get("content-encoding"), r.json()) == (None, body)
        r = client.get("/doc", headers={"Accept-Encoding": "br, gzip"})
        assert (r.headers.get("content-encoding"), r.json()) == ("br", body)
