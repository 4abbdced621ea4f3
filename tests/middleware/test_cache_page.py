"""``cache_page``: answers kept in Rust memory and served without Python, Django's cache
shared behind it, and the answers that are never kept."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_bolt import BoltAPI, Request
from django_bolt.auth import JWTAuthentication, encode_jwt
from django_bolt.cache import cache_page
from django_bolt.middleware import rate_limit
from django_bolt.responses import JSON, StreamingResponse
from django_bolt.testing import TestClient

SECRET = "cache-page-test-secret-long-enough-0123456789"
calls: dict[str, int] = {}


def counted(name):
    calls[name] = calls.get(name, 0) + 1
    return calls[name]


api = BoltAPI()


@api.get("/data")
@cache_page(60)
async def data(request: Request, page: int = 1):
    return {"page": page, "call": counted("data")}


@api.get("/sync-data")
@cache_page(60)
def sync_data():
    return {"call": counted("sync")}


@api.get("/greeting")
@cache_page(60)
async def greeting(request: Request):
    lang = request.headers.get("accept-language", "en")
    n = counted("greeting")
    return JSON({"lang": lang, "call": n}, headers={"Vary": "Accept-Language"})


@api.get("/cookie")
@cache_page(60)
async def cookie():
    response = JSON({"call": counted("cookie")})
    response.set_cookie("seen", "1")
    return response


@api.get("/cookie-ok")
@cache_page(60, cookies=True)
async def cookie_ok():
    response = JSON({"call": counted("cookie-ok")})
    response.set_cookie("seen", "1")
    return response


@api.get("/private")
@cache_page(60)
async def private():
    return JSON({"call": counted("private")}, headers={"Cache-Control": "private"})


@api.get("/missing")
@cache_page(60)
async def missing():
    counted("missing")
    return JSON({"detail": "gone"}, 404)


@api.get("/stream")
@cache_page(60)
async def stream():
    counted("stream")
    return StreamingResponse(iter([b"a", b"b"]), media_type="text/plain")


@api.get("/session")
@cache_page(60)
async def session(request: Request):
    await request.session.aget("x")
    return {"call": counted("session")}


@api.get("/me", auth=[JWTAuthentication(secret=SECRET)])
@cache_page(60)
async def me(request: Request):
    return {"sub": request.context.get("sub"), "call": counted("me")}


@api.get("/mine", auth=[JWTAuthentication(secret=SECRET)])
@cache_page(60, per_user=True)
async def mine(request: Request):
    return {"sub": request.context.get("sub"), "call": counted("mine")}


@api.get("/short")
@cache_page(1)
async def short():
    return {"call": counted("short")}


@api.get("/no-store")
@cache_page(60)
async def no_store():
    return JSON({"call": counted("no-store")}, headers={"Cache-Control": "no-store"})


@api.get("/public")
@cache_page(60)
async def public():
    return JSON({"call": counted("public")}, headers={"Cache-Control": "public, max-age=5"})


@api.get("/limited-cached")
@rate_limit(rps=0.01, burst=2)
@cache_page(60)
async def limited_cached():
    return {"call": counted("limited-cached")}


@api.get("/bare")
@cache_page(60)
async def bare(request: Request):
    return {"call": counted("bare")}


def bearer(sub):
    token = encode_jwt({"sub": sub, "exp": int(time.time()) + 300}, secret=SECRET)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()
    calls.clear()


@pytest.fixture
def client():
    with TestClient(api) as c:
        yield c


def test_a_hit_is_answered_without_python(client):
    first = client.get("/data?page=2")
    assert first.json() == {"page": 2, "call": 1}
    assert first.headers["cache-control"] == "max-age=60"
    assert "x-bolt-cache-ttl" not in first.headers
    before = client.handed_over
    again = client.get("/data?page=2")
    assert (again.status_code, again.json()) == (200, {"page": 2, "call": 1})
    assert client.handed_over == before  # Rust answered
    assert again.headers["age"] == "0"
    assert again.headers["content-type"] == "application/json"
    assert "x-bolt-cache-ttl" not in again.headers
    # Another query is another answer; HEAD is served from the kept GET.
    assert client.get("/data?page=3").json() == {"page": 3, "call": 2}
    head = client.head("/data?page=2")
    assert (head.status_code, head.content) == (200, b"")
    assert client.handed_over == before + 1


def test_sync_handlers_are_cached_too(client):
    assert client.get("/sync-data").json() == {"call": 1}
    assert client.get("/sync-data").json() == {"call": 1}


def test_vary_headers_are_part_of_the_key(client):
    fr = {"Accept-Language": "fr"}
    assert client.get("/greeting", headers=fr).json() == {"lang": "fr", "call": 1}
    assert client.get("/greeting", headers={"Accept-Language": "de"}).json()["call"] == 2
    assert client.get("/greeting", headers=fr).json() == {"lang": "fr", "call": 1}
    assert client.get("/greeting").json() == {"lang": "en", "call": 3}


def test_the_django_cache_is_shared_behind_each_process():
    """A second server (its own Rust memory) answers from Django's cache, then from its
    own memory, without running the handler."""
    with TestClient(api) as one:
        assert one.get("/data").json() == {"page": 1, "call": 1}
    with TestClient(api) as two:
        assert two.get("/data").json() == {"page": 1, "call": 1}
        before = two.handed_over
        assert two.get("/data").json() == {"page": 1, "call": 1}
        assert two.handed_over == before
    assert calls["data"] == 1


@pytest.mark.parametrize(
    "path",
    ["/cookie", "/private", "/missing", "/stream", "/session", "/no-store"],
)
def test_answers_that_are_never_kept(client, path):
    for _ in range(2):
        client.get(path)
    assert calls[path.strip("/")] == 2


def test_cookie_setting_answers_when_allowed(client):
    assert client.get("/cookie-ok").json() == {"call": 1}
    again = client.get("/cookie-ok")
    assert again.json() == {"call": 1}
    assert again.headers["set-cookie"].startswith("seen=1")


def test_authenticated_requests_bypass_unless_per_user(client):
    assert client.get("/me", headers=bearer("1")).json() == {"sub": "1", "call": 1}
    assert client.get("/me", headers=bearer("1")).json() == {"sub": "1", "call": 2}
    # Anonymous answers are shared, and never served to a token holder.
    assert client.get("/me").json() == {"sub": None, "call": 3}
    assert client.get("/me").json() == {"sub": None, "call": 3}
    assert client.get("/me", headers=bearer("1")).json()["call"] == 4
    # per_user: each credential has its own answers.
    assert client.get("/mine", headers=bearer("1")).json() == {"sub": "1", "call": 1}
    assert client.get("/mine", headers=bearer("2")).json() == {"sub": "2", "call": 2}
    before = client.handed_over
    assert client.get("/mine", headers=bearer("1")).json() == {"sub": "1", "call": 1}
    assert client.get("/mine", headers=bearer("2")).json() == {"sub": "2", "call": 2}
    assert client.handed_over == before


def test_answers_expire(client):
    started = time.monotonic()
    assert client.get("/short").json() == {"call": 1}
    again = client.get("/short").json()
    if time.monotonic() - started < 1:  # a stalled machine may take longer than the timeout
        assert again == {"call": 1}
    deadline = time.monotonic() + 10
    while client.get("/short").json()["call"] == 1:
        assert time.monotonic() < deadline, "the kept answer never expired"
        time.sleep(0.05)
    assert calls["short"] == 2


def test_misconfiguration_is_refused_at_start():
    with pytest.raises(ValueError, match="positive timeout"):
        cache_page(0)
    bad = BoltAPI()

    @bad.post("/x")
    @cache_page(10)
    async def x():
        return {}

    with pytest.raises(ImproperlyConfigured, match="GET routes only"):
        TestClient(bad).__enter__()
    other = BoltAPI()

    @other.get("/y")
    @cache_page(10, cache="nowhere")
    async def y():
        return {}

    with pytest.raises(ImproperlyConfigured, match="no cache 'nowhere'"):
        TestClient(other).__enter__()


wrapped = BoltAPI(django_middleware=True)


@wrapped.get("/session-page")
@cache_page(60)
async def session_page(request: Request):
    seen = await request.session.aget("seen", 0)
    await request.session.aset("seen", seen + 1)
    return {"seen": seen, "call": counted("session-page")}


@pytest.mark.django_db
def test_nothing_is_kept_under_djangos_middleware():
    """Django's middleware changes the answer after cache_page (the session's cookie, Vary:
    Cookie): such routes are never kept, so no user gets another's page or cookie."""
    with TestClient(wrapped) as ann, TestClient(wrapped) as bob:
        first = ann.get("/session-page")
        assert first.json() == {"seen": 0, "call": 1}
        assert "sessionid" in first.cookies
        assert ann.get("/session-page").json() == {"seen": 1, "call": 2}
        other = bob.get("/session-page")
        assert other.json() == {"seen": 0, "call": 3}
        assert other.cookies["sessionid"] != first.cookies["sessionid"]
        assert "x-bolt-cache-ttl" not in other.headers


def test_the_host_is_part_of_the_key(client):
    one = client.get("/data", headers={"Host": "one.example.com"}).json()
    two = client.get("/data", headers={"Host": "two.example.com"}).json()
    assert (one["call"], two["call"]) == (1, 2)
    assert client.get("/data", headers={"Host": "one.example.com"}).json()["call"] == 1


def test_per_user_answers_are_private_to_shared_caches(client):
    r = client.get("/mine", headers=bearer("1"))
    assert r.headers["cache-control"] == "private, max-age=60"
    assert client.get("/data").headers["cache-control"] == "max-age=60"


@pytest.mark.django_db
def test_the_marker_never_leaves_under_djangos_own_handler():
    from django.test import Client

    r = Client().get("/api/report?region=eu")
    assert r.status_code == 200
    assert "x-bolt-cache-ttl" not in r.headers


@api.get("/forged-marker")
@cache_page(60)
async def forged_marker():
    # As if something after cache_page had marked an answer that sets a cookie.
    response = JSON({"call": counted("forged")}, headers={"x-bolt-cache-ttl": "60"})
    response.set_cookie("sessionid", "someone-elses")
    return response


@api.get("/plain-marker")
async def plain_marker():
    return JSON({"ok": True}, headers={"x-bolt-cache-ttl": "60"})


def test_rust_keeps_only_what_qualifies_and_never_sends_the_marker(client):
    for _ in range(2):
        r = client.get("/forged-marker")
        assert "x-bolt-cache-ttl" not in r.headers
    assert calls["forged"] == 2  # an answer setting a cookie is never kept
    assert "x-bolt-cache-ttl" not in client.get("/plain-marker").headers


def test_the_handlers_own_cache_control_is_kept_as_sent(client):
    first = client.get("/public")
    assert first.headers["cache-control"] == "public, max-age=5"
    again = client.get("/public")
    assert (again.json(), again.headers["cache-control"]) == ({"call": 1}, "public, max-age=5")


def test_rate_limits_apply_to_hits_and_a_bare_authorization_header_bypasses(client):
    statuses = [client.get("/limited-cached").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert calls["limited-cached"] == 1  # the second was a hit, the third refused
    assert client.get("/bare").json() == {"call": 1}
    assert client.get("/bare").json() == {"call": 1}
    # A credential the route does not even check still bypasses: never served shared.
    assert client.get("/bare", headers={"Authorization": "Basic eDp5"}).json() == {"call": 2}


def test_clearing_djangos_cache_does_not_reach_rust_memory(client):
    from django.core.cache import cache

    assert client.get("/data?page=9").json() == {"page": 9, "call": 1}
    cache.clear()
    before = client.handed_over
    assert client.get("/data?page=9").json() == {"page": 9, "call": 1}
    assert client.handed_over == before


def test_a_named_cache_and_a_key_prefix(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "reports": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "r"},
    }
    from django.core.cache import caches

    def site(prefix):
        one = BoltAPI()

        @one.get("/named")
        @cache_page(60, cache="reports", key_prefix=prefix)
        async def named_route():
            return {"site": prefix, "call": counted("named")}

        return one

    with TestClient(site("a")) as c:
        assert c.get("/named").json() == {"site": "a", "call": 1}
    assert caches["reports"]._cache and not caches["default"]._cache
    # Another site sharing the cache computes its own answer for the same path.
    with TestClient(site("b")) as c:
        assert c.get("/named").json() == {"site": "b", "call": 2}
    # A fresh client of the first site (empty Rust memory) finds its answer in the cache.
    with TestClient(site("a")) as c:
        assert c.get("/named").json() == {"site": "a", "call": 1}
