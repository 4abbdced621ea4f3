"""``CompressedManifestStaticFilesStorage`` at ``collectstatic``: content-hashed names in a
manifest, ``.br`` and ``.gz`` siblings where compression pays, and runbolt serving the
result from Rust (hashed names immutable, the sibling the client accepts)."""

from __future__ import annotations

import gzip
import json
import os

import brotli
import pytest
from django.core.management import call_command
from django.test import override_settings

from django_bolt import BoltAPI
from django_bolt.testing import TestClient

STORAGE = "django_bolt.contrib.static.storage.CompressedManifestStaticFilesStorage"


@pytest.fixture(scope="module")
def collected_root(tmp_path_factory):
    """The admin's static files collected once for the module (Brotli at its best
    quality takes a while)."""
    root = tmp_path_factory.mktemp("static")
    extra = tmp_path_factory.mktemp("project_static")
    (extra / "logo.png").write_bytes(os.urandom(4096))  # already compressed
    (extra / "tiny.css").write_bytes(b"a{}")  # too small to gain
    from django.conf import settings

    storages = {**settings.STORAGES, "staticfiles": {"BACKEND": STORAGE}}
    with override_settings(
        STATIC_ROOT=str(root),
        STATIC_URL="/static/",
        STORAGES=storages,
        STATICFILES_DIRS=[str(extra)],
    ):
        call_command("collectstatic", "--noinput", verbosity=0)
    return root


@pytest.fixture
def collected(collected_root, settings):
    settings.STATIC_ROOT = str(collected_root)
    settings.STATIC_URL = "/static/"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": STORAGE}}
    return collected_root


def test_collectstatic_writes_hashed_names_and_siblings(collected):
    paths = json.loads((collected / "staticfiles.json").read_text())["paths"]
    hashed = paths["admin/css/base.css"]
    assert hashed != "admin/css/base.css" and hashed.startswith("admin/css/base.")
    original = (collected / hashed).read_bytes()
    assert brotli.decompress((collected / (hashed + ".br")).read_bytes()) == original
    assert gzip.decompress((collected / (hashed + ".gz")).read_bytes()) == original
    # Formats that are already compressed get no siblings.
    for name in (paths["logo.png"], paths["tiny.css"]):
        assert not (collected / (name + ".gz")).exists(), name
        assert not (collected / (name + ".br")).exists(), name


def test_a_second_collectstatic_keeps_the_siblings(collected):
    from django.contrib.staticfiles.storage import staticfiles_storage

    hashed = json.loads((collected / "staticfiles.json").read_text())["paths"]["admin/js/core.js"]
    sibling = collected / (hashed + ".br")
    before = sibling.stat().st_mtime_ns
    assert str(sibling) not in staticfiles_storage.compress_all()
    assert sibling.stat().st_mtime_ns == before


def test_compression_that_does_not_pay_is_skipped(tmp_path):
    from django_bolt._core import precompress

    tiny = tmp_path / "tiny.css"
    tiny.write_bytes(b"a{}")
    assert precompress(str(tiny)) == []
    assert not (tmp_path / "tiny.css.gz").exists()
    big = tmp_path / "big.css"
    big.write_bytes(b"a { color: red; }\n" * 500)
    assert sorted(precompress(str(big))) == [str(big) + ".br", str(big) + ".gz"]


def test_runbolt_serves_the_collected_files(collected, settings):
    settings.DEBUG = False
    hashed = json.loads((collected / "staticfiles.json").read_text())["paths"]["admin/css/base.css"]
    with TestClient(BoltAPI(openapi_url=None), django_fallback=False) as client:
        r = client.get("/static/" + hashed, headers={"Accept-Encoding": "br"})
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "br"
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.content == (collected / hashed).read_bytes()
        plain = client.get("/static/admin/css/base.css", headers={"Accept-Encoding": "gzip"})
        assert plain.headers["cache-control"] == "public, max-age=60"
        assert plain.headers["content-encoding"] == "gzip"
