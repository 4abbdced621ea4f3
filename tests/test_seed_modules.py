"""The seed's smaller modules, used as the seed writes them: ``django_bolt.http``,
``django_bolt.utils.decorators.json_response``, ``django_bolt.errors.ApiError`` and the
``django_bolt.auth.token`` helpers."""

import os
import subprocess
import sys
import time

import pytest
from django.test import RequestFactory

from django_bolt import BoltAPI
from django_bolt.errors import ApiError
from django_bolt.http import HttpRequest, JsonResponse
from django_bolt.testing import TestClient
from django_bolt.utils.decorators import json_response
from tests.conftest import user_env

api = BoltAPI()


@json_response()
def get_users(request: HttpRequest) -> JsonResponse:
    return {"users": []}


@json_response(status=201, headers={"x-made": "yes"})
async def make_user(request: HttpRequest) -> JsonResponse:
    return {"created": request.method}


api.get("/users")(get_users)
api.post("/users")(make_user)


@api.get("/users/{user_id}")
def get_user(request, user_id: int):
    if user_id == 0:
        raise ApiError(400, "User not active")
    return {"id": user_id}


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


def test_json_response_on_routes(client):
    r = client.get("/users")
    assert (r.status_code, r.json(), r.headers["content-type"]) == (
        200,
        {"users": []},
        "application/json",
    )
    r = client.post("/users")
    assert (r.status_code, r.json(), r.headers["x-made"]) == (201, {"created": "POST"}, "yes")


def test_json_response_as_a_plain_django_view():
    response = get_users(RequestFactory().get("/users"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == b'{"users":[]}'


def test_api_error(client):
    r = client.get("/users/0")
    assert (r.status_code, r.json()) == (400, {"detail": "User not active"})
    assert client.get("/users/5").json() == {"id": 5}


def test_decode_jwt_applies_the_checks_of_jwt_authentication(settings):
    from django_bolt.auth.jwt_utils import create_jwt_for_user
    from django_bolt.auth.token import InvalidToken, decode_jwt, encode_jwt

    settings.JWT_SECRET_KEY = "a-secret-of-at-least-thirty-two-bytes!!"
    now = int(time.time())
    token = encode_jwt({"sub": "1", "exp": now + 60, "aud": "shop", "iss": "us"})
    assert decode_jwt(token, audience="shop", issuer="us")["sub"] == "1"
    with pytest.raises(InvalidToken, match="audience is not accepted"):
        decode_jwt(token, audience="other")
    with pytest.raises(InvalidToken, match="invalid token signature"):
        decode_jwt(token, secret="another-secret-of-thirty-two-bytes!!!!")
    with pytest.raises(InvalidToken, match='missing the "exp" claim'):
        decode_jwt(encode_jwt({"sub": "1"}))
    with pytest.raises(ValueError, match="at least 32 bytes"):
        decode_jwt(token, secret="short")

    class User:
        pk = 3
        is_staff = False
        is_superuser = False

        def get_username(self):
            return "cat"

    claims = decode_jwt(create_jwt_for_user(User()))
    assert (claims["sub"], claims["username"]) == ("3", "cat")


def test_bootstrap_finds_the_settings_manage_py_names(tmp_path, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from django_bolt.bootstrap import ensure_django_ready, settings_module_of

    (tmp_path / "manage.py").write_text(
        'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n'
    )
    assert settings_module_of(tmp_path) == "shop.settings"
    assert settings_module_of(tmp_path / "nowhere") is None
    # Django is already set up here: nothing to do.
    assert ensure_django_ready(project=tmp_path) == os.environ["DJANGO_SETTINGS_MODULE"]
    # In a fresh interpreter it sets Django up from manage.py alone.
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "settings.py").write_text(
        'SECRET_KEY = "x" * 50\nINSTALLED_APPS = ["django.contrib.contenttypes"]\n'
    )
    code = (
        "from django_bolt.bootstrap import ensure_django_ready\n"
        "print(ensure_django_ready())\n"
        "from django.contrib.contenttypes.models import ContentType\n"
        "print(ContentType._meta.app_label)\n"
    )
    env = user_env()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.stdout.split() == ["shop.settings", "contenttypes"], done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    code = "from django_bolt.bootstrap import ensure_django_ready\nensure_django_ready()\n"
    failed = subprocess.run(
        [sys.executable, "-c", code], cwd=empty, env=env, capture_output=True, text=True
    )
    assert failed.returncode == 1 and ImproperlyConfigured.__name__ in failed.stderr
    assert "manage.py" in failed.stderr
