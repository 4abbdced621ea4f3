"""CORS, rate limiting and compression, run in Rust."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_bolt import BoltAPI
from django_bolt.middleware import (
    CompressionMiddleware,
    CORSMiddleware,
    RateLimitMiddleware,
    cors,
    rate_limit,
    skip_middleware,
)
from django_bolt.responses import StreamingResponse
from django_bolt.testing import TestClient
from tests.conftest import wait_for

ORIGIN = "https://app.example.com"

api = BoltAPI(
    middleware=[
        CORSMiddleware(
            allow_origins=[ORIGIN, "https://*.trusted.dev"],
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Total"],
            allow_credentials=True,
            max_age=900,
        ),
        CompressionMiddleware(minimum_size=200),
    ]
)

BIG = {"items": [{"id": i, "name": f"item number {i}"} for i in range(100)]}


@api.get("/data")
async def data():
    return BIG


@api.post("/data")
async def post_data():
    return {"created": True}


@api.get("/small")
async def small():
    return {"ok": True}


@api.get("/public")
@cors(origins=["*"])
async def public():
    return {"message": "Public endpoint with CORS"}


@api.get("/no-cors")
@skip_middleware("cors", "compression")
async def no_cors():
    return BIG


@api.get("/events")
async def events():
    async def gen():
        for i in range(3):
            yield f"data: {'x' * 300} {i}\n\n"

    return StreamingResponse(gen(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


def preflight(client, path, origin=ORIGIN, method="POST", headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=h)


def test_preflight_answered_in_rust(client):
    before = client.handed_over
    r = preflight(client, "/data", headers="authorization, content-type")
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-allow-methods"] == "GET, POST"
    assert r.headers["access-control-max-age"] == "900"
    assert "origin" in r.headers["vary"].lower()
    assert client.handed_over == before


def test_preflight_refusals(client):
    assert preflight(client, "/data", origin="https://evil.com").status_code == 403
    assert (
        "access-control-allow-origin"
        not in preflight(client, "/data", origin="https://evil.com").headers
    )
    assert preflight(client, "/data", method="DELETE").json() == {
        "detail": "CORS method not allowed"
    }
    r = preflight(client, "/data", headers="x-secret")
    assert r.status_code == 403 and "x-secret" in r.json()["detail"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com.evil.com",
        "https://evilapp.example.com",
        "http://app.example.com",
        "https://app.example.com:444",
        "null",
        "https://trusted.dev",
        "https://x.trusted.dev.evil.io",
    ],
)
def test_lookalike_origins_get_no_grant(client, origin):
    r = client.get("/data", headers={"Origin": origin})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    assert preflight(client, "/data", origin=origin).status_code == 403


def test_actual_request_headers(client):
    r = client.get("/small", headers={"Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-expose-headers"] == "X-Total"
    assert r.headers["access-control-allow-credentials"] == "true"
    r = client.get("/small", headers={"Origin": "https://api.trusted.dev"})
    assert r.headers["access-control-allow-origin"] == "https://api.trusted.dev"
    assert "access-control-allow-origin" not in client.get("/small").headers


def test_route_cors_and_skip(client):
    r = client.get("/public", headers={"Origin": "https://anyone.io"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    assert preflight(client, "/public", origin="https://anyone.io", method="GET").status_code == 204
    r = client.get("/no-cors", headers={"Origin": ORIGIN, "Accept-Encoding": "gzip"})
    assert "access-control-allow-origin" not in r.headers
    assert "content-encoding" not in r.headers


def test_wildcard_with_credentials_refused():
    with pytest.raises(ImproperlyConfigured, match="allow_credentials"):
        bad = BoltAPI(middleware=[CORSMiddleware(allow_origins=["*"], allow_credentials=True)])

        @bad.get("/x")
        async def x():
            return {}

        TestClient(bad)


def test_null_origin_when_listed():
    sandbox = BoltAPI(middleware_config={"cors": {"origins": ["null"], "methods": ["GET"]}})

    @sandbox.get("/x")
    async def x():
        return {}

    with TestClient(sandbox) as client:
        assert (
            client.get("/x", headers={"Origin": "null"}).headers["access-control-allow-origin"]
            == "null"
        )
        assert preflight(client, "/x", origin="null", method="GET").status_code == 204


def test_bolt_cors_setting(settings):
    settings.BOLT_CORS = {
        "allow_origins": ["https://example.com"],
        "allow_methods": ["GET", "POST", "PUT", "DELETE"],
        "allow_headers": ["*"],
        "allow_credentials": True,
    }
    site_api = BoltAPI()

    @site_api.get("/x")
    async def x():
        return {}

    with TestClient(site_api) as client:
        r = preflight(
            client, "/x", origin="https://example.com", method="PUT", headers="x-anything"
        )
        assert r.status_code == 204
        assert r.headers["access-control-allow-headers"] == "x-anything"
        assert r.headers["access-control-allow-methods"] == "GET, POST, PUT, DELETE"


def test_cors_under_django_views(client, settings):
    """The same policy answers through Django's URL resolver (runserver, WSGI)."""
    from django.test import Client

    django_client = Client()
    r = django_client.options(
        "/api/cors-demo",
        headers={"Origin": "https://demo.example", "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 204
    assert r["Access-Control-Allow-Origin"] == "https://demo.example"
    r = django_client.get("/api/cors-demo", headers={"Origin": "https://demo.example"})
    assert r.status_code == 200
    assert r["Access-Control-Allow-Origin"] == "https://demo.example"


# -- compression --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_compression_backends(encoding):
    backend = {"br": "brotli"}.get(encoding, encoding)
    comp = BoltAPI(middleware=[CompressionMiddleware(backend=backend, gzip_fallback=False)])

    @comp.get("/data")
    async def d():
        return BIG

    with TestClient(comp) as client:
        r = client.get("/data", headers={"Accept-Encoding": encoding})
        assert r.headers["content-encoding"] == encoding
        assert "accept-encoding" in r.headers["vary"].lower()
        assert r.num_bytes_downloaded < len(r.content) / 3
        assert r.json() == BIG  # httpx decodes gzip, br and zstd


def test_compression_rules(client):
    r = client.get("/data", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.json() == BIG
    assert (
        client.get("/small", headers={"Accept-Encoding": "gzip"}).headers.get("content-encoding")
        is None
    )
    assert (
        client.get("/data", headers={"Accept-Encoding": "identity"}).headers.get("content-encoding")
        is None
    )
    assert (
        client.get("/data", headers={"Accept-Encoding": "br"}).headers.get("content-encoding")
        is None
    )


def test_streams_compressed_per_chunk(client):
    r = client.get("/events", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.text.count("data: ") == 3


def test_compression_setting(settings):
    from django_bolt.middleware import CompressionConfig

    settings.BOLT_COMPRESSION = CompressionConfig(backend="gzip", minimum_size=10)
    c_api = BoltAPI()

    @c_api.get("/x")
    async def x():
        return {"hello": "world" * 5}

    with TestClient(c_api) as client:
        r = client.get("/x", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert r.json() == {"hello": "world" * 5}


# -- rate limiting ------------------------------------------------------------------------


def test_route_rate_limit_token_bucket():
    rl = BoltAPI()

    @rl.get("/limited")
    @rate_limit(rps=0.01, burst=3)  # a token per 100 s: none comes back during the test
    async def limited():
        return {"ok": True}

    @rl.get("/free")
    async def free():
        return {"ok": True}

    @rl.get("/refills")
    @rate_limit(rps=2, burst=1)
    async def refills():
        return {"ok": True}

    with TestClient(rl) as client:
        codes = [client.get("/limited").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        before = client.handed_over
        r = client.get("/limited")
        assert r.status_code == 429
        assert r.json() == {"detail": "Rate limit exceeded"}
        assert r.headers["retry-after"] == "100"
        assert client.handed_over == before
        assert client.get("/free").status_code == 200
        # Tokens come back with time: a bucket of one at two a second serves again.
        assert client.get("/refills").status_code == 200
        wait_for(lambda: client.get("/refills").status_code == 200, timeout=10)


def test_global_limit_shared_by_routes_and_keyed_by_ip():
    rl = BoltAPI(middleware=[RateLimitMiddleware(requests=2, window=60)])

    @rl.get("/a")
    async def a():
        return {}

    @rl.get("/b")
    async def b():
        return {}

    @rl.get("/c")
    @skip_middleware("rate_limit")
    async def c():
        return {}

    with (
        TestClient(rl, client_address="10.0.0.1:1000") as one,
        TestClient(rl, client_address="10.0.0.2:1000") as two,
    ):
        assert one.get("/a").status_code == 200
        assert one.get("/b").status_code == 200
        r = one.get("/a")
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) == 30
        assert one.get("/c").status_code == 200
        assert two.get("/a").status_code == 200  # another client address, another bucket


def test_forwarded_for_trusted_only_from_proxies(settings):
    settings.BOLT_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    rl = BoltAPI()

    @rl.get("/x")
    @rate_limit(rps=0.01, burst=1)
    async def x():
        return {}

    with (
        TestClient(rl, client_address="127.0.0.1:1") as proxy,
        TestClient(rl, client_address="8.8.8.8:1") as direct,
    ):
        assert proxy.get("/x", headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 200
        assert proxy.get("/x", headers={"X-Forwarded-For": "2.2.2.2, 10.1.1.1"}).status_code == 200
        assert proxy.get("/x", headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 429
        # 10.1.1.1 is inside the trusted 10.0.0.0/8, so the client is the address before it.
        assert proxy.get("/x", headers={"X-Forwarded-For": "2.2.2.2, 10.1.1.1"}).status_code == 429
        assert proxy.get("/x", headers={"X-Forwarded-For": "6.6.6.6, 10.1.1.1"}).status_code == 200
        # An untrusted peer cannot pick its bucket with the header.
        assert direct.get("/x", headers={"X-Forwarded-For": "3.3.3.3"}).status_code == 200
        assert direct.get("/x", headers={"X-Forwarded-For": "4.4.4.4"}).status_code == 429


def test_rate_limit_by_user_and_header():
    from django_bolt.auth import IsAuthenticated, JWTAuthentication, encode_jwt

    secret = "s" * 40
    rl = BoltAPI()

    @rl.get("/u", auth=[JWTAuthentication(secret=secret)], guards=[IsAuthenticated])
    @rate_limit(rps=0.01, burst=1, key="user")
    async def u():
        return {}

    @rl.get("/h")
    @rate_limit(rps=0.01, burst=1, key="header:X-Tenant")
    async def h():
        return {}

    def tok(sub):
        return {
            "Authorization": "Bearer "
            + encode_jwt({"sub": sub, "exp": int(time.time()) + 60}, secret=secret)
        }

    with TestClient(rl) as client:
        assert client.get("/u", headers=tok("1")).status_code == 200
        assert client.get("/u", headers=tok("1")).status_code == 429
        assert client.get("/u", headers=tok("2")).status_code == 200
        assert client.get("/h", headers={"X-Tenant": "a"}).status_code == 200
        assert client.get("/h", headers={"X-Tenant": "a"}).status_code == 429
        assert client.get("/h", headers={"X-Tenant": "b"}).status_code == 200


def test_bad_middleware_configuration():
    with pytest.raises(ValueError):
        RateLimitMiddleware(requests=0, window=1)
    with pytest.raises(ValueError):
        CompressionMiddleware(backend="lzma")
    with pytest.raises(ValueError):
        skip_middleware("nonsense")
    bad = BoltAPI()

    @bad.get("/x")
    @rate_limit(rps=1, key="cookie")
    async def x():
        return {}

    with pytest.raises(ImproperlyConfigured, match="rate limit key"):
        TestClient(bad)
