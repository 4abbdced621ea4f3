"""Python middleware of your own: ``BoltAPI(middleware=[...])`` and ``@middleware(...)``,
around sync and async handlers, after the Rust-side gates, seeing every answer."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_bolt import BoltAPI, Request
from django_bolt.auth import IsAuthenticated, JWTAuthentication, encode_jwt
from django_bolt.exceptions import Forbidden, NotFound
from django_bolt.middleware import CORSMiddleware, middleware, rate_limit
from django_bolt.responses import JSON, PlainText, StreamingResponse
from django_bolt.testing import TestClient

SECRET = "middleware-test-secret-long-enough-0123456789"
ORIGIN = "https://app.example.com"
seen: list[str] = []


class Trace:
    """Records the order and tags every answer, errors included."""

    async def __call__(self, request, call_next):
        seen.append(f"trace:{request.path}")
        response = await call_next(request)
        response.headers["x-trace"] = f"{response.status_code}"
        return response


class Gatekeeper:
    def __init__(self, header="x-block"):
        self.header = header

    async def __call__(self, request, call_next):
        if request.headers.get(self.header):
            return PlainText("blocked by middleware", 418)
        if request.headers.get("x-forbid"):
            raise Forbidden(detail="middleware says no")
        return await call_next(request)


async def audit(request, call_next):
    seen.append("audit")
    response = await call_next(request)
    response.set_cookie("audited", "yes")
    return response


async def inner(request, call_next):
    seen.append("inner")
    return await call_next(request)


api = BoltAPI(middleware=[CORSMiddleware(allow_origins=[ORIGIN]), Trace, Gatekeeper()])


@api.get("/hello")
async def hello():
    return {"hello": "world"}


@api.get("/sync")
def sync_handler(request: Request):
    return {"thread_sees": request.path}


@api.get("/missing")
async def missing():
    raise NotFound(detail="no such thing")


@api.get("/boom")
def boom():
    raise RuntimeError("handler failed")


@api.get("/audited")
@middleware(audit, inner)
async def audited():
    seen.append("handler")
    return {"ok": True}


@api.get("/private", auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated])
async def private(request: Request):
    return {"user": request.context["sub"]}


@api.get("/python-mw-limited")
@rate_limit(rps=1, burst=1)
async def limited():
    return {"ok": True}


@api.get("/stream")
async def stream():
    return StreamingResponse(iter([b"a", b"b"]), media_type="text/plain")


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


@pytest.fixture(autouse=True)
def clear_seen():
    seen.clear()


def test_api_middleware_wraps_async_and_sync_handlers(client):
    r = client.get("/hello")
    assert (r.status_code, r.json(), r.headers["x-trace"]) == (200, {"hello": "world"}, "200")
    # The Rust-side CORS headers are still added around the Python middleware's answer.
    r = client.get("/sync", headers={"Origin": ORIGIN})
    assert r.json() == {"thread_sees": "/sync"}
    assert r.headers["x-trace"] == "200"
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert seen == ["trace:/hello", "trace:/sync"]


def test_middleware_sees_error_answers(client):
    r = client.get("/missing")
    assert (r.status_code, r.json(), r.headers["x-trace"]) == (
        404,
        {"detail": "no such thing"},
        "404",
    )
    r = client.get("/boom")
    assert (r.status_code, r.headers["x-trace"]) == (500, "500")
    assert r.json() == {"detail": "Internal Server Error"}


def test_middleware_may_answer_or_refuse_without_the_handler(client):
    r = client.get("/hello", headers={"x-block": "1"})
    assert (r.status_code, r.text) == (418, "blocked by middleware")
    assert r.headers["x-trace"] == "418"
    r = client.get("/hello", headers={"x-forbid": "1"})
    assert (r.status_code, r.json()) == (403, {"detail": "middleware says no"})


def test_route_middleware_runs_inside_the_apis_in_order(client):
    r = client.get("/audited")
    assert r.json() == {"ok": True}
    assert r.cookies["audited"] == "yes"
    assert seen == ["trace:/audited", "audit", "inner", "handler"]


def test_rust_gates_answer_before_python_middleware(client):
    r = client.get("/private")
    assert r.status_code == 401
    assert "x-trace" not in r.headers and seen == []
    token = encode_jwt({"sub": "9", "exp": 4102444800}, secret=SECRET)
    r = client.get("/private", headers={"Authorization": f"Bearer {token}"})
    assert (r.json(), r.headers["x-trace"]) == ({"user": "9"}, "200")
    assert client.get("/python-mw-limited").status_code == 200
    r = client.get("/python-mw-limited")
    assert r.status_code == 429 and "x-trace" not in r.headers


def test_streams_pass_through_unread(client):
    r = client.get("/stream")
    assert (r.status_code, r.text, r.headers["x-trace"]) == (200, "ab", "200")


def test_bad_middleware_is_refused_when_declared():
    class Sync:
        def __call__(self, request, call_next):
            return call_next(request)

    with pytest.raises(TypeError, match="async callable"):
        middleware(Sync)
    with pytest.raises(TypeError, match=r"\(request, call_next\)"):

        async def one_argument(request):
            return None

        middleware(one_argument)
    bad = BoltAPI(middleware=[lambda request, call_next: None])

    @bad.get("/x")
    async def x():
        return {}

    with pytest.raises(ImproperlyConfigured, match="async callable"):
        TestClient(bad).__enter__()


def test_a_middleware_may_return_what_a_handler_returns():
    async def wrap(request, call_next):
        response = await call_next(request)
        return JSON({"wrapped": response.status_code}, 201)

    plain = BoltAPI(middleware=[wrap])

    @plain.get("/x")
    async def x():
        return {"x": 1}

    with TestClient(plain) as c:
        r = c.get("/x")
        assert (r.status_code, r.json()) == (201, {"wrapped": 200})
