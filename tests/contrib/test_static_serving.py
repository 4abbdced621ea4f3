"""STATIC_ROOT served by Rust once collected, whatever DEBUG is: types, validators and
304s, HEAD, single ranges, precompressed siblings by Accept-Encoding, cache policy, and
nothing outside the indexed files."""

from __future__ import annotations

import gzip
import json
import os

import brotli
import pytest

from django_bolt import BoltAPI
from django_bolt._core import precompress
from django_bolt.testing import TestClient

api = BoltAPI(openapi_url=None)

CSS = b"body { color: #123456; margin: 0 auto; }\n" * 60
JS = b"console.log('hashed');\n" * 40
BIG = os.urandom(600 * 1024)  # above the in-memory size: streamed from the blocking pool
SECRET = b"outside the static root"
HASHED = "js/app.0123456789ab.js"


@pytest.fixture
def root(tmp_path, settings):
    static = tmp_path / "collected"
    (static / "css").mkdir(parents=True)
    (static / "js").mkdir()
    (static / "css" / "app.css").write_bytes(CSS)
    precompress(str(static / "css" / "app.css"))
    (static / HASHED).write_bytes(JS)
    (static / "big.bin").write_bytes(BIG)
    (static / "empty.txt").write_bytes(b"")
    (static / "page.html").write_bytes(b"<p>hi</p>")
    (static / "staticfiles.json").write_text(
        json.dumps({"version": "1.1", "paths": {"js/app.js": HASHED}})
    )
    (tmp_path / "secret.txt").write_bytes(SECRET)
    os.symlink(tmp_path / "secret.txt", static / "outside.txt")
    os.symlink(static / "css" / "app.css", static / "alias.css")
    settings.STATIC_ROOT = str(static)
    settings.STATIC_URL = "/static/"
    settings.DEBUG = False
    return static


@pytest.fixture
def client(root):
    with TestClient(api, django_fallback=False) as c:
        yield c


def test_a_file_with_its_type_validators_and_cache_policy(client):
    r = client.get("/static/css/app.css", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.content == CSS
    assert r.headers["content-type"] == "text/css; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=60"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["etag"].startswith('"') and r.headers["last-modified"].endswith("GMT")
    assert "content-encoding" not in r.headers


def test_hashed_names_are_immutable(client):
    r = client.get("/static/" + HASHED)
    assert r.content == JS
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"].startswith("text/javascript")
    assert "vary" not in r.headers  # no siblings to choose from


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("br", "br"),
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0.4, gzip;q=0.8", "gzip"),
        ("br;q=0, gzip;q=0", None),
        ("*", "br"),
        ("identity", None),
    ],
)
def test_the_precompressed_sibling_the_client_accepts(client, accept, encoding):
    r = client.get("/static/css/app.css", headers={"Accept-Encoding": accept})
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == encoding
    raw = r.read() if encoding is None else r.content
    assert raw == CSS  # httpx decodes br and gzip


def test_each_encoding_has_its_own_etag(root, client):
    tags = {
        enc: client.get("/static/css/app.css", headers={"Accept-Encoding": enc}).headers["etag"]
        for enc in ("identity", "gzip", "br")
    }
    assert len(set(tags.values())) == 3
    # The siblings on disk are the same bytes, compressed.
    assert gzip.decompress((root / "css" / "app.css.gz").read_bytes()) == CSS
    assert brotli.decompress((root / "css" / "app.css.br").read_bytes()) == CSS


def test_conditional_requests_answer_304(client):
    first = client.get("/static/css/app.css")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": modified},
        {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    ):
        r = client.get("/static/css/app.css", headers=headers)
        assert (r.status_code, r.content) == (304, b""), headers
        assert r.headers["etag"] == etag
    for headers in (
        {"If-None-Match": '"other"'},
        {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        # If-None-Match decides when both are sent
        {"If-None-Match": '"other"', "If-Modified-Since": modified},
    ):
        assert client.get("/static/css/app.css", headers=headers).status_code == 200, headers


def test_head_has_the_headers_and_no_body(client):
    r = client.head("/static/big.bin")
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(BIG))
    assert r.content == b""


@pytest.mark.parametrize("path", ["/static/css/app.css", "/static/big.bin"])
def test_single_ranges(client, path):
    whole = CSS if path.endswith(".css") else BIG
    n = len(whole)
    r = client.get(path, headers={"Range": "bytes=10-19", "Accept-Encoding": "br"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 10-19/{n}"
    assert "content-encoding" not in r.headers  # ranges are of the file itself
    assert r.content == whole[10:20]
    r = client.get(path, headers={"Range": "bytes=-7"})
    assert (r.status_code, r.content) == (206, whole[-7:])
    r = client.get(path, headers={"Range": f"bytes={n - 3}-"})
    assert (r.status_code, r.content) == (206, whole[-3:])
    r = client.get(path, headers={"Range": f"bytes={n}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{n}"
    for whole_file in ("bytes=0-1,4-5", "lines=1-2", "bytes=9-3"):
        r = client.get(path, headers={"Range": whole_file})
        assert (r.status_code, r.content) == (200, whole), whole_file


def test_if_range_gives_the_whole_file_once_it_changed(client):
    etag = client.get("/static/css/app.css", headers={"Accept-Encoding": "identity"}).headers[
        "etag"
    ]
    r = client.get("/static/css/app.css", headers={"Range": "bytes=0-3", "If-Range": etag})
    assert (r.status_code, r.content) == (206, CSS[:4])
    r = client.get("/static/css/app.css", headers={"Range": "bytes=0-3", "If-Range": '"old"'})
    assert (r.status_code, r.content) == (200, CSS)


def test_a_large_file_streams_whole(client):
    r = client.get("/static/big.bin")
    assert r.status_code == 200
    assert r.content == BIG


def test_empty_files_and_symlinks_inside_the_root(client):
    r = client.get("/static/empty.txt")
    assert (r.status_code, r.content) == (200, b"")
    assert client.get("/static/alias.css").content == CSS


def _raw(client, uri: str) -> tuple[int, bytes]:
    status, _, body = client._runtime.app.request("GET", uri, [], b"")
    return status, body


@pytest.mark.parametrize(
    "uri",
    [
        "/static/../secret.txt",
        "/static/css/../../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/%2E%2E/secret.txt",
        "/static/css%2fapp.css",
        "/static/css%2Fapp.css",
        "/static/css%5capp.css",
        "/static/css/app.css%00",
        "/static/./css/app.css",
        "/static//css/app.css",
        "/static/outside.txt",
        "/static/css",
        "/static/css/",
        "/static/",
        "/static/nope.css",
        "/static/" + "%2e%2e/" * 8 + "etc/passwd",
    ],
)
def test_nothing_outside_the_indexed_files(client, uri):
    status, body = _raw(client, uri)
    assert status in (400, 404), uri
    assert SECRET not in body and b"root:" not in body


def test_only_get_and_head(client):
    r = client.post("/static/css/app.css", content=b"x")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"


def test_served_from_rust_in_debug_too(root, settings):
    settings.DEBUG = True
    with TestClient(api) as c:
        r = c.get("/static/css/app.css")
    assert r.status_code == 200 and r.content == CSS
    assert "etag" in r.headers  # Django's finders send no ETag


def test_max_age_from_bolt_settings(root, settings):
    settings.BOLT = {"STATIC_MAX_AGE": 5}
    with TestClient(api, django_fallback=False) as c:
        assert c.get("/static/page.html").headers["cache-control"] == "public, max-age=5"


shadow = BoltAPI(openapi_url=None)


@shadow.get("/static/api/{rest:path}")
async def under_static(rest: str):
    return {"rest": rest}


def test_api_routes_under_static_url_win(root):
    with TestClient(shadow, django_fallback=False) as c:
        assert c.get("/static/api/x/y").json() == {"rest": "x/y"}
        assert c.get("/static/css/app.css", headers={"Accept-Encoding": "identity"}).content == CSS


@pytest.mark.parametrize("value", ["soon", -1, True, 10**12])
def test_a_bad_max_age_is_a_clear_configuration_error(root, settings, value):
    from django.core.exceptions import ImproperlyConfigured

    settings.BOLT = {"STATIC_MAX_AGE": value}
    with pytest.raises(ImproperlyConfigured, match="STATIC_MAX_AGE"):
        TestClient(api, django_fallback=False)
