"""request.session, request.user / auser(), alogin / alogout from API handlers."""

from datetime import datetime

import pytest
from django.contrib.auth import alogin, alogout, get_user_model

from django_bolt import BoltAPI, Request
from django_bolt.testing import TestClient

pytestmark = [pytest.mark.orm, pytest.mark.django_db(transaction=True)]

api = BoltAPI()
User = get_user_model()


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
        "user_id": request.user.id,
        "login_time": await request.session.aget("login_time"),
        "keys": sorted(await request.session.akeys()),
    }


@api.post("/logout")
async def logout(request: Request):
    await alogout(request)
    return {"status": "logged out"}


@api.post("/counter")
def counter(request):
    request.session["count"] = request.session.get("count", 0) + 1
    return {"count": request.session["count"], "user": request.user.is_authenticated}


@api.post("/pop")
async def pop(request: Request):
    return {"popped": await request.session.apop("count", None)}


@pytest.fixture
def client():
    User.objects.create_user("ann", "ann@example.com", "pw-ann-123")
    with TestClient(api, django_fallback=False) as c:
        yield c


def test_login_profile_logout(client):
    assert client.get("/profile").json() == {"error": "not logged in"}
    assert client.post("/login", params={"username": "ann", "password": "wrong"}).json() == {
        "status": "error"
    }
    response = client.post("/login", params={"username": "ann", "password": "pw-ann-123"})
    assert response.json() == {"status": "ok"}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("sessionid=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    profile = client.get("/profile").json()
    assert profile["username"] == "ann"
    assert profile["user_id"] == User.objects.get(username="ann").id
    assert profile["login_time"]
    assert "login_time" in profile["keys"] and "_auth_user_id" in profile["keys"]
    assert User.objects.get(username="ann").last_login is not None
    logout = client.post("/logout")
    assert logout.json() == {"status": "logged out"}
    assert client.get("/profile").json() == {"error": "not logged in"}


def test_sync_handler_session_and_user(client):
    assert client.post("/counter").json() == {"count": 1, "user": False}
    assert client.post("/counter").json() == {"count": 2, "user": False}
    assert client.post("/pop").json() == {"popped": 2}
    assert client.post("/counter").json() == {"count": 1, "user": False}


def test_untouched_session_sets_no_cookie(client):
    response = client.get("/profile")
    assert "set-cookie" not in response.headers


def test_sessions_through_djangos_own_test_client(settings):
    from django.test import Client
    from django.urls import path

    User.objects.create_user("bob", "bob@example.com", "pw-bob-123")
    import types

    urlconf = types.ModuleType("session_urls")
    urlconf.urlpatterns = [path("api/", api.urls)]
    settings.ROOT_URLCONF = urlconf
    django_client = Client()
    assert django_client.post("/api/login?username=bob&password=pw-bob-123").json() == {
        "status": "ok"
    }
    assert django_client.get("/api/profile").json()["username"] == "bob"
