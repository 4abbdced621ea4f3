"""More of what docs/openapi.md promises: the 404 a page-number route documents (and
answers), the documentation routes gone when the document is off and following it when
it moves, form and multipart request bodies in the document, and ``export_openapi
--indent 0`` writing compact JSON."""

import json
import subprocess
import sys
from typing import Annotated

import pytest

from django_bolt import BoltAPI, File, Form, PageNumberPagination, UploadFile, paginate
from django_bolt.testing import TestClient
from tests.conftest import (
    DJANGO_404,
    MANAGE_PY,
    NOT_FOUND,
    answer,
    django_error_page,
    import_required,
)

UI_PAGES = ("/docs", "/redoc", "/scalar", "/rapiddoc")
ASSETS = (
    "/docs/assets/swagger-ui.css",
    "/docs/assets/swagger-ui-bundle.js",
    "/docs/assets/redoc.standalone.js",
    "/docs/assets/scalar.standalone.js",
    "/docs/assets/rapidoc-min.js",
)


class Pages(PageNumberPagination):
    page_size = 2


api = BoltAPI()


@api.get("/colors")
@paginate(Pages)
async def list_colors(request):
    return ["red", "green", "blue"]


@api.post("/contact")
async def contact(
    name: Annotated[str, Form()],
    age: Annotated[int, Form()],
    newsletter: Annotated[bool, Form()] = False,
):
    return {"name": name, "age": age, "newsletter": newsletter}


@api.post("/documents")
async def create_document(
    title: Annotated[str, Form()],
    upload: Annotated[UploadFile, File()],
):
    return {"title": title, "filename": upload.filename, "size": upload.size}


@pytest.fixture(scope="module")
def client():
    with TestClient(api, django_fallback=False) as c:
        yield c


@pytest.fixture(scope="module")
def document(client):
    return client.get("/openapi.json").json()


def test_a_page_number_route_documents_the_404_it_answers_past_the_last_page(client, document):
    responses = document["paths"]["/colors"]["get"]["responses"]
    assert responses["404"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
    }
    assert document["components"]["schemas"]["Error"] == {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    }
    # The answer is the documented shape.
    assert client.get("/colors", params={"page": 2}).json()["items"] == ["blue"]
    assert answer(client.get("/colors", params={"page": 3})) == (
        404,
        {"detail": "Invalid page 3: there are fewer items"},
    )


def test_form_fields_are_an_urlencoded_body_in_the_document(client, document):
    body = document["paths"]["/contact"]["post"]["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == ["application/x-www-form-urlencoded"]
    schema = body["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema["type"] == "object"
    assert schema["properties"]["name"] == {"type": "string"}
    assert schema["properties"]["age"]["type"] == "integer"
    assert schema["properties"]["newsletter"]["type"] == "boolean"
    assert list(schema["properties"]) == ["name", "age", "newsletter"]
    assert schema["required"] == ["name", "age"]
    # The body the document describes is the one the route takes.
    r = client.post("/contact", data={"name": "Ann", "age": "41", "newsletter": "true"})
    assert answer(r) == (200, {"name": "Ann", "age": 41, "newsletter": True})


def test_a_file_field_makes_the_body_multipart_in_the_document(client, document):
    body = document["paths"]["/documents"]["post"]["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == ["multipart/form-data"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["type"] == "object"
    assert list(schema["properties"]) == ["title", "upload"]
    assert schema["properties"]["title"] == {"type": "string"}
    # OpenAPI 3.1's form for a file's bytes.
    assert schema["properties"]["upload"] == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
    }
    assert schema["required"] == ["title", "upload"]
    r = client.post("/documents", data={"title": "Report"}, files={"upload": ("r.txt", b"12345")})
    assert answer(r) == (200, {"title": "Report", "filename": "r.txt", "size": 5})


def test_the_document_with_form_bodies_is_valid_openapi_3_1(document):
    validator = import_required("openapi_spec_validator")
    validator.validate(document)


def test_with_the_document_off_no_page_or_asset_of_the_uis_is_served():
    quiet = BoltAPI(openapi_url=None)

    @quiet.get("/x")
    async def x():
        return {"x": 1}

    with TestClient(quiet, django_fallback=False) as client:
        assert client.get("/x").json() == {"x": 1}
        for path in ("/openapi.json", *UI_PAGES, *ASSETS):
            assert answer(client.get(path)) == NOT_FOUND, path
    # Through Django, like any path no route owns: Django's own 404 page.
    with TestClient(quiet) as client:
        for path in ("/openapi.json", *UI_PAGES, *ASSETS):
            assert answer(client.get(path)) == (404, django_error_page(*DJANGO_404)), path


def test_the_ui_pages_load_the_document_where_it_was_moved():
    moved = BoltAPI(openapi_url="/schema.json")

    @moved.get("/y")
    async def y():
        return {}

    with TestClient(moved, django_fallback=False) as client:
        assert "/y" in client.get("/schema.json").json()["paths"]
        assert answer(client.get("/openapi.json")) == NOT_FOUND
        for page in UI_PAGES:
            r = client.get(page)
            assert r.status_code == 200, page
            assert 'url="/schema.json"' in r.text, page
            assert "/openapi.json" not in r.text, page


def export(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, str(MANAGE_PY), "export_openapi", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_export_openapi_indent_0_writes_compact_json(tmp_path):
    indented = export("--mount", "/api/").stdout
    compact = export("--mount", "/api/", "--indent", "0").stdout
    # The same document, on one line, with nothing but the final newline after it.
    assert json.loads(compact) == json.loads(indented)
    assert compact.endswith("}\n") and compact.count("\n") == 1
    assert indented.count("\n") > 100
    assert len(compact) < len(indented)
    # -o writes the same compact form to the file.
    target = tmp_path / "openapi.json"
    export("--mount", "/api/", "--indent", "0", "-o", str(target))
    assert target.read_text() == compact
