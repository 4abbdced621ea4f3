"""``--root-path``: a site mounted below a path by its proxy. Requests arrive with the
prefix (or without it, from a proxy that strips it); routing, static files and Django
all work below it, and what the site generates (Django's URLs, the OpenAPI document,
the docs pages) carries it."""

import httpx
import pytest

from tests.conftest import DJANGO_404, answer, django_error_page, refused_start

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def mounted(bolt):
    with bolt("--root-path", "/app/") as server:
        yield server


def test_api_routes_answer_with_and_without_the_prefix(mounted):
    with httpx.Client(base_url=mounted.url) as client:
        assert client.get("/app/api/items/3?q=x").json() == {"item_id": 3, "q": "x", "limit": 10}
        assert client.get("/api/items/4").json() == {"item_id": 4, "q": None, "limit": 10}
        # A path that merely starts with the same letters is not below the root path.
        assert answer(client.get("/application/api/items/4")) == (
            404,
            django_error_page(*DJANGO_404),
        )


def test_django_sees_the_prefix_as_script_name(mounted):
    with httpx.Client(base_url=mounted.url) as client:
        page = client.get("/app/django/whoami/").json()
        assert page["uri"] == f"http://127.0.0.1:{mounted.port}/app/django/whoami/"
        plain = client.get("/app/django/plain/")
        assert plain.text == "django view: GET /app/django/plain/"
        # Django's own URLs (reverse) carry it: the admin sends to its login page.
        admin = client.get("/app/admin/")
        assert admin.status_code == 302
        assert admin.headers["location"] == "/app/admin/login/?next=/app/admin/"
        login = client.get("/app/admin/login/?next=/app/admin/")
        assert login.status_code == 200
        assert 'action="/app/admin/login/?next=/app/admin/"' in login.text


def test_openapi_and_docs_carry_the_prefix(mounted):
    with httpx.Client(base_url=mounted.url) as client:
        document = client.get("/app/api/openapi.json").json()
        assert "/app/api/items/{item_id}" in document["paths"]
        page = client.get("/app/api/docs")
        assert page.status_code == 200
        assert "/app/api/openapi.json" in page.text
        assert "/app/api/docs/assets/" in page.text


def test_a_root_path_must_be_absolute():
    done = refused_start("--root-path", "app")
    assert "ROOT_PATH must start with '/'" in done.stderr
