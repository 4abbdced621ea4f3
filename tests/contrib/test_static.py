"""STATIC_URL before anything is collected: in DEBUG, Django's static file finders answer
it (as under runserver); with DEBUG off nothing serves it (collect the files, then Rust
does: test_static_serving.py)."""

from __future__ import annotations

from django_bolt.testing import TestClient
from tests.conftest import DJANGO_404, answer, django_error_page


def test_static_files_in_debug_come_from_the_finders(settings, tmp_path):
    settings.DEBUG = True
    settings.STATIC_ROOT = str(tmp_path)  # nothing collected yet
    with TestClient() as client:
        response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"body" in response.content
    assert response.headers["content-type"].startswith("text/css")
    assert "etag" not in response.headers  # Django's static view, not Rust


def test_finders_do_not_serve_with_debug_off(settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = str(tmp_path)
    with TestClient() as client:
        response = client.get("/static/admin/css/base.css")
    assert answer(response) == (404, django_error_page(*DJANGO_404))
