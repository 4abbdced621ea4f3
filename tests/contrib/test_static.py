"""STATIC_URL under runbolt: in DEBUG, Django's static file finders answer it (as under
runserver); with DEBUG off the Django application does not serve static files itself."""

from __future__ import annotations

from django_bolt.testing import TestClient


def test_static_files_in_debug_come_from_the_finders(settings):
    settings.DEBUG = True
    with TestClient() as client:
        response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"body" in response.content
    assert response.headers["content-type"].startswith("text/css")


def test_finders_do_not_serve_with_debug_off(settings):
    settings.DEBUG = False
    with TestClient() as client:
        response = client.get("/static/admin/css/base.css")
    assert response.status_code == 404
