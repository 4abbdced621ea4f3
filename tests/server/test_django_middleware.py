"""Django middleware around API routes (``BoltAPI(django_middleware=...)``)."""

from datetime import datetime

import pytest
from django.contrib.auth import alogin, alogout, get_user_model
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware

from django_bolt import BoltAPI, Request
from django_bolt.exceptions import HTTPException
from django_bolt.responses import StreamingResponse
from django_bolt.testing import TestClient

User = get_user_model()

# The 002 sample, as written.
api = BoltAPI(django_middleware=True)


@api.post("/login")
async def login(request: Request, username: str, password: str):
    user = await User.objects.filter(username=username).afirst()
    if user and user.check_password(password):
        await alogin(request, user)
        await request.session.aset("login_time", str(datetime.now()))
        return {"status": "ok"}
    return {"status": "error"}


@api.get("/profile")
async def profile(request: Request):
    user = await request.auser()
    if not user.is_authenticated:
        return {"error": "not logged in"}
    return {
        "username": user.username,
        "login_time": await request.session.aget("login_time"),
    }


@api.post("/logout")
async def logout(request: Request):
    await alogout(request)
    return {"status": "logged out"}


@api.get("/sync-profile")
def sync_profile(request: Request):
    return {"authenticated": request.user.is_authenticated, "keys": sorted(request.session.keys())}


@pytest.mark.django_db(transaction=True)
def test_seed_session_sample_through_django_middleware():
    User.objects.create_user("alice", password="pw-alice-123456")
    with TestClient(api) as client:
        assert client.get("/profile").json() == {"error": "not logged in"}
        r = client.post("/login", params={"username": "alice", "password": "wrong"})
        assert r.json() == {"status": "error"}
        r = client.post("/login", params={"username": "alice", "password": "pw-alice-123456"})
        assert r.json() == {"status": "ok"}
        assert "sessionid" in client.cookies  # set by Django's SessionMiddleware
        assert "csrftoken" in client.cookies  # alogin rotated it; CsrfViewMiddleware set it
        body = client.get("/profile").json()
        assert body["username"] == "alice"
        assert body["login_time"].startswith(str(datetime.now().year))
        sync = client.get("/sync-profile").json()
        assert sync["authenticated"] is True
        assert "_auth_user_id" in sync["keys"] and "login_time" in sync["keys"]
        assert client.post("/logout").json() == {"status": "logged out"}
        assert client.get("/profile").json() == {"error": "not logged in"}


class Teapot:
    """A sync-only middleware that answers early and tags every response."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.headers.get("x-block"):
            return HttpResponse("blocked", status=418)
        request.seen_by_teapot = True
        response = self.get_response(request)
        response["X-Teapot"] = "yes"
        return response


listed = BoltAPI(django_middleware=[SecurityMiddleware, Teapot])


@listed.get("/a")
async def a(request: Request):
    return {"seen": getattr(request.django_request, "seen_by_teapot", False)}


@listed.get("/s")
def s():
    return {"sync": True}


@listed.get("/boom")
async def boom():
    raise HTTPException(409, "conflict")


@listed.get("/stream")
async def stream():
    async def gen():
        yield "one\n"
        yield "two\n"

    return StreamingResponse(gen(), media_type="text/plain")


def test_listed_middleware_wraps_async_sync_errors_and_streams():
    with TestClient(listed) as client:
        for path, expected in (("/a", {"seen": True}), ("/s", {"sync": True})):
            r = client.get(path)
            assert r.json() == expected
            assert r.headers["x-teapot"] == "yes"
            assert r.headers["x-content-type-options"] == "nosniff"  # SecurityMiddleware
        r = client.get("/a", headers={"X-Block": "1"})
        assert r.status_code == 418 and r.text == "blocked"
        r = client.get("/boom")
        assert r.status_code == 409 and r.json() == {"detail": "conflict"}
        assert r.headers["x-teapot"] == "yes"
        r = client.get("/stream")
        assert r.text == "one\ntwo\n"
        assert r.headers["x-teapot"] == "yes"


def test_bad_middleware_entry_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    bad = BoltAPI(django_middleware=["no.such.Middleware"])

    @bad.get("/x")
    async def x():
        return {}

    with pytest.raises(ImportError):
        TestClient(bad)
    with pytest.raises(ImproperlyConfigured):
        from django_bolt.server.middleware_chain import resolve

        resolve([42])
