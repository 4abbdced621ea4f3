"""Response types: JSON, text, HTML, redirects, downloads, files from disk, streams."""

import asyncio
import os
from pathlib import Path

import pytest

from django_bolt import BoltAPI
from django_bolt.response import FileResponse as FileResponseAlias
from django_bolt.responses import (
    HTML,
    JSON,
    File,
    FileResponse,
    Html,
    Json,
    PlainText,
    Redirect,
    Response,
    StreamingResponse,
)
from django_bolt.testing import TestClient

api = BoltAPI()
FILES = {}


@api.get("/json")
async def json_response():
    return Json({"key": "value"})


@api.get("/json-status")
async def json_status():
    return JSON({"created": True}, status_code=201, headers={"x-a": "1"})


@api.get("/text")
async def text():
    return PlainText("Hello, World!")


@api.get("/html")
async def html():
    return Html("<h1>Hello World</h1>")


@api.get("/html-upper")
async def html_upper():
    return HTML("<p>x</p>")


@api.get("/redirect")
async def redirect():
    return Redirect(url="https://example.com", status=302)


@api.get("/redirect-permanent")
async def redirect_permanent():
    return Redirect("/new-location", status_code=301)


@api.get("/download")
async def download():
    return File(b"a,b\n1,2\n", filename="report.csv")


@api.get("/cookies")
async def cookies():
    response = Response(b"ok", media_type="text/plain")
    response.set_cookie("theme", "dark", max_age=60, httponly=True)
    response.delete_cookie("old")
    return response


@api.get("/file")
async def file_download():
    return FileResponse(path=FILES["pdf"], filename="document.pdf", content_type="application/pdf")


@api.get("/file-inline")
async def file_inline():
    return FileResponse(FILES["text"])


@api.get("/file-unicode")
async def file_unicode():
    return FileResponse(FILES["text"], filename="résumé été.txt")


@api.get("/file-missing")
async def file_missing():
    return FileResponse("/definitely/not/here.bin")


@api.get("/file-sync")
def file_sync():
    return FileResponseAlias(FILES["text"], filename="sync.txt")


async def event_stream():
    for i in range(3):
        yield f"data: message {i}\n\n"
        yield {"event": "message", "data": {"count": i}}


@api.get("/stream")
async def stream():
    return StreamingResponse(event_stream())


@api.get("/stream-bytes")
async def stream_bytes():
    async def chunks():
        for i in range(5):
            await asyncio.sleep(0)
            yield bytes([65 + i]) * 3

    return StreamingResponse(
        chunks(), status_code=202, headers={"x-stream": "yes"}, media_type="application/x-test"
    )


@api.get("/stream-sync-gen")
async def stream_sync_gen():
    return StreamingResponse(f"line {i}\n" for i in range(4))


@api.get("/stream-from-sync-handler")
def stream_from_sync_handler():
    return StreamingResponse(iter([b"a", b"b", b"c"]))


@api.get("/stream-empty")
async def stream_empty():
    async def nothing():
        return
        yield  # pragma: no cover

    return StreamingResponse(nothing(), media_type="text/plain")


@api.get("/stream-fails-later")
async def stream_fails_later():
    async def parts():
        yield b"first part;"
        raise RuntimeError("the source went away")

    return StreamingResponse(parts(), media_type="text/plain")


@api.get("/stream-fails-first")
async def stream_fails_first():
    async def broken():
        raise RuntimeError("no data")
        yield  # pragma: no cover

    return StreamingResponse(broken())


@api.get("/stream-big")
async def stream_big():
    async def blocks():
        for i in range(64):
            yield bytes([65 + i]) * 65536

    return StreamingResponse(blocks())


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    pdf = root / "doc.pdf"
    pdf.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 40)
    text = root / "notes.txt"
    text.write_text("hello file\n" * 100)
    FILES.update(pdf=str(pdf), text=str(text))
    with TestClient(api, django_fallback=False) as c:
        yield c


def test_json_text_html(client):
    assert client.get("/json").json() == {"key": "value"}
    r = client.get("/json-status")
    assert (r.status_code, r.json(), r.headers["x-a"]) == (201, {"created": True}, "1")
    r = client.get("/text")
    assert (r.text, r.headers["content-type"]) == ("Hello, World!", "text/plain; charset=utf-8")
    r = client.get("/html")
    assert (r.text, r.headers["content-type"]) == (
        "<h1>Hello World</h1>",
        "text/html; charset=utf-8",
    )
    assert client.get("/html-upper").text == "<p>x</p>"


def test_redirects(client):
    r = client.get("/redirect")
    assert (r.status_code, r.headers["location"]) == (302, "https://example.com")
    r = client.get("/redirect-permanent")
    assert (r.status_code, r.headers["location"]) == (301, "/new-location")


def test_in_memory_file_download(client):
    r = client.get("/download")
    assert r.content == b"a,b\n1,2\n"
    assert r.headers["content-type"] == "text/csv"
    assert r.headers["content-disposition"] == 'attachment; filename="report.csv"'


def test_cookies(client):
    cookies = client.get("/cookies").headers.get_list("set-cookie")
    assert any(
        c.startswith("theme=dark") and "HttpOnly" in c and "Max-Age=60" in c for c in cookies
    )
    assert any(c.startswith('old=""') and "Max-Age=0" in c for c in cookies)


def test_file_response_streams_from_disk(client):
    r = client.get("/file")
    assert r.status_code == 200
    assert r.content == Path(FILES["pdf"]).read_bytes()
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == 'attachment; filename="document.pdf"'
    assert r.headers["etag"]
    assert r.headers["last-modified"]
    assert r.headers["accept-ranges"] == "bytes"


def test_file_response_range_and_conditional_requests(client):
    full = Path(FILES["pdf"]).read_bytes()
    r = client.get("/file", headers={"range": "bytes=10-19"})
    assert r.status_code == 206
    assert r.content == full[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(full)}"
    etag = client.get("/file").headers["etag"]
    assert client.get("/file", headers={"if-none-match": etag}).status_code == 304
    assert client.get("/file", headers={"range": f"bytes={len(full) + 10}-"}).status_code == 416


def test_file_response_inline_unicode_sync_and_missing(client):
    r = client.get("/file-inline")
    assert r.headers["content-disposition"] == 'inline; filename="notes.txt"'
    assert r.headers["content-type"].startswith("text/plain")
    disposition = client.get("/file-unicode").headers["content-disposition"]
    assert 'filename="r_sum_ _t_.txt"' in disposition
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%A9t%C3%A9.txt" in disposition
    assert (
        client.get("/file-sync").headers["content-disposition"] == 'attachment; filename="sync.txt"'
    )
    missing = client.get("/file-missing")
    assert (missing.status_code, missing.json()) == (404, {"detail": "File not found"})


def test_server_sent_events_from_an_async_generator(client):
    r = client.get("/stream")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text.split("\n\n")[:2] == ["data: message 0", 'event: message\ndata: {"count":0}']
    assert r.text.count("event: message") == 3


def test_stream_status_headers_and_media_type(client):
    r = client.get("/stream-bytes")
    assert (r.status_code, r.content) == (202, b"AAABBBCCCDDDEEE")
    assert r.headers["x-stream"] == "yes"
    assert r.headers["content-type"] == "application/x-test"


def test_sync_iterators_stream_too(client):
    assert client.get("/stream-sync-gen").text == "line 0\nline 1\nline 2\nline 3\n"
    assert client.get("/stream-from-sync-handler").content == b"abc"


def test_empty_and_failing_streams(client):
    r = client.get("/stream-empty")
    assert (r.status_code, r.content) == (200, b"")
    failing = client.get("/stream-fails-first")
    assert failing.status_code == 500
    assert failing.json() == {"detail": "Internal Server Error"}


def test_a_stream_failing_after_its_first_item_is_logged_and_breaks_off(client, caplog):
    """The status is already sent: the body breaks off where the failure came (the test
    client raises what an HTTP client on a socket raises, never a short complete body),
    and the failure is logged."""
    import httpx

    with caplog.at_level("ERROR", logger="django_bolt"):
        with pytest.raises(httpx.RemoteProtocolError, match="the response body broke off"):
            client.get("/stream-fails-later")
    assert "the source went away" in caplog.text
    # The server goes on serving.
    assert client.get("/stream-fails-first").status_code == 500


def test_a_large_stream_arrives_whole_and_in_order(client):
    """(Backpressure against a slow reader needs a real socket: see
    test_slow_reader_does_not_make_the_server_buffer in tests/e2e/test_runbolt.py.)"""
    r = client.get("/stream-big")
    assert len(r.content) == 64 * 65536
    blocks = [r.content[i : i + 65536] for i in range(0, len(r.content), 65536)]
    assert blocks == [bytes([65 + i]) * 65536 for i in range(64)]


def test_both_module_spellings():
    import django_bolt.response as singular
    import django_bolt.responses as plural

    assert singular.StreamingResponse is plural.StreamingResponse
    assert singular.Json is plural.JSON and singular.Html is plural.HTML


def test_streaming_response_refuses_a_single_value():
    with pytest.raises(TypeError):
        StreamingResponse(b"bytes")
    with pytest.raises(TypeError):
        StreamingResponse(42)


def test_file_response_refuses_unknown_disposition():
    with pytest.raises(ValueError):
        FileResponse(os.devnull, disposition="download")
