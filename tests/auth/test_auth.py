"""Authentication and guards through the real Rust pipeline."""

import base64
import json
import subprocess
import time
from typing import Annotated

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_bolt import BoltAPI, Depends, Request
from django_bolt.auth import (
    AllowAny,
    APIKeyAuthentication,
    APIKeyBearer,
    AuthResult,
    BaseAuth,
    BaseGuard,
    HasAllPermissions,
    HasAnyPermission,
    HasPermission,
    HasRole,
    IsAdminUser,
    IsAuthenticated,
    IsStaff,
    JWTAuthentication,
    JWTBearer,
    api_key_required,
    encode_jwt,
    extract_user_id_from_context,
    get_current_user,
    jwt_required,
)
from django_bolt.param_functions import Header
from django_bolt.testing import TestClient

SECRET = "test-secret-that-is-long-enough-for-hs256!"
auth = [JWTAuthentication(secret=SECRET)]


def token(secret=SECRET, algorithm="HS256", **claims):
    now = int(time.time())
    body = {"sub": "42", "exp": now + 300, **claims}
    return encode_jwt(
        {k: v for k, v in body.items() if v is not None}, secret=secret, algorithm=algorithm
    )


def bearer(tok):
    return {"Authorization": f"Bearer {tok}"}


api = BoltAPI()


@api.get("/me", auth=auth, guards=[IsAuthenticated()])
async def me(request: Request):
    return {"context": request.context, "user_id": request.user.id}


@api.get("/open", auth=auth)
async def open_route(request: Request):
    return {"user_id": request.context.get("user_id")}


@api.get("/public", auth=auth, guards=[AllowAny])
async def public(request: Request):
    return {"ok": True}


@api.get("/admin", auth=auth, guards=[IsAdminUser()])
async def admin_only():
    return {"ok": True}


@api.get("/staff", auth=auth, guards=[IsStaff])
async def staff_only():
    return {"ok": True}


@api.get("/perm", auth=auth, guards=[HasPermission("blog.change_post")])
async def perm():
    return {"ok": True}


@api.get("/all", auth=auth, guards=[HasAllPermissions("a.x", "a.y")])
async def all_perms():
    return {"ok": True}


@api.get("/any", auth=auth, guards=[HasAnyPermission("a.x", "a.y")])
async def any_perm():
    return {"ok": True}


@api.get("/role", auth=auth, guards=[HasRole("admin")])
async def role():
    return {"ok": True}


@api.get("/sync", auth=auth, guards=[IsAuthenticated])
def sync_route(request: Request):
    return {"user_id": request.context["user_id"]}


class HeaderGuard(BaseGuard):
    async def check(self, request) -> bool:
        return request.headers.get("x-custom-header") == "secret"


@api.get("/custom-guard", guards=[HeaderGuard()])
async def custom_guard():
    return {"ok": True}


@api.get("/custom-guard-sync", guards=[HeaderGuard()])
def custom_guard_sync():
    return {"ok": True}


class PrefixAuth(BaseAuth):
    """The seed's custom backend shape: ``Authorization: Bearer user_<id>``."""

    async def authenticate(self, request) -> AuthResult:
        value = request.headers.get("authorization", "")
        if value.startswith("Bearer user_"):
            from types import SimpleNamespace

            user = SimpleNamespace(
                pk=int(value.split("_")[1]), is_authenticated=True, is_staff=False
            )
            return AuthResult(user=user, context={"via": "prefix"})
        return AuthResult()


@api.get("/custom-auth", auth=[PrefixAuth()], guards=[IsAuthenticated])
async def custom_auth(request: Request):
    return {"user_id": request.context["user_id"], "via": request.context["via"]}


@api.get("/jwt-or-custom", auth=[*auth, PrefixAuth()], guards=[IsAuthenticated])
async def jwt_or_custom(request: Request):
    return {"backend": request.context["auth_backend"]}


@api.get("/current", auth=auth, guards=[IsAuthenticated])
async def current(request: Request, uid=Depends(extract_user_id_from_context)):
    return {
        "uid": uid,
        "seed_style": request.get("context", {}).get("user_id"),
        "auth": request.get("auth"),
    }


@api.get(
    "/cookie", auth=[JWTAuthentication(secret=SECRET, cookie="access")], guards=[IsAuthenticated]
)
async def cookie_route(request: Request):
    return {"user_id": request.context["user_id"]}


@api.get("/header-too", auth=auth, guards=[IsAuthenticated])
async def header_too(authorization: Annotated[str, Header(alias="Authorization")]):
    return {"scheme": authorization.split()[0]}


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


def test_valid_token_fills_context_and_user(client):
    r = client.get("/me", headers=bearer(token(tenant="acme", permissions=["a.x"])))
    assert r.status_code == 200
    ctx = r.json()["context"]
    assert ctx["user_id"] == "42"
    assert ctx["auth_backend"] == "jwt"
    assert ctx["tenant"] == "acme"  # custom claims
    assert ctx["claims"]["tenant"] == "acme"
    assert ctx["permissions"] == ["a.x"]
    assert r.json()["user_id"] == 42


def test_missing_token_is_401_with_challenge(client):
    r = client.get("/me")
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided"}
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'


def test_invalid_token_reason_in_detail_and_challenge(client):
    r = client.get("/me", headers=bearer(token(exp=int(time.time()) - 5)))
    assert r.status_code == 401
    assert r.json() == {"detail": "Token has expired"}
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_auth_without_guards_never_refuses(client):
    assert client.get("/open").json() == {"user_id": None}
    assert client.get("/open", headers=bearer("garbage")).json() == {"user_id": None}
    assert client.get("/open", headers=bearer(token())).json() == {"user_id": "42"}
    assert client.get("/public").status_code == 200


@pytest.mark.parametrize(
    ("path", "claims", "status"),
    [
        ("/admin", {"is_superuser": False}, 403),
        ("/admin", {"is_superuser": True}, 200),
        ("/staff", {"is_staff": False}, 403),
        ("/staff", {"is_staff": True}, 200),
        ("/staff", {"is_superuser": True}, 200),
        ("/perm", {"permissions": ["blog.view_post"]}, 403),
        ("/perm", {"permissions": ["blog.change_post"]}, 200),
        ("/perm", {"is_superuser": True}, 200),
        ("/all", {"permissions": ["a.x"]}, 403),
        ("/all", {"permissions": ["a.x", "a.y"]}, 200),
        ("/any", {"permissions": ["a.y"]}, 200),
        ("/any", {"permissions": ["b.z"]}, 403),
        ("/role", {"roles": ["editor"]}, 403),
        ("/role", {"roles": ["editor", "admin"]}, 200),
        ("/role", {"role": "admin"}, 200),
    ],
)
def test_guards_decide_from_claims(client, path, claims, status):
    r = client.get(path, headers=bearer(token(**claims)))
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json()["detail"]


#: Claims that state every grant as absent: guards decide in Rust without Django.
NOTHING_GRANTED = {"permissions": [], "roles": [], "is_staff": False, "is_superuser": False}


def test_guard_403_details(client):
    bare = bearer(token(**NOTHING_GRANTED))
    assert client.get("/perm", headers=bare).json() == {
        "detail": 'Permission "blog.change_post" required'
    }
    assert client.get("/admin", headers=bare).json() == {"detail": "Superuser access required"}
    assert client.get("/role", headers=bare).json() == {"detail": 'Role "admin" required'}


def test_anonymous_on_guarded_route_is_401_not_403(client):
    for path in ("/admin", "/staff", "/perm", "/role"):
        assert client.get(path).status_code == 401


def test_rejections_never_reach_python(client):
    before = client.handed_over
    for path in ("/me", "/admin", "/perm"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=bearer("x.y.z")).status_code == 401
    assert client.get("/admin", headers=bearer(token(**NOTHING_GRANTED))).status_code == 403
    assert client.handed_over == before
    assert client.get("/me", headers=bearer(token())).status_code == 200
    assert client.handed_over == before + 1


def test_sync_handler_gets_context(client):
    assert client.get("/sync", headers=bearer(token(sub="7"))).json() == {"user_id": "7"}
    assert client.get("/sync").status_code == 401


def test_custom_guard_runs_in_python(client):
    assert client.get("/custom-guard").status_code == 403
    assert client.get("/custom-guard", headers={"X-Custom-Header": "secret"}).json() == {"ok": True}
    assert client.get("/custom-guard-sync").json() == {"detail": "Permission denied"}
    assert (
        client.get("/custom-guard-sync", headers={"X-Custom-Header": "secret"}).status_code == 200
    )


def test_custom_python_backend(client):
    r = client.get("/custom-auth", headers={"Authorization": "Bearer user_9"})
    assert r.json() == {"user_id": "9", "via": "prefix"}
    r = client.get("/custom-auth")
    assert r.status_code == 401
    # Refused in Python, with the challenge the route's Rust policy compiled.
    assert r.headers["www-authenticate"] == 'Session realm="api"'


def test_rust_backend_first_then_python(client):
    assert client.get("/jwt-or-custom", headers=bearer(token())).json() == {"backend": "jwt"}
    r = client.get("/jwt-or-custom", headers={"Authorization": "Bearer user_3"})
    assert r.json() == {"backend": "custom"}
    r = client.get("/jwt-or-custom")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'


def test_context_helpers_and_seed_request_get(client):
    r = client.get("/current", headers=bearer(token(sub="5")))
    body = r.json()
    assert body["uid"] == "5"
    assert body["seed_style"] == "5"
    assert body["auth"]["user_id"] == "5"


def test_token_from_cookie(client):
    assert client.get("/cookie", headers={"Cookie": "access=" + token(sub="8")}).json() == {
        "user_id": "8"
    }
    assert client.get("/cookie", headers=bearer(token(sub="9"))).json() == {"user_id": "9"}
    assert client.get("/cookie").status_code == 401


def test_authorization_header_still_readable(client):
    assert client.get("/header-too", headers=bearer(token())).json() == {"scheme": "Bearer"}


# -- API keys -----------------------------------------------------------------------------

keys_api = BoltAPI()
KEYS = APIKeyAuthentication(
    api_keys={"key-reader": ["items.view"], "key-admin": {"name": "ops", "permissions": ["*"]}},
)


@keys_api.get("/items", auth=[KEYS], guards=[HasPermission("items.view")])
async def items(request: Request):
    return {"context": request.context}


@keys_api.get("/bearer", auth=[APIKeyBearer(["bearer-key-1"])], guards=[IsAuthenticated])
async def bearer_keys(request: Request):
    return {"backend": request.context["auth_backend"]}


def test_api_keys(caplog):
    with TestClient(keys_api) as client:
        r = client.get("/items", headers={"X-API-Key": "key-reader"})
        assert r.status_code == 200
        ctx = r.json()["context"]
        assert ctx["auth_backend"] == "api_key"
        assert ctx["api_key_name"].startswith("key-")
        assert "key-reader" not in json.dumps(ctx)
        assert (
            client.get("/items", headers={"X-API-Key": "key-admin"}).json()["context"][
                "api_key_name"
            ]
            == "ops"
        )
        r = client.get("/items", headers={"X-API-Key": "key-wrong"})
        assert r.status_code == 401
        assert r.json() == {"detail": "Invalid API key"}
        assert r.headers["www-authenticate"].startswith("ApiKey")
        assert "key-wrong" not in r.text and "key-wrong" not in caplog.text
        assert client.get("/items").status_code == 401
        assert client.get("/bearer", headers=bearer("bearer-key-1")).json() == {
            "backend": "api_key"
        }
        assert client.get("/bearer", headers=bearer("nope")).status_code == 401


# -- the 002 forms: guards without auth= -------------------------------------------------

seed_api = BoltAPI()
unused = JWTBearer(secret_key=SECRET)


@seed_api.get("/protected", guards=[jwt_required])
async def protected_handler(request):
    return {"user": request.user.id}


@seed_api.get("/private", guards=[IsAuthenticated])
async def private_handler(request):
    return {"user_id": request.user.id}


@seed_api.get("/api-protected", guards=[api_key_required])
async def api_protected_handler(request):
    return {"message": "API key authenticated"}


@seed_api.get("/me", guards=[IsAuthenticated])
async def who(user=Depends(get_current_user)):
    return {"id": user.id, "username": user.username}


def test_guard_only_routes_use_settings_defaults(settings):
    settings.JWT_SECRET_KEY = SECRET
    settings.BOLT_API_KEYS = ["seed-api-key"]
    with TestClient(seed_api) as client:
        assert client.get("/protected", headers=bearer(token(sub="3"))).json() == {"user": 3}
        assert client.get("/protected").status_code == 401
        assert client.get("/private", headers=bearer(token(sub="4"))).json() == {"user_id": 4}
        r = client.get("/api-protected", headers={"X-API-Key": "seed-api-key"})
        assert r.json() == {"message": "API key authenticated"}
        assert client.get("/api-protected", headers=bearer(token())).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_get_current_user_loads_the_user(settings):
    from django.contrib.auth import get_user_model

    from django_bolt.auth import create_jwt_for_user

    settings.JWT_SECRET_KEY = SECRET
    settings.BOLT_API_KEYS = ["seed-api-key"]
    user = get_user_model().objects.create_user("dora", password="pw-dora-123456")
    tok = create_jwt_for_user(user, exp_hours=1)
    with TestClient(seed_api) as client:
        assert client.get("/me", headers=bearer(tok)).json() == {"id": user.id, "username": "dora"}
        gone = encode_jwt({"sub": "999999", "exp": int(time.time()) + 60}, secret=SECRET)
        assert client.get("/me", headers=bearer(gone)).status_code == 401


@pytest.mark.django_db
def test_create_jwt_for_user_claims(settings):
    from django.contrib.auth import get_user_model

    from django_bolt.auth import create_jwt_for_user

    settings.JWT_SECRET_KEY = SECRET
    settings.JWT_EXPIRATION = 600
    user = get_user_model()(pk=12, username="erin", is_staff=True)
    tok = create_jwt_for_user(user, extra_claims={"tenant": "t1"}, roles=["admin"])
    payload = tok.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == "12" and claims["username"] == "erin"
    assert claims["is_staff"] is True and claims["is_superuser"] is False
    assert claims["roles"] == ["admin"] and claims["tenant"] == "t1"
    assert 590 <= claims["exp"] - claims["iat"] <= 600
    assert len(claims["jti"]) == 32
    hours = create_jwt_for_user(user, exp_hours=2)
    payload = hours.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - claims["iat"] == 7200


# -- asymmetric keys ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")

    def make(name, *algo):
        priv, pub = d / f"{name}.pem", d / f"{name}.pub.pem"
        subprocess.run(
            ["openssl", "genpkey", *algo, "-out", str(priv)], check=True, capture_output=True
        )
        subprocess.run(
            ["openssl", "pkey", "-in", str(priv), "-pubout", "-out", str(pub)],
            check=True,
            capture_output=True,
        )
        return priv.read_bytes(), pub.read_bytes()

    return {
        "rsa": make("rsa", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"),
        "ec256": make("ec256", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"),
        "ec384": make("ec384", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"),
        "ec521": make("ec521", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"),
    }


def test_es512_tokens_interoperate(keys):
    """ES512 (P-521, SHA-512), checked against an independent implementation both ways."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import (
        decode_dss_signature,
        encode_dss_signature,
    )

    from django_bolt.auth.token import InvalidToken, decode_jwt

    priv_pem, pub_pem = keys["ec521"]
    private = serialization.load_pem_private_key(priv_pem, None)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731

    def foreign_token(claims):
        head = b64(json.dumps({"alg": "ES512", "typ": "JWT"}).encode())
        signing_input = f"{head}.{b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA512())))
        return f"{signing_input}.{b64(r.to_bytes(66, 'big') + s.to_bytes(66, 'big'))}"

    es_api = BoltAPI()

    @es_api.get(
        "/es512",
        auth=[JWTAuthentication(public_key=pub_pem, algorithm="ES512")],
        guards=[IsAuthenticated],
    )
    async def es512(request: Request):
        return {"sub": request.context["sub"]}

    now = int(time.time())
    ours = token(priv_pem, "ES512")
    with TestClient(es_api) as client:
        assert client.get("/es512", headers=bearer(ours)).json() == {"sub": "42"}
        theirs = foreign_token({"sub": "7", "exp": now + 60})
        assert client.get("/es512", headers=bearer(theirs)).json() == {"sub": "7"}
        expired = foreign_token({"sub": "7", "exp": now - 60})
        r = client.get("/es512", headers=bearer(expired))
        assert (r.status_code, r.json()) == (401, {"detail": "Token has expired"})
        # Another key of the same curve, and an ES256 token, are refused.
        other = ec.generate_private_key(ec.SECP521R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        assert client.get("/es512", headers=bearer(token(other, "ES512"))).status_code == 401
        es256 = token(keys["ec256"][0], "ES256")
        assert client.get("/es512", headers=bearer(es256)).status_code == 401

    # Our signature verifies with the independent implementation.
    signing_input, _, sig = ours.rpartition(".")
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    assert len(raw) == 132
    signature = encode_dss_signature(int.from_bytes(raw[:66]), int.from_bytes(raw[66:]))
    private.public_key().verify(signature, signing_input.encode(), ec.ECDSA(hashes.SHA512()))
    # A SEC1 ("EC PRIVATE KEY") PEM signs too.
    sec1 = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert decode_jwt(token(sec1, "ES512"), secret=pub_pem, algorithms="ES512")["sub"] == "42"
    with pytest.raises(InvalidToken, match="token has expired"):
        decode_jwt(expired, secret=pub_pem, algorithms=["ES512"])
    with pytest.raises(ValueError, match="P-521 private key"):
        token(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", "ES512")


def test_rs_and_es_tokens(keys):
    rsa_priv, rsa_pub = keys["rsa"]
    ec_priv, ec_pub = keys["ec256"]
    ec384_priv, ec384_pub = keys["ec384"]
    pk_api = BoltAPI()

    @pk_api.get(
        "/rs",
        auth=[JWTAuthentication(public_key=rsa_pub, algorithms=["RS256", "RS512"])],
        guards=[IsAuthenticated],
    )
    async def rs(request: Request):
        return {"sub": request.context["sub"]}

    @pk_api.get(
        "/es",
        auth=[JWTAuthentication(public_key=ec_pub, algorithm="ES256")],
        guards=[IsAuthenticated],
    )
    async def es(request: Request):
        return {"sub": request.context["sub"]}

    @pk_api.get(
        "/es384",
        auth=[JWTAuthentication(public_key=ec384_pub, algorithm="ES384")],
        guards=[IsAuthenticated],
    )
    async def es384(request: Request):
        return {"sub": request.context["sub"]}

    with TestClient(pk_api) as client:
        for alg in ("RS256", "RS512"):
            assert client.get("/rs", headers=bearer(token(rsa_priv, alg))).json() == {"sub": "42"}
        assert client.get("/es", headers=bearer(token(ec_priv, "ES256"))).json() == {"sub": "42"}
        assert client.get("/es384", headers=bearer(token(ec384_priv, "ES384"))).json() == {
            "sub": "42"
        }
        # RS384 is not in the allowed list even though the key could verify it.
        assert client.get("/rs", headers=bearer(token(rsa_priv, "RS384"))).status_code == 401
        # Algorithm confusion: an HS256 token whose HMAC key is the RSA public key.
        forged = token(rsa_pub, "HS256")
        r = client.get("/rs", headers=bearer(forged))
        assert r.status_code == 401
        assert r.json() == {"detail": "Token algorithm is not allowed"}
        # Signed by another key of the right family.
        other_priv, _ = keys["ec384"]
        assert client.get("/es", headers=bearer(token(other_priv, "ES384"))).status_code == 401


def test_configuration_mistakes_refused_at_startup():
    def compile_one(**route):
        bad = BoltAPI()

        @bad.get("/x", **route)
        async def x():
            return {}

        return TestClient(bad)

    with pytest.raises(ImproperlyConfigured, match="at least 32 bytes"):
        compile_one(auth=[JWTAuthentication(secret="your-secret-key")], guards=[IsAuthenticated])
    with pytest.raises(ImproperlyConfigured, match="no keys"):
        compile_one(auth=[APIKeyAuthentication(api_keys=[])], guards=[IsAuthenticated])
    with pytest.raises(ImproperlyConfigured, match="mix key types"):
        compile_one(auth=[JWTAuthentication(secret=SECRET, algorithms=["HS256", "RS256"])])
    with pytest.raises(ImproperlyConfigured, match="unsupported JWT algorithm"):
        compile_one(auth=[JWTAuthentication(secret=SECRET, algorithms=["none"])])
    with pytest.raises(ImproperlyConfigured, match="PEM"):
        compile_one(auth=[JWTAuthentication(secret="-----BEGIN PUBLIC KEY-----" + "A" * 64)])
    with pytest.raises(ImproperlyConfigured, match="not a guard"):
        compile_one(guards=["IsAuthenticated"])


def test_api_keys_from_a_callable_resolved_once():
    calls = []

    def load_keys():
        calls.append(1)
        return {"from-callable": ["reports.view"]}

    keyed = BoltAPI()

    backend = APIKeyAuthentication(load_keys)

    @keyed.get("/r", auth=[backend], guards=[HasPermission("reports.view")])
    async def r():
        return {"ok": True}

    @keyed.get("/r2", auth=[backend], guards=[HasPermission("reports.view")])
    async def r2():
        return {"ok": True}

    with TestClient(keyed) as client:
        for _ in range(3):
            assert client.get("/r", headers={"X-API-Key": "from-callable"}).json() == {"ok": True}
        assert client.get("/r", headers={"X-API-Key": "other"}).status_code == 401
    assert calls == [1]


def test_audience_issuer_and_leeway_through_the_server():
    strict = BoltAPI(
        auth=[
            JWTAuthentication(
                secret=SECRET, audience="orders", issuer="https://id.example", leeway=20
            )
        ],
        guards=[IsAuthenticated],
    )

    @strict.get("/x")
    async def x(request: Request):
        return {"aud": request.context["aud"]}

    now = int(time.time())
    base = {"sub": "1", "aud": "orders", "iss": "https://id.example"}
    with TestClient(strict) as client:

        def status(**claims):
            tok = encode_jwt({**base, "exp": now + 60, **claims}, secret=SECRET)
            return client.get("/x", headers=bearer(tok)).status_code

        assert status() == 200
        assert status(aud=["billing", "orders"]) == 200
        assert status(aud="billing") == 401
        assert status(iss="https://evil.example") == 401
        assert status(exp=now - 10) == 200  # within the 20 s leeway
        assert status(exp=now - 60) == 401
        assert status(nbf=now + 10) == 200
        assert status(nbf=now + 60) == 401
        no_aud = encode_jwt(
            {"sub": "1", "iss": "https://id.example", "exp": now + 60}, secret=SECRET
        )
        r = client.get("/x", headers=bearer(no_aud))
        assert r.status_code == 401
        assert r.json() == {"detail": 'Token is missing the "aud" claim'}
