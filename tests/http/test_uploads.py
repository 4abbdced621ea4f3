"""Forms and uploads: parsed in Rust, spooled to disk over the threshold, validated."""

import os
from typing import Annotated

import pytest

from django_bolt import BoltAPI, File, FileSize, Form, UploadFile
from django_bolt.testing import TestClient

api = BoltAPI()
SEEN = {}


@api.post("/upload")
async def upload(file: Annotated[UploadFile, File()]):
    content = await file.read()
    return {
        "filename": file.filename,
        "size": file.size,
        "content_type": file.content_type,
        "len": len(content),
    }


@api.post("/limited")
async def limited(
    file: Annotated[
        UploadFile,
        File(max_size=FileSize.KB_1, min_size=10, allowed_types=["image/*", "application/pdf"]),
    ],
):
    return {"filename": file.filename}


@api.post("/many")
async def many(files: Annotated[list[UploadFile], File(max_files=3, max_size=FileSize.MB_5)]):
    return {"count": len(files), "filenames": [f.filename for f in files]}


@api.post("/document")
async def document(
    title: Annotated[str, Form()],
    upload: Annotated[UploadFile, File(max_size=FileSize.MB_10)],
    tags: list[str] = Form([]),
):
    return {"title": title, "tags": tags, "name": upload.filename}


@api.post("/raw-bytes")
async def raw_bytes(blob: Annotated[bytes, File("upload")]):
    return {"len": len(blob)}


@api.post("/form")
async def form_fields(username: Annotated[str, Form()], age: Annotated[int, Form(ge=0)] = 0):
    return {"username": username, "age": age}


@api.post("/request-files")
async def request_files(request):
    file = await request.file("document")
    if not file:
        return {"error": "No file provided"}, 400
    files = await request.files("extra")
    form = await request.form()
    return {
        "document": file.filename,
        "extra": [f.filename for f in files],
        "note": form.get("note"),
    }


@api.post("/spooled")
async def spooled(file: UploadFile):
    SEEN["path"] = file.path
    SEEN["exists_during"] = bool(file.path) and os.path.exists(file.path)
    head = file.read(4)
    return {"in_memory": file.in_memory, "head": bytes(head).decode(), "size": file.size}


@api.post("/storage")
def storage_save(file: UploadFile):
    from django.core.files.storage import default_storage

    path = default_storage.save(f"uploads/{file.filename}", file)
    with default_storage.open(path, "rb") as stored:
        size = len(stored.read())
    default_storage.delete(path)
    return {"saved": path.startswith("uploads/"), "size": size}


@pytest.fixture(scope="module")
def client():
    with TestClient(api, django_fallback=False) as c:
        yield c


def detail(response):
    assert response.status_code == 422, response.text
    return response.json()["detail"]


def test_single_upload(client):
    r = client.post("/upload", files={"file": ("hello.txt", b"hello world", "text/plain")})
    assert r.json() == {
        "filename": "hello.txt",
        "size": 11,
        "content_type": "text/plain",
        "len": 11,
    }


def test_missing_file_is_422(client):
    assert detail(client.post("/upload", files={"other": ("x.txt", b"x")}))[0]["loc"] == [
        "form",
        "file",
    ]


def test_size_and_type_constraints(client):
    ok = client.post("/limited", files={"file": ("a.png", b"p" * 100, "image/png")})
    assert ok.json() == {"filename": "a.png"}
    assert (
        "larger than 1024"
        in detail(client.post("/limited", files={"file": ("a.png", b"p" * 2000, "image/png")}))[0][
            "msg"
        ]
    )
    assert (
        "smaller than 10"
        in detail(client.post("/limited", files={"file": ("a.png", b"p", "image/png")}))[0]["msg"]
    )
    assert (
        "not allowed"
        in detail(client.post("/limited", files={"file": ("a.txt", b"p" * 100, "text/plain")}))[0][
            "msg"
        ]
    )
    pdf = client.post("/limited", files={"file": ("a.pdf", b"p" * 100, "application/pdf")})
    assert pdf.status_code == 200


def test_multiple_files_and_max_files(client):
    files = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(3)]
    assert client.post("/many", files=files).json() == {
        "count": 3,
        "filenames": ["f0.txt", "f1.txt", "f2.txt"],
    }
    too_many = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(4)]
    assert "At most 3" in detail(client.post("/many", files=too_many))[0]["msg"]


def test_form_fields_beside_a_file(client):
    r = client.post(
        "/document",
        data={"title": "Report", "tags": ["a", "b"]},
        files={"upload": ("r.pdf", b"%PDF", "application/pdf")},
    )
    assert r.json() == {"title": "Report", "tags": ["a", "b"], "name": "r.pdf"}
    missing = detail(client.post("/document", files={"upload": ("r.pdf", b"%PDF")}))
    assert {"loc": ["form", "title"], "msg": "Field required", "type": "missing"} in missing


def test_bytes_parameter_with_positional_alias(client):
    assert client.post("/raw-bytes", files={"upload": ("b.bin", b"\x00" * 42)}).json() == {
        "len": 42
    }


def test_urlencoded_form(client):
    assert client.post("/form", data={"username": "ann", "age": "7"}).json() == {
        "username": "ann",
        "age": 7,
    }
    errors = detail(client.post("/form", data={"age": "-1"}))
    assert {tuple(e["loc"]) for e in errors} == {("form", "username"), ("form", "age")}


def test_an_urlencoded_field_flood_is_400(client):
    body = "&".join(f"f{i}=x" for i in range(100_000)) + "&username=ann"
    response = client.post(
        "/form", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "more than 1000 form fields"}
    # At the limit, the form is read.
    body = "&".join(f"f{i}=x" for i in range(998)) + "&username=ann&age=3"
    response = client.post(
        "/form", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.json() == {"username": "ann", "age": 3}


def test_request_file_and_files_and_form(client):
    r = client.post(
        "/request-files",
        data={"note": "hi"},
        files=[
            ("document", ("d.txt", b"d")),
            ("extra", ("e1.txt", b"1")),
            ("extra", ("e2.txt", b"2")),
        ],
    )
    assert r.json() == {"document": "d.txt", "extra": ["e1.txt", "e2.txt"], "note": "hi"}
    assert client.post("/request-files", data={"note": "x"}).status_code == 400


def test_large_upload_is_spooled_to_disk_and_removed_after(client, settings):
    big = b"BOLT" + b"z" * (2 * 1024 * 1024)
    r = client.post("/spooled", files={"file": ("big.bin", big)})
    assert r.json() == {"in_memory": False, "head": "BOLT", "size": len(big)}
    assert SEEN["exists_during"] is True
    import time

    deadline = time.monotonic() + 5
    while os.path.exists(SEEN["path"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(SEEN["path"])
    small = client.post("/spooled", files={"file": ("s.bin", b"BOLTsmall")})
    assert small.json()["in_memory"] is True


def test_upload_saves_through_django_storage(client, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    r = client.post("/storage", files={"file": ("keep.txt", b"k" * 3000)})
    assert r.json() == {"saved": True, "size": 3000}


@pytest.mark.orm
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [100, 2 * 1024 * 1024])
def test_upload_assigned_to_a_file_field(settings, tmp_path, size):
    from testproject.api import api as project_api
    from users.models import Document

    settings.MEDIA_ROOT = str(tmp_path)
    content = os.urandom(size)
    with TestClient(project_api) as project:
        r = project.post(
            "/documents",
            data={"title": "Spec"},
            files={"upload": ("spec.pdf", content, "application/pdf")},
        )
    assert r.status_code == 201, r.text
    doc = Document.objects.get(id=r.json()["id"])
    assert doc.file.name.startswith("documents/spec")
    assert r.json()["url"] == "/media/" + doc.file.name
    with doc.file.open("rb") as stored:
        assert stored.read() == content


def test_missing_boundary_is_400(client):
    r = client.post("/upload", content=b"--x\r\n", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 400
    assert "boundary" in r.json()["detail"]


def test_truncated_multipart_is_400(client):
    body = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello'
    r = client.post(
        "/upload", content=body, headers={"content-type": "multipart/form-data; boundary=B"}
    )
    assert r.status_code == 400
    assert "multipart" in r.json()["detail"]


def test_upload_over_the_body_limit_is_413():
    with TestClient(api, django_fallback=False, max_body_size=1000) as small:
        r = small.post("/upload", files={"file": ("big.bin", b"x" * 5000)})
        assert r.status_code == 413


def multipart(fields):
    body = b"".join(
        b'--B\r\nContent-Disposition: form-data; name="'
        + name.encode()
        + b'"\r\n\r\n'
        + value
        + b"\r\n"
        for name, value in fields
    )
    return body + b"--B--\r\n"


def test_multipart_part_and_text_field_limits_are_400(client):
    headers = {"content-type": "multipart/form-data; boundary=B"}
    flood = multipart([(f"f{i}", b"x") for i in range(1001)])
    r = client.post("/document", content=flood, headers=headers)
    assert (r.status_code, r.json()) == (400, {"detail": "more than 1000 form fields"})
    huge = multipart([("title", b"x" * (1024 * 1024 + 1))])
    r = client.post("/document", content=huge, headers=headers)
    assert r.status_code == 400
    assert r.json() == {"detail": 'form field "title" is larger than 1048576 bytes'}
    # At the limits, the form is read (the file part is what /document then asks for).
    fine = multipart([("title", b"x" * (1024 * 1024))] + [(f"f{i}", b"x") for i in range(998)])
    missing = client.post("/document", content=fine, headers=headers).json()["detail"]
    assert [e["loc"] for e in missing] == [["form", "upload"]]
