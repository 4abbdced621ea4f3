"""``BOLT = {"SERVE_MEDIA": True}``: MEDIA_ROOT at MEDIA_URL from Rust, looked up per request
(files uploaded after start are served), with the static files' protections, and types a
browser would execute sent as downloads."""

from __future__ import annotations

import os

import pytest

from django_bolt import BoltAPI
from django_bolt.testing import TestClient
from tests.conftest import NOT_FOUND, answer

api = BoltAPI(openapi_url=None)


@pytest.fixture
def media(tmp_path, settings):
    root = tmp_path / "media"
    root.mkdir()
    (tmp_path / "secret.txt").write_bytes(b"outside the media root")
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    settings.MEDIA_ROOT = str(root)
    settings.MEDIA_URL = "/media/"
    settings.STATIC_ROOT = str(tmp_path / "no-static")
    settings.BOLT = {"SERVE_MEDIA": True}
    return root


@pytest.fixture
def client(media):
    with TestClient(api, django_fallback=False) as c:
        yield c


def test_files_uploaded_after_start_are_served(media, client):
    assert answer(client.get("/media/avatars/ann.png")) == (404, b"Not Found")
    (media / "avatars").mkdir()
    (media / "avatars" / "ann.png").write_bytes(b"\x89PNG fake image")
    r = client.get("/media/avatars/ann.png")
    assert r.status_code == 200
    assert r.content == b"\x89PNG fake image"
    assert r.headers["content-type"] == "image/png"
    assert r.headers["cache-control"] == "public, max-age=0"
    assert "content-disposition" not in r.headers
    etag = r.headers["etag"]
    assert client.get("/media/avatars/ann.png", headers={"If-None-Match": etag}).status_code == 304
    (media / "avatars" / "ann.png").write_bytes(b"\x89PNG a new picture, longer")
    changed = client.get("/media/avatars/ann.png", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.content.endswith(b"longer")


@pytest.mark.parametrize("name", ["page.html", "drawing.svg", "feed.xml"])
def test_types_a_browser_would_run_are_downloads(media, client, name):
    (media / name).write_bytes(b"<script>alert(1)</script>")
    r = client.get("/media/" + name)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == "attachment"
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "uri",
    [
        "/media/escape.txt",
        "/media/../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/a%2f..%2f..%2fsecret.txt",
        "/media/",
        "/media//secret.txt",
    ],
)
def test_nothing_outside_media_root(client, uri):
    status, _, body = client._runtime.app.request("GET", uri, [], b"")
    assert status in (400, 404)
    assert b"outside the media root" not in body


def test_media_is_left_to_django_unless_asked(media, settings):
    settings.BOLT = {}
    (media / "doc.txt").write_bytes(b"x")
    with TestClient(api, django_fallback=False) as c:
        assert answer(c.get("/media/doc.txt")) == NOT_FOUND
