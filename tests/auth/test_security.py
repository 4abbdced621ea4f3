"""Safe by default: every refusal the server promises, each through the real pipeline."""

import base64
import json
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_bolt import BoltAPI
from django_bolt.auth import APIKeyAuthentication, IsAuthenticated, JWTAuthentication, encode_jwt
from django_bolt.middleware import CORSMiddleware
from django_bolt.testing import TestClient

SECRET = "security-suite-secret-0123456789abcdef"


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**extra):
    return {"sub": "1", "exp": int(time.time()) + 300, **extra}


def good():
    return encode_jwt(claims(), secret=SECRET)


def unsigned(alg: str) -> str:
    return f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims())}."


api = BoltAPI(
    auth=[JWTAuthentication(secret=SECRET)],
    guards=[IsAuthenticated],
    middleware=[CORSMiddleware(allow_origins=["https://example.com"], allow_credentials=True)],
)


@api.get("/secret")
async def secret():
    return {"ok": True}


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


def test_a_good_token_passes(client):
    assert client.get("/secret", headers={"Authorization": f"Bearer {good()}"}).json() == {
        "ok": True
    }


BAD_TOKENS = {
    "alg none": unsigned("none"),
    "alg None": unsigned("None"),
    "alg NONE": unsigned("NONE"),
    "alg nOnE with a signature": unsigned("nOnE") + "c2ln",
    "algorithm not allowed (HS512)": encode_jwt(claims(), secret=SECRET, algorithm="HS512"),
    "expired": encode_jwt(claims(exp=int(time.time()) - 1), secret=SECRET),
    "not yet valid": encode_jwt(claims(nbf=int(time.time()) + 120), secret=SECRET),
    "no exp": encode_jwt({"sub": "1"}, secret=SECRET),
    "wrong secret": encode_jwt(claims(), secret="x" * 40),
    "two segments": ".".join(good().split(".")[:2]),
    "four segments": good() + ".extra",
    "bad base64 header": "!!!." + good().split(".", 1)[1],
    "bad base64 signature": good().rsplit(".", 1)[0] + ".@@@",
    "header not JSON": b64(b"not json") + "." + good().split(".", 1)[1],
    "claims tampered": good().split(".")[0]
    + "."
    + b64(claims(sub="2"))
    + "."
    + good().split(".")[2],
    "oversized": good() + "A" * 9000,
    "empty": "",
}


@pytest.mark.parametrize("name", list(BAD_TOKENS))
def test_bad_tokens_are_refused_without_python(client, name):
    before = client.handed_over
    r = client.get("/secret", headers={"Authorization": f"Bearer {BAD_TOKENS[name]}"})
    if name == "oversized":  # over gunicorn's 8190-byte header field limit
        assert r.status_code == 431
        assert r.json() == {"detail": "The header field authorization is longer than 8190 bytes"}
    else:
        assert r.status_code == 401, name
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert client.handed_over == before


def test_hs_token_signed_with_rsa_public_key_is_refused(tmp_path):
    import subprocess

    key = tmp_path / "k.pem"
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            str(key),
        ],
        check=True,
        capture_output=True,
    )
    public = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout"], check=True, capture_output=True
    ).stdout
    rs = BoltAPI(
        auth=[JWTAuthentication(public_key=public, algorithm="RS256")], guards=[IsAuthenticated]
    )

    @rs.get("/x")
    async def x():
        return {}

    forged = encode_jwt(claims(), secret=public, algorithm="HS256")
    with TestClient(rs) as client:
        assert client.get("/x", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


@pytest.mark.parametrize(
    "origin",
    [
        "https://example.com.evil.com",
        "https://evilexample.com",
        "null",
        "http://example.com",
        "https://example.com@evil.com",
    ],
)
def test_lookalike_and_null_origins_get_nothing(client, origin):
    r = client.options(
        "/secret", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
    )
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/secret", headers={"Origin": origin, "Authorization": f"Bearer {good()}"})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: [JWTAuthentication(secret="short-secret")], "at least 32 bytes"),
        (lambda: [JWTAuthentication(secret="")], "no key"),
        (lambda: [APIKeyAuthentication(api_keys=[])], "no keys"),
        (lambda: [APIKeyAuthentication(api_keys={"": []})], "empty key"),
        (lambda: [JWTAuthentication(secret=SECRET, algorithms=["none"])], "unsupported"),
        (lambda: [JWTAuthentication(secret=SECRET, algorithms=[])], "at least one algorithm"),
    ],
)
def test_weak_authentication_refused_at_startup(build, message):
    weak = BoltAPI()

    @weak.get("/x", auth=build(), guards=[IsAuthenticated])
    async def x():
        return {}

    with pytest.raises(ImproperlyConfigured, match=message):
        TestClient(weak)


def test_wildcard_origin_with_credentials_refused_at_startup():
    for config in (
        {"allow_origins": ["*"], "allow_credentials": True},
        {"origins": ["*"], "credentials": True},
    ):
        bad = BoltAPI(middleware_config={"cors": config})

        @bad.get("/x")
        async def x():
            return {}

        with pytest.raises(ImproperlyConfigured, match="allow_credentials"):
            TestClient(bad)


def test_runbolt_refuses_to_start_with_a_weak_secret(tmp_path):
    """The refusal reaches the operator as a clear start-up error, not a crash per request."""
    import subprocess
    import sys

    from tests.conftest import MANAGE_PY

    settings_override = tmp_path / "weak_settings.py"
    settings_override.write_text(
        "from testproject.settings import *  # noqa\nROOT_URLCONF = 'weak_urls'\n"
    )
    (tmp_path / "weak_urls.py").write_text(
        "from django.urls import path\n"
        "from django_bolt import BoltAPI\n"
        "from django_bolt.auth import JWTAuthentication, IsAuthenticated\n"
        "api = BoltAPI()\n"
        "@api.get('/x', auth=[JWTAuthentication(secret='your-secret-key')], guards=[IsAuthenticated])\n"
        "async def x():\n    return {}\n"
        "urlpatterns = [path('api/', api.urls)]\n"
    )
    env = {
        "PYTHONPATH": f"{tmp_path}:{MANAGE_PY.parent}",
        "DJANGO_SETTINGS_MODULE": "weak_settings",
        "PATH": "/usr/bin:/bin",
    }
    for processes in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, str(MANAGE_PY), "runbolt", "--port", "0", "--processes", processes],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode != 0
        assert "at least 32 bytes" in proc.stderr + proc.stdout
        assert "Traceback" not in proc.stderr


def test_incomplete_custom_backends_and_guards_refused_at_startup():
    from django_bolt.auth import BaseAuth, BaseGuard, RevocationStore

    class NoAuthenticate(BaseAuth):
        pass

    class NoCheck(BaseGuard):
        pass

    for route in ({"auth": [NoAuthenticate()], "guards": [IsAuthenticated]}, {"guards": [NoCheck]}):
        bad = BoltAPI()

        @bad.get("/x", **route)
        async def x():
            return {}

        with pytest.raises(ImproperlyConfigured, match="must implement"):
            TestClient(bad)

    class HalfStore(RevocationStore):
        def revoke(self, jti, expires_at=None):
            pass

    with pytest.raises(TypeError, match="is_revoked"):
        HalfStore()
