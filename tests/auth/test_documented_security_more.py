"""More of what docs/security.md promises: JWTs signed with HS384, PS256/384/512 and EdDSA
(made by the token helpers, checked against an independent implementation both ways),
rate limits keyed by API key, malformed CORS origins refused at start-up with the route
named (TestClient, ``manage.py check`` and ``runbolt``), and a middleware class
instantiated once."""

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import textwrap
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured

from django_bolt import BoltAPI, Request
from django_bolt.auth import (
    APIKeyAuthentication,
    IsAuthenticated,
    JWTAuthentication,
    create_jwt_for_user,
)
from django_bolt.auth.token import decode_jwt
from django_bolt.middleware import CORSMiddleware, cors, middleware, rate_limit
from django_bolt.testing import TestClient
from tests.conftest import answer, user_env

User = get_user_model()
HS_SECRET = "hs384-secret-that-is-comfortably-over-32-bytes"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pem_pair(private) -> tuple[bytes, bytes]:
    return (
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def pss(alg: str) -> padding.PSS:
    # RFC 7518 3.5: MGF1 with the same hash, a salt as long as the hash.
    return padding.PSS(mgf=padding.MGF1(HASHES[alg[2:]]()), salt_length=padding.PSS.DIGEST_LENGTH)


class Keys:
    """Keys made with ``cryptography``: one RSA pair (the PS family), one Ed25519 pair, and
    a second of each that the server does not trust."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.other_ed = ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def keys():
    return Keys()


def foreign_token(alg: str, claims: dict, keys: Keys) -> str:
    """A token signed by ``cryptography`` / ``hmac``, not by django_bolt."""
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    signing_input = f"{head}.{b64(json.dumps(claims).encode())}".encode()
    if alg.startswith("HS"):
        digest = getattr(hashlib, f"sha{alg[2:]}")
        signature = hmac.new(HS_SECRET.encode(), signing_input, digest).digest()
    elif alg.startswith("PS"):
        signature = keys.rsa.sign(signing_input, pss(alg), HASHES[alg[2:]]())
    else:
        signature = keys.ed.sign(signing_input)
    return f"{signing_input.decode()}.{b64(signature)}"


def verify_independently(alg: str, token: str, keys: Keys) -> None:
    signing_input, _, signature = token.rpartition(".")
    header = json.loads(unb64(signing_input.split(".")[0]))
    assert header["alg"] == alg
    raw = unb64(signature)
    if alg.startswith("HS"):
        digest = getattr(hashlib, f"sha{alg[2:]}")
        expected = hmac.new(HS_SECRET.encode(), signing_input.encode(), digest).digest()
        assert hmac.compare_digest(raw, expected)
    elif alg.startswith("PS"):
        keys.rsa.public_key().verify(raw, signing_input.encode(), pss(alg), HASHES[alg[2:]]())
    else:
        keys.ed.public_key().verify(raw, signing_input.encode())


def family(alg: str, keys: Keys) -> dict:
    """The signing key, the authenticator's key and an untrusted signing key."""
    if alg.startswith("HS"):
        return {"sign": HS_SECRET, "verify": HS_SECRET, "other": HS_SECRET[::-1] + "-other"}
    if alg.startswith("PS"):
        return {
            "sign": pem_pair(keys.rsa)[0],
            "verify": pem_pair(keys.rsa)[1],
            "other": pem_pair(keys.other_rsa)[0],
        }
    return {
        "sign": pem_pair(keys.ed)[0],
        "verify": pem_pair(keys.ed)[1],
        "other": pem_pair(keys.other_ed)[0],
    }


ALGORITHMS = ["HS384", "PS256", "PS384", "PS512", "EdDSA"]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_token_signed_with_the_algorithm_authenticates_a_request(keys, alg):
    material = family(alg, keys)
    jwt_api = BoltAPI()

    @jwt_api.get(
        "/me",
        auth=[JWTAuthentication(**_key_argument(alg, material["verify"]), algorithms=[alg])],
        guards=[IsAuthenticated()],
    )
    async def me(request: Request):
        ctx = request.context
        return {
            "user_id": ctx["user_id"],
            "username": ctx["username"],
            "backend": ctx["auth_backend"],
            "tenant": ctx["tenant"],
            "token_user": request.user.id,
        }

    user = User(pk=7, username="ann")
    token = create_jwt_for_user(
        user, extra_claims={"tenant": "acme"}, secret=material["sign"], algorithm=alg
    )
    verify_independently(alg, token, keys)
    now = int(time.time())
    theirs = foreign_token(
        alg, {"sub": "8", "username": "bob", "tenant": "t", "exp": now + 60}, keys
    )
    with TestClient(jwt_api, django_fallback=False) as client:
        assert answer(client.get("/me", headers=bearer(token))) == (
            200,
            {
                "user_id": "7",
                "username": "ann",
                "backend": "jwt",
                "tenant": "acme",
                "token_user": 7,
            },
        )
        assert client.get("/me", headers=bearer(theirs)).json()["username"] == "bob"
        # Signed by a key the authenticator does not hold: refused.
        forged = create_jwt_for_user(user, secret=material["other"], algorithm=alg)
        assert client.get("/me", headers=bearer(forged)).status_code == 401
        expired = foreign_token(alg, {"sub": "8", "exp": now - 60}, keys)
        assert answer(client.get("/me", headers=bearer(expired))) == (
            401,
            {"detail": "Token has expired"},
        )
    # decode_jwt applies the same checks in Python.
    claims = decode_jwt(token, secret=material["verify"], algorithms=[alg])
    assert (claims["sub"], claims["tenant"]) == ("7", "acme")


def _key_argument(alg: str, key) -> dict:
    return {"secret": key} if alg.startswith("HS") else {"public_key": key}


def test_a_ps_token_verifies_only_against_its_own_hash(keys):
    """PS256/384/512 share the RSA key: an authenticator listing one refuses the others."""
    _, public = pem_pair(keys.rsa)
    only_384 = BoltAPI()

    @only_384.get(
        "/x",
        auth=[JWTAuthentication(public_key=public, algorithm="PS384")],
        guards=[IsAuthenticated()],
    )
    async def x(request: Request):
        return {"sub": request.context.get("sub")}

    now = int(time.time())
    with TestClient(only_384, django_fallback=False) as client:
        ps384 = foreign_token("PS384", {"sub": "1", "exp": now + 60}, keys)
        assert client.get("/x", headers=bearer(ps384)).json() == {"sub": "1"}
        for alg in ("PS256", "PS512"):
            r = client.get(
                "/x", headers=bearer(foreign_token(alg, {"sub": "1", "exp": now + 60}, keys))
            )
            assert answer(r) == (401, {"detail": "Token algorithm is not allowed"}), alg
    # Ours verifies with the independent implementation only under its own hash.
    ours = create_jwt_for_user(User(pk=1), secret=pem_pair(keys.rsa)[0], algorithm="PS384")
    signing_input, _, signature = ours.rpartition(".")
    with pytest.raises(InvalidSignature):
        keys.rsa.public_key().verify(
            unb64(signature), signing_input.encode(), pss("PS256"), hashes.SHA256()
        )


# -- rate limits keyed by API key ----------------------------------------------------------


def test_rate_limit_keyed_by_api_key_counts_each_key_wherever_it_comes_from(settings):
    settings.BOLT_TRUSTED_PROXIES = ["127.0.0.1"]
    keyed = BoltAPI()
    backend = APIKeyAuthentication(
        api_keys={
            "k-alpha-123": {"name": "alpha", "permissions": []},
            "k-beta-456": {"name": "beta", "permissions": []},
        }
    )

    @keyed.get("/metered", auth=[backend], guards=[IsAuthenticated()])
    @rate_limit(rps=0.01, burst=2, key="api_key")
    async def metered(request: Request):
        return {"key": request.context["api_key_name"]}

    def call(client, key, ip):
        return client.get("/metered", headers={"X-API-Key": key, "X-Forwarded-For": ip})

    with TestClient(keyed, django_fallback=False) as client:
        # alpha's bucket holds two, whichever client address sends the key.
        assert answer(call(client, "k-alpha-123", "1.1.1.1")) == (200, {"key": "alpha"})
        assert answer(call(client, "k-alpha-123", "2.2.2.2")) == (200, {"key": "alpha"})
        refused = call(client, "k-alpha-123", "3.3.3.3")
        assert answer(refused) == (429, {"detail": "Rate limit exceeded"})
        assert int(refused.headers["retry-after"]) > 0
        # beta has its own bucket, even from an address alpha used.
        assert answer(call(client, "k-beta-456", "1.1.1.1")) == (200, {"key": "beta"})
        assert answer(call(client, "k-beta-456", "1.1.1.1")) == (200, {"key": "beta"})
        assert call(client, "k-beta-456", "4.4.4.4").status_code == 429


# -- malformed CORS origins ----------------------------------------------------------------

BAD_ORIGIN_MESSAGE = (
    'invalid origin "app.example.com": use scheme://host[:port], scheme://*.domain, "null" or "*"'
)


def test_a_malformed_origin_is_refused_by_the_test_client_naming_the_route():
    per_route = BoltAPI()

    @per_route.get("/fine")
    async def fine():
        return {}

    @per_route.get("/widgets")
    @cors(origins=["app.example.com"])
    async def list_widgets():
        return {}

    with pytest.raises(ImproperlyConfigured) as refused:
        TestClient(per_route)
    message = str(refused.value)
    assert "list_widgets" in message and "/widgets" in message, message
    assert BAD_ORIGIN_MESSAGE in message, message

    api_wide = BoltAPI(middleware=[CORSMiddleware(allow_origins=["https://*"])])

    @api_wide.get("/gadgets")
    async def gadgets():
        return {}

    with pytest.raises(ImproperlyConfigured) as refused:
        TestClient(api_wide)
    message = str(refused.value)
    # The API-wide setting is refused at the first of its routes compiled, named by its
    # name and path (here the document's route, which the API's middleware covers too).
    routes = {(r.name, r.path) for r in api_wide.routes}
    assert any(message.startswith(f"{name} ({path}): ") for name, path in routes), message
    assert 'invalid origin "https://*"' in message, message


PROJECT_API = """
from django_bolt import BoltAPI
from django_bolt.middleware import cors

api = BoltAPI()


@api.get("/widgets")
@cors(origins=["app.example.com"])
async def list_widgets():
    return {}
"""


def write_project(root) -> dict[str, str]:
    (root / "proj").mkdir()
    (root / "proj" / "__init__.py").write_text("")
    (root / "proj" / "settings.py").write_text(
        textwrap.dedent(
            """
            SECRET_KEY = "malformed-origin-project-secret-0123456789abcdef"
            INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_bolt"]
            ROOT_URLCONF = "proj.urls"
            DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
            ALLOWED_HOSTS = ["*"]
            """
        )
    )
    (root / "proj" / "api.py").write_text(PROJECT_API)
    (root / "proj" / "urls.py").write_text(
        "from django.urls import path\nfrom proj.api import api\n"
        'urlpatterns = [path("api/", api.urls)]\n'
    )
    (root / "manage.py").write_text(
        "import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n"
    )
    return user_env(HOME=str(root))


def test_a_malformed_origin_is_reported_by_check_and_refused_by_runbolt(tmp_path):
    env = write_project(tmp_path)

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    checked = manage("check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "django_bolt.E001" in checked.stderr, checked.stderr
    assert "list_widgets" in checked.stderr and "/widgets" in checked.stderr, checked.stderr
    assert BAD_ORIGIN_MESSAGE in checked.stderr, checked.stderr

    started = manage("runbolt", "--host", "127.0.0.1", "--port", "0")
    output = started.stdout + started.stderr
    assert started.returncode != 0, output
    assert "Traceback" not in output, output
    assert "list_widgets" in output and "/widgets" in output, output
    assert BAD_ORIGIN_MESSAGE in output, output
    assert " serving " not in output, output


# -- a middleware class is instantiated once ------------------------------------------------


class Counted:
    """Middleware given as a class: counts its instances and the requests each one saw."""

    made: list["Counted"] = []

    def __init__(self):
        Counted.made.append(self)
        self.seen = 0

    async def __call__(self, request, call_next):
        self.seen += 1
        response = await call_next(request)
        response.headers["x-instance"] = str(id(self))
        return response


class RouteCounted(Counted):
    made: list["Counted"] = []

    def __init__(self):
        RouteCounted.made.append(self)
        self.seen = 0


def test_a_middleware_class_given_to_the_api_is_instantiated_once():
    Counted.made.clear()
    counted = BoltAPI(middleware=[Counted])

    @counted.get("/async")
    async def async_route():
        return {"route": "async"}

    @counted.get("/sync")
    def sync_route():
        return {"route": "sync"}

    with TestClient(counted, django_fallback=False) as client:
        instances = set()
        for path in ("/async", "/sync") * 4:
            r = client.get(path)
            assert r.json() == {"route": path[1:]}
            instances.add(r.headers["x-instance"])
    # One instance, made without arguments, answered all eight requests of both routes.
    assert len(Counted.made) == 1, f"{len(Counted.made)} instances"
    assert instances == {str(id(Counted.made[0]))}
    assert Counted.made[0].seen == 8


def test_a_middleware_class_given_to_one_route_is_instantiated_once():
    RouteCounted.made.clear()
    plain = BoltAPI()

    @plain.get("/extra")
    @middleware(RouteCounted)
    async def extra():
        return {"route": "extra"}

    with TestClient(plain, django_fallback=False) as client:
        answers = [client.get("/extra") for _ in range(4)]
    assert [r.json() for r in answers] == [{"route": "extra"}] * 4
    assert len(RouteCounted.made) == 1
    assert {r.headers["x-instance"] for r in answers} == {str(id(RouteCounted.made[0]))}
    assert RouteCounted.made[0].seen == 4
