"""Behaviours docs/security.md promises about authentication defaults, CORS on refusals,
the project-wide settings and the token helpers, each through the real Rust pipeline."""

from __future__ import annotations

import time

import pytest

from django_bolt import BoltAPI, Request
from django_bolt.auth import (
    APIKeyAuthentication,
    HasPermission,
    HasRole,
    IsAuthenticated,
    JWTAuthentication,
    encode_jwt,
    extract_user_id_from_context,
)
from django_bolt.auth.token import InvalidToken, decode_jwt
from django_bolt.middleware import cors, rate_limit
from django_bolt.testing import TestClient

SECRET = "documented-policy-secret-0123456789abcdef"
ORIGIN = "https://app.example.com"


def token(secret: str = SECRET, **claims) -> str:
    body = {"sub": "42", "exp": int(time.time()) + 300, **claims}
    return encode_jwt({k: v for k, v in body.items() if v is not None}, secret=secret)


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def test_auth_empty_turns_authentication_off_for_one_route():
    api = BoltAPI(auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated()])

    @api.get("/private")
    async def private(request: Request):
        return {"user": request.context.get("user_id")}

    @api.get("/public", auth=[], guards=[])
    async def public(request: Request):
        return {"context": dict(request.context or {})}

    with TestClient(api, django_fallback=False) as client:
        assert client.get("/private").status_code == 401
        assert client.get("/private", headers=bearer(token())).json() == {"user": "42"}
        # No authentication at all here: a token is not even read.
        assert client.get("/public").json() == {"context": {}}
        assert client.get("/public", headers=bearer(token())).json() == {"context": {}}


def test_refusals_carry_the_cors_headers_of_an_allowed_origin():
    api = BoltAPI()

    @api.get("/secret", auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated()])
    @cors(origins=[ORIGIN])
    async def secret():
        return {}

    @api.get("/cors-limited")
    @cors(origins=[ORIGIN])
    @rate_limit(rps=0.01, burst=1)
    async def limited():
        return {}

    with TestClient(api, django_fallback=False) as client:
        refused = client.get("/secret", headers={"Origin": ORIGIN})
        client.get("/cors-limited", headers={"Origin": ORIGIN})
        limited_answer = client.get("/cors-limited", headers={"Origin": ORIGIN})
        stranger = client.get("/secret", headers={"Origin": "https://evil.example"})
    for answer, status in ((refused, 401), (limited_answer, 429)):
        assert answer.status_code == status
        assert answer.headers["access-control-allow-origin"] == ORIGIN
        assert "origin" in answer.headers["vary"].lower()
    assert "access-control-allow-origin" not in stranger.headers


def test_rate_limit_above_the_route_decorator_applies_too():
    api = BoltAPI()

    @rate_limit(rps=0.01, burst=1)
    @api.get("/outer-limited")
    async def outer():
        return {}

    with TestClient(api, django_fallback=False) as client:
        assert [client.get("/outer-limited").status_code for _ in range(2)] == [200, 429]


def test_bolt_authentication_is_the_default_for_guarded_routes(settings):
    settings.BOLT_AUTHENTICATION = [APIKeyAuthentication(api_keys={"k-1"})]
    api = BoltAPI()

    @api.get("/guarded", guards=[IsAuthenticated()])
    async def guarded(request: Request):
        return {"backend": request.context["auth_backend"]}

    with TestClient(api, django_fallback=False) as client:
        assert client.get("/guarded", headers={"X-API-Key": "k-1"}).json() == {"backend": "api_key"}
        # JWT is not the default any more: a valid token is not read.
        assert client.get("/guarded", headers=bearer(token())).status_code == 401


def test_the_jwt_secret_falls_back_to_secret_key(settings):
    settings.JWT_SECRET_KEY = None
    settings.SECRET_KEY = "project-secret-key-that-is-long-enough-0123"
    api = BoltAPI()

    @api.get("/me", auth=[JWTAuthentication()], guards=[IsAuthenticated()])
    async def me(request: Request):
        return {"user": request.context["user_id"]}

    with TestClient(api, django_fallback=False) as client:
        good = bearer(token(secret=settings.SECRET_KEY))
        assert client.get("/me", headers=good).json() == {"user": "42"}
        assert client.get("/me", headers=bearer(token())).status_code == 401


@pytest.mark.parametrize(
    ("claims", "path", "status"),
    [
        ({"permissions": ["*"]}, "/perm", 200),
        ({"perms": ["blog.change_post"]}, "/perm", 200),
        ({"perms": ["blog.view_post"]}, "/perm", 403),
        ({"roles": ["reader", "editor"]}, "/roles", 200),
        ({"role": "admin"}, "/roles", 200),
        ({"roles": ["reader"]}, "/roles", 403),
    ],
)
def test_stated_grants_in_their_documented_forms(claims, path, status):
    api = BoltAPI(auth=[JWTAuthentication(secret=SECRET)])

    @api.get("/perm", guards=[HasPermission("blog.change_post")])
    async def perm():
        return {}

    @api.get("/roles", guards=[HasRole("editor", "admin")])
    async def roles():
        return {}

    with TestClient(api, django_fallback=False) as client:
        assert client.get(path, headers=bearer(token(**claims))).status_code == status


def test_user_id_comes_from_sub_else_user_id():
    api = BoltAPI()

    @api.get("/who", auth=[JWTAuthentication(secret=SECRET)])
    async def who(request: Request):
        return {"user_id": extract_user_id_from_context(request)}

    with TestClient(api, django_fallback=False) as client:
        assert client.get("/who", headers=bearer(token())).json() == {"user_id": "42"}
        no_sub = token(sub=None, user_id="7")
        assert client.get("/who", headers=bearer(no_sub)).json() == {"user_id": "7"}
        assert client.get("/who").json() == {"user_id": None}


def test_tokens_over_8_kib_are_refused_before_any_crypto():
    padded = token(pad="x" * 8200)
    assert len(padded) > 8192
    with pytest.raises(InvalidToken):
        decode_jwt(padded, secret=SECRET)
    assert decode_jwt(token(pad="x" * 100), secret=SECRET)["pad"] == "x" * 100


def test_compression_defaults_fallback_and_what_is_left_alone(settings):
    from django_bolt.middleware import CompressionMiddleware
    from django_bolt.responses import Response

    settings.BOLT_COMPRESSION = {"backend": "zstd", "minimum_size": 10_000}
    # The API's own compression replaces the project's (zstd, 10 KB).
    api = BoltAPI(middleware=[CompressionMiddleware(backend="brotli")])

    @api.get("/text/{size}")
    async def text(size: int):
        return Response(b"a" * size, media_type="text/plain")

    @api.get("/png")
    async def png():
        return Response(b"\x89PNG" + b"\x00" * 4000, media_type="image/png")

    @api.get("/encoded")
    async def encoded():
        return Response(b"b" * 4000, media_type="text/plain", headers={"Content-Encoding": "x"})

    def encoding(client, path, accept):
        return client.get(path, headers={"Accept-Encoding": accept}).headers.get("content-encoding")

    with TestClient(api, django_fallback=False) as client:
        assert encoding(client, "/text/600", "br, gzip") == "br"
        # Under the 500-byte default: sent as it is.
        assert encoding(client, "/text/400", "br, gzip") is None
        # A client without Brotli gets gzip (gzip_fallback).
        assert encoding(client, "/text/600", "gzip") == "gzip"
        assert encoding(client, "/png", "br, gzip") is None
        assert encoding(client, "/encoded", "br, gzip") == "x"


def test_a_route_may_use_jwt_bearer_and_token_helpers_read_no_database():
    """JWTBearer is JWTAuthentication under its other name; create_jwt_for_user works
    from the user object alone (this test has no database access at all)."""
    from django.contrib.auth.models import User

    from django_bolt.auth import JWTBearer, create_jwt_for_user

    user = User(pk=5, username="nodb", is_staff=True)
    tok = create_jwt_for_user(user, secret=SECRET, permissions=["blog.view_post"])
    api = BoltAPI()

    @api.get("/bearer", auth=[JWTBearer(secret_key=SECRET)], guards=[IsAuthenticated()])
    async def bearer_route(request: Request):
        c = request.context
        return {"user": c["user_id"], "staff": c["is_staff"], "perms": c["permissions"]}

    with TestClient(api, django_fallback=False) as client:
        assert client.get("/bearer", headers=bearer(tok)).json() == {
            "user": "5",
            "staff": True,
            "perms": ["blog.view_post"],
        }
