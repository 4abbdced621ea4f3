"""urls.py is the source of truth; every path the Rust router does not own is Django's."""

import re

import pytest
from django.test import AsyncClient, Client
from testproject.api import api as project_api

from django_bolt.routing.discovery import autodiscover, find_mounts
from django_bolt.server.site import compile_site
from django_bolt.testing import TestClient
from tests.conftest import DJANGO_404, answer, django_error_page

# Django views run on the server's worker threads, which must see committed data.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def site_client():
    """The whole testproject URLconf, as runbolt serves it."""
    with TestClient() as c:
        yield c


def test_find_mounts_sees_the_api_under_its_prefix():
    from testproject import secure_api

    assert find_mounts() == [("api/", project_api), ("secure/", secure_api.api)]


def test_compiled_site_prefixes_every_route():
    site = compile_site()
    paths = {row[1] for row in site.table}
    assert "/api/hello" in paths
    assert "/api/items/{item_id}" in paths
    assert ("GET", "/api/sync/{n}") in {(m, p) for m, p, _, blocking, _ in site.table if blocking}


def test_non_literal_include_prefix_falls_back_to_django(settings):
    settings.ROOT_URLCONF = "tests.urls_regex"
    assert find_mounts() == [("v1/", project_api)]
    # Both mounts answer: the literal one from the Rust router, the regex one (which
    # Rust cannot compile) through Django's resolver, with the same handlers.
    with TestClient() as client:
        for prefix in ("/v1", "/v7"):
            r = client.get(f"{prefix}/items/3?q=a")
            assert r.json() == {"item_id": 3, "q": "a", "limit": 10}, prefix
        assert client.get("/v7/hello").json() == {"message": "Hello, World!"}
        assert client.get("/v7/items/x").status_code == 422  # validated the same way


def test_autodiscovery_without_mounts(settings):
    settings.ROOT_URLCONF = "tests.urls_empty"
    assert find_mounts() == []
    mounts = autodiscover()
    assert ("", project_api) in mounts


def test_same_routes_through_djangos_test_client():
    client = Client()
    assert client.get("/api/hello").json() == {"message": "Hello, World!"}
    assert client.get("/api/items/3?q=a").json() == {"item_id": 3, "q": "a", "limit": 10}
    response = client.post(
        "/api/items", data={"name": "pen", "price": 2}, content_type="application/json"
    )
    assert response.json() == {"name": "pen", "price": 2.0, "tags": []}
    bad = client.get("/api/items/nope")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["path", "item_id"]
    assert client.get("/api/sync/2").json() == {"n": 2, "sync": True}
    not_allowed = client.delete("/api/hello")
    assert not_allowed.status_code == 405
    assert not_allowed["Allow"] == "GET, HEAD"


async def test_same_routes_through_djangos_async_client():
    client = AsyncClient()
    response = await client.get("/api/items/8")
    assert response.json() == {"item_id": 8, "q": None, "limit": 10}


def test_same_routes_under_wsgi():
    from wsgiref.util import setup_testing_defaults

    from testproject.wsgi import application

    environ = {}
    setup_testing_defaults(environ)
    environ["PATH_INFO"] = "/api/hello"
    captured = {}

    def start_response(status, headers):
        captured["status"] = status

    body = b"".join(application(environ, start_response))
    assert captured["status"] == "200 OK"
    assert body == b'{"message":"Hello, World!"}'


def test_api_routes_and_django_views_side_by_side(site_client):
    assert site_client.get("/api/hello").json() == {"message": "Hello, World!"}
    response = site_client.get("/django/plain/?x=1")
    assert response.status_code == 200
    assert response.text == "django view: GET /django/plain/"


def test_django_404_page(site_client):
    response = site_client.get("/no/such/page/")
    assert answer(response) == (404, django_error_page(*DJANGO_404))
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_django_500_page_and_recovery(site_client):
    response = site_client.get("/django/boom/")
    assert response.status_code == 500
    assert "django view failure" not in response.text
    assert site_client.get("/django/plain/").status_code == 200


def test_streaming_http_response(site_client):
    response = site_client.get("/django/stream/?n=4")
    assert response.status_code == 200
    assert response.text == "chunk 0\nchunk 1\nchunk 2\nchunk 3\n"


def test_file_response(site_client):
    response = site_client.get("/django/file/")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="urls.py"'
    assert b"urlpatterns" in response.content
    assert int(response.headers["content-length"]) == len(response.content)


def test_admin_login_change_list_and_forms(site_client):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    site_client.cookies.clear()
    page = site_client.get("/admin/login/")
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    login = site_client.post(
        "/admin/login/?next=/admin/",
        data={"username": "root", "password": "pw-root-123", "csrfmiddlewaretoken": token},
    )
    assert login.status_code == 302, login.text
    assert login.headers["location"] == "/admin/"
    assert "sessionid" in site_client.cookies
    add_page = site_client.get("/admin/users/note/add/")
    assert add_page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', add_page.text).group(1)
    created = site_client.post(
        "/admin/users/note/add/",
        data={"title": "First note", "body": "hello", "csrfmiddlewaretoken": token},
    )
    assert created.status_code == 302
    change_list = site_client.get("/admin/users/note/")
    assert "First note" in change_list.text
    from users.models import Note

    note = Note.objects.get()
    change = site_client.get(f"/admin/users/note/{note.pk}/change/")
    assert change.status_code == 200
    assert 'value="First note"' in change.text


def test_post_without_csrf_token_is_rejected_by_django(site_client):
    site_client.cookies.clear()
    response = site_client.post("/admin/login/", data={"username": "x", "password": "y"})
    assert response.status_code == 403
