"""What docs/security.md promises about authentication and guards that no other test
checked:

- ``api.urls`` under Django's own handler (runserver, other servers): authentication,
  guards (Rust and custom) and rate limits apply there too, and a bad configuration is
  refused by the first request, with the route named;
- ``JWTAuthentication(header=, scheme=, require_exp=False)`` and the ``JWT_ALGORITHM``
  setting; ``APIKeyAuthentication(header=)``;
- a custom guard returning False answers 403 with its ``message``;
- ``HasPermission`` with several permissions requires every one;
- the user of a token without grants is loaded once per request for all the guards;
- ``BOLT_REDIS_PREFIX`` defaults to ``bolt:`` (Redis keys carry it; needs REDIS_URL).
"""

import os
import time
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path

from django_bolt import BoltAPI, Request
from django_bolt.auth import (
    APIKeyAuthentication,
    BaseGuard,
    HasPermission,
    HasRole,
    IsAuthenticated,
    IsStaff,
    JWTAuthentication,
    create_jwt_for_user,
    encode_jwt,
)
from django_bolt.middleware import CORSMiddleware, rate_limit
from django_bolt.testing import TestClient
from tests.conftest import answer, requires

SECRET = "security-gaps-secret-long-enough-0123456789"
ORIGIN = "https://app.example"
NO_CREDENTIALS = {"detail": "Authentication credentials were not provided"}
User = get_user_model()


def token(sub: str = "5", secret: str = SECRET, algorithm: str = "HS256", **claims) -> str:
    claims.setdefault("exp", int(time.time()) + 300)
    return encode_jwt({"sub": sub, **claims}, secret=secret, algorithm=algorithm)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


class TicketGuard(BaseGuard):
    """A custom guard with its own refusal message."""

    message = "A valid ticket is required"

    async def check(self, request) -> bool:
        return request.headers.get("x-ticket") == "valid"


class QuotaGuard(BaseGuard):
    """A custom guard whose message is set per instance, with a sync ``check``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.message = f"At most {limit} items per request"

    def check(self, request) -> bool:
        return int(request.headers.get("x-items", "0")) <= self.limit


# -- the API under Django's own handler ------------------------------------------------------

mounted = BoltAPI(
    auth=[JWTAuthentication(secret=SECRET)],
    middleware=[CORSMiddleware(allow_origins=[ORIGIN])],
)


@mounted.get("/me", guards=[IsAuthenticated])
async def me(request: Request):
    return {"user_id": request.context["user_id"]}


@mounted.get("/editors", guards=[HasPermission("blog.change_post")])
async def editors():
    return {"ok": True}


@mounted.get("/ticketed", auth=[], guards=[TicketGuard()])
def ticketed():
    return {"ok": True}


urlpatterns = [path("", mounted.urls)]


def test_authentication_and_guards_apply_under_djangos_own_handler(settings):
    """security.md: "Under `runserver` and other servers, use Django's `GZipMiddleware`
    instead; CORS, rate limits, authentication and guards apply there too"."""
    settings.ROOT_URLCONF = __name__
    django = Client()
    refused = django.get("/me", headers={"Origin": ORIGIN})
    assert (refused.status_code, refused.json()) == (401, NO_CREDENTIALS)
    assert refused["WWW-Authenticate"] == 'Bearer realm="api"'
    assert refused["Access-Control-Allow-Origin"] == ORIGIN  # 401s carry CORS too
    expired = django.get("/me", headers=bearer(token(exp=int(time.time()) - 60)))
    assert (expired.status_code, expired.json()) == (401, {"detail": "Token has expired"})
    assert 'error="invalid_token"' in expired["WWW-Authenticate"]
    allowed = django.get("/me", headers=bearer(token("42")))
    assert (allowed.status_code, allowed.json()) == (200, {"user_id": "42"})
    # A guard decided from the token's claims.
    lacking = django.get("/editors", headers=bearer(token(permissions=["blog.view_post"])))
    assert (lacking.status_code, lacking.json()) == (
        403,
        {"detail": 'Permission "blog.change_post" required'},
    )
    granted = django.get("/editors", headers=bearer(token(permissions=["blog.change_post"])))
    assert (granted.status_code, granted.json()) == (200, {"ok": True})
    # A custom guard, in Python.
    no_ticket = django.get("/ticketed")
    assert (no_ticket.status_code, no_ticket.json()) == (
        403,
        {"detail": "A valid ticket is required"},
    )
    ticket = django.get("/ticketed", headers={"X-Ticket": "valid"})
    assert (ticket.status_code, ticket.json()) == (200, {"ok": True})


def test_rate_limits_apply_under_djangos_own_handler(settings):
    """security.md: rate limits apply under runserver and other servers too: 429 with
    `Retry-After` past the bucket."""
    limited = BoltAPI()

    @limited.get("/limited")
    @rate_limit(rps=0.01, burst=2)
    async def limited_route():
        return {"ok": True}

    class URLConf:
        urlpatterns = [path("", limited.urls)]

    settings.ROOT_URLCONF = URLConf
    django = Client()
    answers = [django.get("/limited") for _ in range(3)]
    assert [(r.status_code, r.json()) for r in answers] == [
        (200, {"ok": True}),
        (200, {"ok": True}),
        (429, {"detail": "Rate limit exceeded"}),
    ]
    assert int(answers[2]["Retry-After"]) >= 1


def test_the_first_request_under_djangos_handler_refuses_a_bad_configuration(settings):
    """security.md: "`runbolt`, `TestClient` and the first request under `runserver` refuse,
    with the route named: an HMAC secret under 32 bytes, ..."."""
    weak = BoltAPI()

    @weak.get("/weak-secret", auth=[JWTAuthentication(secret="short-secret")])
    async def weak_secret():
        return {"served": True}

    class URLConf:
        urlpatterns = [path("", weak.urls)]

    settings.ROOT_URLCONF = URLConf
    with pytest.raises(ImproperlyConfigured, match="at least 32 bytes") as refused:
        Client().get("/weak-secret")
    assert "/weak-secret" in str(refused.value)
    # Refused again on the next request: the route is never served with the weak key.
    with pytest.raises(ImproperlyConfigured, match="/weak-secret"):
        Client().get("/weak-secret", headers=bearer(token(secret="short-secret" * 3)))


# -- JWT and API-key options ------------------------------------------------------------------


def test_jwt_header_and_scheme_options_choose_where_the_token_is_read():
    """security.md: `JWTAuthentication(... header="authorization", scheme="Bearer", ...)`."""
    api = BoltAPI()

    @api.get(
        "/custom-header",
        auth=[JWTAuthentication(secret=SECRET, header="x-access-token", scheme="Token")],
        guards=[IsAuthenticated],
    )
    async def custom_header(request: Request):
        return {"user_id": request.context["user_id"]}

    @api.get(
        "/custom-scheme",
        auth=[JWTAuthentication(secret=SECRET, scheme="JWT")],
        guards=[IsAuthenticated],
    )
    async def custom_scheme(request: Request):
        return {"user_id": request.context["user_id"]}

    good = token("11")
    with TestClient(api) as client:
        r = client.get("/custom-header", headers={"X-Access-Token": f"Token {good}"})
        assert answer(r) == (200, {"user_id": "11"})
        for elsewhere in (bearer(good), {"X-Access-Token": f"Bearer {good}"}):
            assert answer(client.get("/custom-header", headers=elsewhere)) == (
                401,
                NO_CREDENTIALS,
            )
        r = client.get("/custom-scheme", headers={"Authorization": f"JWT {good}"})
        assert answer(r) == (200, {"user_id": "11"})
        r = client.get("/custom-scheme", headers=bearer(good))
        assert answer(r) == (401, NO_CREDENTIALS)


def test_require_exp_false_accepts_a_token_without_exp():
    """security.md: `require_exp=True` is the default; `require_exp=False` accepts a token
    that carries no `exp` (an `exp` that is there is still enforced)."""
    api = BoltAPI()

    @api.get("/strict", auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated])
    async def strict(request: Request):
        return {"user_id": request.context["user_id"]}

    @api.get(
        "/lenient",
        auth=[JWTAuthentication(secret=SECRET, require_exp=False)],
        guards=[IsAuthenticated],
    )
    async def lenient(request: Request):
        return {"user_id": request.context["user_id"]}

    forever = encode_jwt({"sub": "3"}, secret=SECRET)
    with TestClient(api) as client:
        assert answer(client.get("/lenient", headers=bearer(forever))) == (200, {"user_id": "3"})
        strict_answer = client.get("/strict", headers=bearer(forever))
        assert answer(strict_answer) == (401, {"detail": 'Token is missing the "exp" claim'})
        stale = token("3", exp=int(time.time()) - 60)
        r = client.get("/lenient", headers=bearer(stale))
        assert answer(r) == (401, {"detail": "Token has expired"})


def test_jwt_algorithm_setting_is_the_default_algorithm(settings):
    """security.md: "`algorithms=None,      # default [settings.JWT_ALGORITHM] (HS256)`"
    and "Settings: ... `JWT_ALGORITHM` (HS256)"."""
    settings.JWT_ALGORITHM = "HS512"
    api = BoltAPI()

    @api.get("/x", auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated])
    async def x(request: Request):
        return {"alg_ok": True, "user_id": request.context["user_id"]}

    with TestClient(api) as client:
        hs512 = token("8", algorithm="HS512")
        assert answer(client.get("/x", headers=bearer(hs512))) == (
            200,
            {"alg_ok": True, "user_id": "8"},
        )
        hs256 = client.get("/x", headers=bearer(token("8", algorithm="HS256")))
        assert hs256.status_code == 401
        assert 'error="invalid_token"' in hs256.headers["www-authenticate"]
    # The helpers sign with the setting's algorithm too, so their tokens pass.
    with TestClient(api) as client:
        default_signed = encode_jwt({"sub": "9", "exp": int(time.time()) + 60}, secret=SECRET)
        assert client.get("/x", headers=bearer(default_signed)).json()["user_id"] == "9"
    del settings.JWT_ALGORITHM
    with TestClient(api) as client:  # without the setting: HS256
        assert client.get("/x", headers=bearer(token("8"))).status_code == 200
        assert client.get("/x", headers=bearer(hs512)).status_code == 401


def test_api_keys_read_from_a_custom_header():
    """security.md: `APIKeyAuthentication(api_keys=..., header="x-api-key")`: another
    header reads the key from there, and only there."""
    api = BoltAPI()
    keys = APIKeyAuthentication(api_keys={"svc-key-1": ["items.view"]}, header="x-service-key")

    @api.get("/items", auth=[keys], guards=[HasPermission("items.view")])
    async def items(request: Request):
        return {"backend": request.context["auth_backend"]}

    with TestClient(api) as client:
        r = client.get("/items", headers={"X-Service-Key": "svc-key-1"})
        assert answer(r) == (200, {"backend": "api_key"})
        r = client.get("/items", headers={"X-API-Key": "svc-key-1"})
        assert r.status_code == 401
        r = client.get("/items", headers={"X-Service-Key": "svc-key-2"})
        assert answer(r) == (401, {"detail": "Invalid API key"})


# -- guards -------------------------------------------------------------------------------------


def test_a_custom_guard_returning_false_answers_403_with_its_message():
    """security.md: custom guards "run in Python after the Rust guards pass; `False`
    answers 403 with `message`"."""
    api = BoltAPI()

    @api.get("/ticketed", guards=[TicketGuard()])
    async def ticketed_async():
        return {"ok": True}

    @api.get("/quota", guards=[QuotaGuard(3)])
    def quota():
        return {"ok": True}

    @api.get(
        "/both",
        auth=[JWTAuthentication(secret=SECRET)],
        guards=[IsAuthenticated, TicketGuard()],
    )
    async def both():
        return {"ok": True}

    with TestClient(api) as client:
        assert answer(client.get("/ticketed")) == (403, {"detail": "A valid ticket is required"})
        r = client.get("/ticketed", headers={"X-Ticket": "valid"})
        assert answer(r) == (200, {"ok": True})
        r = client.get("/quota", headers={"X-Items": "4"})
        assert answer(r) == (403, {"detail": "At most 3 items per request"})
        assert answer(client.get("/quota", headers={"X-Items": "3"})) == (200, {"ok": True})
        # After the Rust guards: no credentials is their 401, not the custom 403.
        before = client.handed_over
        r = client.get("/both", headers={"X-Ticket": "valid"})
        assert answer(r) == (401, NO_CREDENTIALS)
        assert client.handed_over == before
        r = client.get("/both", headers=bearer(token()))
        assert answer(r) == (403, {"detail": "A valid ticket is required"})
        r = client.get("/both", headers={**bearer(token()), "X-Ticket": "valid"})
        assert answer(r) == (200, {"ok": True})


@pytest.mark.django_db
def test_has_permission_with_several_permissions_requires_every_one():
    """security.md: "`HasPermission("app.codename", ...)` / `HasAllPermissions(...)` |
    every permission listed"."""
    from django.contrib.auth.models import Permission

    api = BoltAPI(auth=[JWTAuthentication(secret=SECRET)])

    @api.get("/manage", guards=[HasPermission("auth.add_group", "auth.change_group")])
    async def manage():
        return {"ok": True}

    one = {"detail": 'Permission "auth.change_group" required'}
    with TestClient(api) as client:

        def claimed(*perms):
            return answer(client.get("/manage", headers=bearer(token(permissions=list(perms)))))

        assert claimed("auth.add_group") == (403, one)
        assert claimed("auth.change_group") == (
            403,
            {"detail": 'Permission "auth.add_group" required'},
        )
        assert claimed("auth.add_group", "auth.change_group") == (200, {"ok": True})
        assert claimed("*") == (200, {"ok": True})
        # A token without grants: the user's permissions in Django, all of them needed.
        user = User.objects.create_user("perm-holder")
        user.user_permissions.add(Permission.objects.get(codename="add_group"))
        headers = bearer(create_jwt_for_user(user, secret=SECRET))
        assert answer(client.get("/manage", headers=headers)) == (403, one)
        user.user_permissions.add(Permission.objects.get(codename="change_group"))
        assert answer(client.get("/manage", headers=headers)) == (200, {"ok": True})


@pytest.mark.django_db
def test_a_tokens_user_is_loaded_once_per_request_for_all_its_guards():
    """security.md: for a token that leaves the grant out, "the guard asks Django for the
    token's user (`sub`), loaded once per request with the async ORM"."""
    from django.contrib.auth.models import Group, Permission

    api = BoltAPI(auth=[JWTAuthentication(secret=SECRET)])

    @api.get(
        "/desk",
        guards=[IsStaff, HasPermission("auth.add_group"), HasRole("editors")],
    )
    async def desk(request: Request):
        user = await request.auser()
        return {"username": user.username}

    user = User.objects.create_user("desk-editor", is_staff=True)
    editors = Group.objects.create(name="editors")
    user.groups.add(editors)
    editors.permissions.add(Permission.objects.get(codename="add_group"))
    headers = bearer(create_jwt_for_user(user, secret=SECRET))
    table = User._meta.db_table
    with TestClient(api) as client:
        for _ in range(2):
            with CaptureQueriesContext(connection) as queries:
                r = client.get("/desk", headers=headers)
            assert answer(r) == (200, {"username": "desk-editor"})
            loads = [q["sql"] for q in queries if f'FROM "{table}"' in q["sql"]]
            assert len(loads) == 1, loads


# -- shared state ------------------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL")


@requires("Redis (REDIS_URL)", REDIS_URL)
def test_redis_keys_carry_the_default_prefix_bolt(settings):
    """security.md: "`BOLT_REDIS_PREFIX` | key prefix, default `bolt:`"."""
    import redis

    from django_bolt.auth.store import reset_shared_backend

    settings.BOLT_REDIS_URL = REDIS_URL
    if hasattr(settings, "BOLT_REDIS_PREFIX"):
        del settings.BOLT_REDIS_PREFIX
    tenant = f"prefix-probe-{uuid.uuid4().hex}"
    server = redis.Redis.from_url(REDIS_URL)
    api = BoltAPI()

    @api.get("/limited")
    @rate_limit(rps=0.01, burst=1, key="header:X-Tenant")
    async def limited():
        return {"ok": True}

    reset_shared_backend()
    try:
        with TestClient(api) as client:
            statuses = [
                client.get("/limited", headers={"X-Tenant": tenant}).status_code for _ in range(2)
            ]
        assert statuses == [200, 429]  # the bucket lives in Redis
        keys = sorted(k.decode() for k in server.scan_iter(f"*{tenant}*"))
        assert len(keys) == 1, keys
        assert keys[0].startswith("bolt:"), keys
    finally:
        reset_shared_backend()
        for key in server.scan_iter(f"*{tenant}*"):
            server.delete(key)
