"""Authentication backed by Django (sessions, permissions, groups) and token revocation
in every store, plus the Redis backend shared by several processes."""

import os
import time
import uuid

import pytest
from django.contrib.auth import alogin, alogout, get_user_model

from django_bolt import BoltAPI, Request
from django_bolt.auth import (
    DjangoCacheRevocation,
    DjangoORMRevocation,
    HasAllPermissions,
    HasAnyPermission,
    HasPermission,
    HasRole,
    InMemoryRevocation,
    IsAdminUser,
    IsAuthenticated,
    IsStaff,
    JWTAuthentication,
    RedisRevocation,
    SessionAuthentication,
    create_jwt_for_user,
    encode_jwt,
)
from django_bolt.testing import TestClient
from tests.conftest import requires

SECRET = "another-secret-that-is-long-enough-0123456789"

session_api = BoltAPI(auth=[SessionAuthentication()])


@session_api.post("/login", auth=[])
async def login(request: Request, username: str, password: str):
    user = await get_user_model().objects.filter(username=username).afirst()
    if user and user.check_password(password):
        await alogin(request, user)
        return {"status": "ok"}
    return {"status": "error"}


@session_api.post("/logout", guards=[IsAuthenticated])
async def logout(request: Request):
    await alogout(request)
    return {"status": "logged out"}


@session_api.get("/profile", guards=[IsAuthenticated])
async def profile(request: Request):
    user = await request.auser()
    return {"username": user.username, "backend": request.context["auth_backend"]}


@session_api.get("/staff", guards=[IsStaff])
async def staff():
    return {"ok": True}


@session_api.get("/perm", guards=[HasPermission("auth.view_user")])
async def perm():
    return {"ok": True}


@session_api.get("/role", guards=[HasRole("editors")])
async def role():
    return {"ok": True}


@pytest.mark.django_db(transaction=True)
def test_session_authentication_with_django_permissions():
    from django.contrib.auth.models import Group, Permission

    User = get_user_model()
    user = User.objects.create_user("sam", password="pw-sam-123456")
    with TestClient(session_api) as client:
        assert client.get("/profile").status_code == 401
        assert client.post(
            "/login", params={"username": "sam", "password": "pw-sam-123456"}
        ).json() == {"status": "ok"}
        assert client.get("/profile").json() == {"username": "sam", "backend": "session"}
        assert client.get("/staff").status_code == 403
        assert client.get("/perm").json() == {"detail": 'Permission "auth.view_user" required'}
        assert client.get("/role").status_code == 403
        user.user_permissions.add(Permission.objects.get(codename="view_user"))
        user.groups.add(Group.objects.create(name="editors"))
        User.objects.filter(pk=user.pk).update(is_staff=True)
        assert client.get("/perm").status_code == 200
        assert client.get("/role").status_code == 200
        assert client.get("/staff").status_code == 200
        # Session-authenticated writes need Django's CSRF token (set by alogin).
        assert client.post("/logout").json() == {"detail": "CSRF Failed: CSRF token missing."}
        token = client.cookies["csrftoken"]
        r = client.post("/logout", headers={"X-CSRFToken": token})
        assert r.json() == {"status": "logged out"}
        assert client.get("/profile").status_code == 401


loose_api = BoltAPI(auth=[SessionAuthentication(enforce_csrf=False)])


@loose_api.post("/login", auth=[])
async def loose_login(request: Request, username: str, password: str):
    user = await get_user_model().objects.filter(username=username).afirst()
    await alogin(request, user)
    return {"status": "ok"}


@loose_api.post("/write", guards=[IsAuthenticated])
async def loose_write(request: Request):
    return {"written": True}


@pytest.mark.django_db(transaction=True)
def test_enforce_csrf_false_lets_session_writes_through_without_a_token():
    get_user_model().objects.create_user("tess", password="pw-tess-123456")
    with TestClient(loose_api) as client:
        assert client.post("/write").status_code == 401
        client.post("/login", params={"username": "tess", "password": "pw-tess-123456"})
        assert client.post("/write").json() == {"written": True}


token_api = BoltAPI(auth=[JWTAuthentication(secret=SECRET)])


@token_api.post("/articles", guards=[HasPermission("auth.add_group")])
async def add_article(request: Request):
    user = await request.auser()
    return {"by": user.username}


@token_api.get("/any", guards=[HasAnyPermission("auth.delete_group", "auth.change_group")])
async def any_perm():
    return {"ok": True}


@token_api.get("/all", guards=[HasAllPermissions("auth.add_group", "auth.change_group")])
async def all_perms():
    return {"ok": True}


@token_api.get("/editors", guards=[HasRole("editors")])
async def editors():
    return {"ok": True}


@token_api.get("/staff", guards=[IsStaff])
async def token_staff():
    return {"ok": True}


@token_api.get("/admin", guards=[IsAdminUser])
async def token_admin():
    return {"ok": True}


@pytest.mark.django_db(transaction=True)
def test_guards_ask_django_for_tokens_without_permission_claims():
    from django.contrib.auth.models import Group, Permission

    User = get_user_model()
    perm = Permission.objects.get(codename="add_group")
    change = Permission.objects.get(codename="change_group")
    ann = User.objects.create_user("ann", password="x")  # holds the permission directly
    ann.user_permissions.add(perm)
    bob = User.objects.create_user("bob", password="x")  # through a group
    editors = Group.objects.create(name="editors")
    editors.permissions.add(perm, change)
    bob.groups.add(editors)
    cid = User.objects.create_user("cid", password="x")  # holds nothing
    root = User.objects.create_superuser("root", password="x")
    gone = User.objects.create_user("gone", password="x", is_active=False)
    gone.user_permissions.add(perm)
    tokens = {
        u.username: create_jwt_for_user(u, secret=SECRET) for u in (ann, bob, cid, root, gone)
    }

    def status(path, who, method="get"):
        auth = {"Authorization": f"Bearer {tokens[who]}"}
        return getattr(client, method)(path, headers=auth).status_code

    with TestClient(token_api) as client:
        r = client.post("/articles", headers={"Authorization": f"Bearer {tokens['ann']}"})
        assert (r.status_code, r.json()) == (200, {"by": "ann"})
        assert status("/articles", "bob", "post") == 200
        assert status("/articles", "root", "post") == 200
        r = client.post("/articles", headers={"Authorization": f"Bearer {tokens['cid']}"})
        assert (r.status_code, r.json()) == (
            403,
            {"detail": 'Permission "auth.add_group" required'},
        )
        assert status("/articles", "gone", "post") == 403  # inactive users hold nothing

        assert [status("/any", u) for u in ("ann", "bob", "cid", "root")] == [403, 200, 403, 200]
        assert [status("/all", u) for u in ("ann", "bob", "cid", "root")] == [403, 200, 403, 200]
        assert [status("/editors", u) for u in ("ann", "bob", "cid")] == [403, 200, 403]
        assert [status("/staff", u) for u in ("ann", "cid", "root")] == [403, 403, 200]
        assert [status("/admin", u) for u in ("ann", "root")] == [403, 200]

        # Django's tables are read per request: a grant shows on the next request.
        cid.user_permissions.add(perm)
        assert status("/articles", "cid", "post") == 200
        cid.groups.add(editors)
        assert status("/editors", "cid") == 200

        # A token that states its grants is decided from its claims alone (in Rust): an
        # empty permissions claim refuses even a user Django would allow.
        stated = create_jwt_for_user(bob, secret=SECRET, permissions=[], roles=[])
        r = client.post("/articles", headers={"Authorization": f"Bearer {stated}"})
        assert r.status_code == 403
        assert (
            client.get("/editors", headers={"Authorization": f"Bearer {stated}"}).status_code == 403
        )
        claimed = create_jwt_for_user(cid, secret=SECRET, permissions=["auth.delete_group"])
        assert client.get("/any", headers={"Authorization": f"Bearer {claimed}"}).status_code == 200
        # A token for a user that no longer exists is refused.
        User.objects.filter(pk=ann.pk).delete()
        assert status("/articles", "ann", "post") == 403


def jwt(**claims):
    body = {"sub": "1", "exp": int(time.time()) + 300, "jti": uuid.uuid4().hex, **claims}
    return encode_jwt({k: v for k, v in body.items() if v is not None}, secret=SECRET)


def revocation_api(store):
    api = BoltAPI()

    @api.get(
        "/x", auth=[JWTAuthentication(secret=SECRET, revocation=store)], guards=[IsAuthenticated]
    )
    async def x(request: Request):
        return {"jti": request.context["jti"]}

    @api.post(
        "/logout",
        auth=[JWTAuthentication(secret=SECRET, revocation=store)],
        guards=[IsAuthenticated],
    )
    async def out(request: Request):
        await store.arevoke_token(request.context)
        return {"revoked": True}

    return api


@pytest.mark.parametrize("kind", ["memory", "cache", "orm"])
@pytest.mark.django_db(transaction=True)
def test_revoked_tokens_are_refused(kind):
    store = {
        "memory": InMemoryRevocation,
        "cache": DjangoCacheRevocation,
        "orm": DjangoORMRevocation,
    }[kind]()
    with TestClient(revocation_api(store)) as client:
        tok = jwt()
        headers = {"Authorization": f"Bearer {tok}"}
        assert client.get("/x", headers=headers).status_code == 200
        assert client.post("/logout", headers=headers).json() == {"revoked": True}
        r = client.get("/x", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"detail": "Token has been revoked"}
        other = {"Authorization": f"Bearer {jwt()}"}
        assert client.get("/x", headers=other).status_code == 200
        no_jti = {"Authorization": f"Bearer {jwt(jti=None)}"}
        refused = client.get("/x", headers=no_jti)
        # The same answer whichever store checks (Rust for memory, Python for the others).
        assert (refused.status_code, refused.json()) == (
            401,
            {"detail": "Token has no jti claim, which revocation requires"},
        )


@pytest.mark.django_db(transaction=True)
def test_orm_revocation_purge():
    store = DjangoORMRevocation()
    store.revoke("old", time.time() - 10)
    store.revoke("new", time.time() + 100)
    assert store.purge() == 1
    assert store.is_revoked("new") and not store.is_revoked("old")


# -- Redis ---------------------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL")
needs_redis = requires("Redis (REDIS_URL)", REDIS_URL)


@pytest.fixture
def redis_prefix(settings):
    from django_bolt.auth.store import reset_shared_backend

    prefix = f"bolt-test-{uuid.uuid4().hex[:8]}:"
    settings.BOLT_REDIS_URL = REDIS_URL
    settings.BOLT_REDIS_PREFIX = prefix
    reset_shared_backend()
    yield prefix
    reset_shared_backend()
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter(prefix + "*"):
        r.delete(key)


@needs_redis
def test_redis_rate_limit_shared_between_processes(redis_prefix):
    from django_bolt.auth.store import reset_shared_backend
    from django_bolt.middleware import rate_limit

    api = BoltAPI()

    @api.get("/x")
    @rate_limit(rps=0.01, burst=3)
    async def x():
        return {}

    # Two sites with their own Redis connections stand in for two processes.
    with TestClient(api) as one:
        reset_shared_backend()
        with TestClient(api) as two:
            codes = [c.get("/x").status_code for c in (one, two, one, two, one)]
    assert codes == [200, 200, 200, 429, 429]


@needs_redis
def test_redis_revocation_seen_by_every_process(redis_prefix):
    writer = RedisRevocation(prefix=redis_prefix)
    # The prefix defaults to BOLT_REDIS_PREFIX (the fixture's), the one rate limits and
    # groups use.
    reader = RedisRevocation()
    with TestClient(revocation_api(reader)) as client:
        tok = jwt()
        headers = {"Authorization": f"Bearer {tok}"}
        assert client.get("/x", headers=headers).status_code == 200
        claims = client.get("/x", headers=headers).json()
        writer.revoke(claims["jti"], time.time() + 60)
        assert client.get("/x", headers=headers).json() == {"detail": "Token has been revoked"}


def test_unreachable_redis_fails_open_for_limits_closed_for_revocation(settings):
    from django_bolt.auth.store import reset_shared_backend
    from django_bolt.middleware import rate_limit

    settings.BOLT_REDIS_URL = "redis://127.0.0.1:1/0"
    reset_shared_backend()
    try:
        api = BoltAPI()

        @api.get("/x")
        @rate_limit(rps=0.01, burst=1)
        async def x():
            return {}

        with TestClient(api) as client:
            assert [client.get("/x").status_code for _ in range(3)] == [200, 200, 200]
        store = RedisRevocation(url="redis://127.0.0.1:1/0")
        with TestClient(revocation_api(store)) as client:
            r = client.get("/x", headers={"Authorization": f"Bearer {jwt()}"})
            assert r.status_code == 401
            assert r.json() == {"detail": "Token revocation could not be checked"}
    finally:
        reset_shared_backend()


@needs_redis
@pytest.mark.e2e
def test_two_runbolt_instances_share_one_limit(bolt, redis_prefix):
    import httpx

    env = {"BOLT_REDIS_URL": REDIS_URL, "BOLT_REDIS_PREFIX": redis_prefix}
    with bolt(env=env) as a, bolt(env=env) as b:
        codes = []
        for i in range(6):
            server = (a, b)[i % 2]
            codes.append(httpx.get(f"http://127.0.0.1:{server.port}/api/limited").status_code)
    assert codes[:4] == [200, 200, 200, 200]
    assert codes[4:] == [429, 429]


@needs_redis
@pytest.mark.e2e
def test_one_limit_across_the_processes_of_one_runbolt(bolt, redis_prefix):
    import re

    import httpx

    from tests.conftest import wait_for

    env = {"BOLT_REDIS_URL": REDIS_URL, "BOLT_REDIS_PREFIX": redis_prefix}
    flags = ("--processes", "2", "--access-log", "--access-log-format", "LIMITED %(p)s %(s)s")

    def answered_by():
        return {pid for pid, _ in re.findall(r"LIMITED (\d+) (\d+)", server.log)}

    with bolt(*flags, env=env) as server:
        codes = []
        # New connections until both workers have answered (the second may still be
        # starting, and the kernel need not spread the first few evenly).
        while len(answered_by()) < 2:
            assert len(codes) < 600, f"one worker answered all {len(codes)} requests"
            for _ in range(10):
                with httpx.Client() as client:
                    r = client.get(f"http://127.0.0.1:{server.port}/api/limited")
                    codes.append(r.status_code)
            wait_for(lambda: len(re.findall(r"LIMITED ", server.log)) == len(codes))
    # Between them the two workers let through the bucket's four, no more.
    assert codes.count(200) == 4
    assert codes.count(429) == len(codes) - 4


@pytest.mark.django_db(transaction=True)
def test_acreate_jwt_for_user_embeds_permissions_and_groups():
    """The token states the user's grants, so guards decide from it alone: a group
    removed afterwards does not change what that token may do."""
    from asgiref.sync import async_to_sync
    from django.contrib.auth.models import Group, Permission

    from django_bolt.auth import acreate_jwt_for_user
    from django_bolt.auth.token import decode_jwt

    User = get_user_model()
    ed = User.objects.create_user("ed")
    editors = Group.objects.create(name="editors")
    editors.permissions.add(Permission.objects.get(codename="add_group"))
    ed.groups.add(editors)
    token = async_to_sync(acreate_jwt_for_user)(ed, secret=SECRET)
    claims = decode_jwt(token, secret=SECRET)
    assert claims["permissions"] == ["auth.add_group"] and claims["roles"] == ["editors"]
    ed.groups.clear()
    with TestClient(token_api) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/articles", headers=headers).json() == {"by": "ed"}
        assert client.get("/editors", headers=headers).json() == {"ok": True}
