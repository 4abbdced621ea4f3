"""The OpenAPI 3.1 document generated from routes, and the four documentation UIs."""

from typing import Annotated

import msgspec
import pytest

from django_bolt import BoltAPI, PageNumberPagination, Query, ViewSet, paginate
from django_bolt.auth import APIKeyAuthentication, IsAuthenticated, JWTAuthentication
from django_bolt.openapi import OpenAPIInfo
from django_bolt.testing import TestClient
from tests.conftest import DJANGO_404, NOT_FOUND, answer, django_error_page, import_required

SECRET = "openapi-test-secret-0123456789abcdef0123"


class Address(msgspec.Struct):
    city: str
    zip_code: Annotated[str, msgspec.Meta(pattern=r"^\d{5}$")]


class Color(msgspec.Struct):
    name: str


class UserIn(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(min_length=3, max_length=30)]
    age: int | None = None
    address: Address | None = None
    tags: list[str] = []


class UserOut(msgspec.Struct):
    id: int
    username: str


class Pages(PageNumberPagination):
    page_size = 20


api = BoltAPI(info=OpenAPIInfo(title="Shop API", version="2.1.0", description="Things to buy"))


@api.get("/items/{item_id}", tags=["items"], summary="One item")
async def get_item(
    item_id: int,
    q: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100, description="How many")] = 10,
):
    """Returns the item."""
    return {"item_id": item_id}


@api.post("/users", response_model=UserOut, status_code=201)
async def create_user(user: UserIn):
    return {"id": 1, "username": user.username}


@api.get("/users")
@paginate(Pages)
async def list_users() -> list[UserOut]:
    return []


@api.get("/private", auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated()])
async def private():
    return {}


@api.get("/keyed", auth=[APIKeyAuthentication(api_keys={"k1"})])
async def keyed():
    return {}


@api.get("/hidden", include_in_schema=False)
async def hidden():
    return {}


@api.viewset("/colors")
class ColorViewSet(ViewSet):
    async def list(self) -> list[Color]:
        return []

    async def retrieve(self, pk: int) -> Color:
        return Color(name="red")


@pytest.fixture(scope="module")
def document():
    with TestClient(api) as client:
        r = client.get("/openapi.json")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        return r.json()


def test_info_paths_and_parameters(document):
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {
        "title": "Shop API",
        "version": "2.1.0",
        "description": "Things to buy",
    }
    assert "/hidden" not in document["paths"]
    assert not any(p.endswith(("/docs", "/redoc", "/openapi.json")) for p in document["paths"])
    op = document["paths"]["/items/{item_id}"]["get"]
    assert op["summary"] == "One item" and op["description"] == "Returns the item."
    assert op["tags"] == ["items"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["item_id"] == {
        "name": "item_id",
        "in": "path",
        "required": True,
        # 64-bit, as the router takes it (a larger value is a 422).
        "schema": {
            "type": "integer",
            "format": "int64",
            "minimum": -(2**63),
            "maximum": 2**63 - 1,
        },
    }
    assert params["q"]["required"] is False and params["q"]["schema"] == {"type": "string"}
    assert params["limit"]["schema"] == {
        "type": "integer",
        "format": "int64",
        "minimum": 1,
        "maximum": 100,
        "default": 10,
    }
    assert params["limit"]["description"] == "How many"
    assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationError"
    }


def test_bodies_responses_and_components(document):
    op = document["paths"]["/users"]["post"]
    assert op["requestBody"]["required"] is True
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/UserIn"
    }
    created = op["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/UserOut"}
    schemas = document["components"]["schemas"]
    user_in = schemas["UserIn"]
    assert user_in["required"] == ["username"]
    assert user_in["properties"]["username"] == {
        "type": "string",
        "minLength": 3,
        "maxLength": 30,
    }
    assert user_in["properties"]["address"] == {
        "anyOf": [{"$ref": "#/components/schemas/Address"}, {"type": "null"}],
        "default": None,
    }
    assert schemas["Address"]["properties"]["zip_code"]["pattern"] == r"^\d{5}$"
    page = document["paths"]["/users"]["get"]["responses"]["200"]["content"]["application/json"]
    props = page["schema"]["properties"]
    assert props["items"] == {"type": "array", "items": {"$ref": "#/components/schemas/UserOut"}}
    assert {"count", "page", "page_size", "total_pages", "next_page"} <= set(props)
    names = [p["name"] for p in document["paths"]["/users"]["get"]["parameters"]]
    assert names == ["page"]


def test_security_and_viewset_tags(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["JWTBearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["APIKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    assert document["paths"]["/keyed"]["get"]["security"] == [{"APIKey": []}]
    private = document["paths"]["/private"]["get"]
    assert private["security"] == [{"JWTBearer": []}]
    assert {"401", "403"} <= set(private["responses"])
    assert "security" not in document["paths"]["/items/{item_id}"]["get"]
    colors = document["paths"]["/colors/{pk}"]["get"]
    assert colors["tags"] == ["Color"]
    assert {"name": "Color"} in document["tags"]


def test_document_is_valid_openapi_3_1(document):
    validator = import_required("openapi_spec_validator")
    validator.validate(document)


def test_docs_pages_use_only_local_assets():
    with TestClient(api) as client:
        for slug, asset in (
            ("docs", "swagger-ui-bundle.js"),
            ("redoc", "redoc.standalone.js"),
            ("scalar", "scalar.standalone.js"),
            ("rapiddoc", "rapidoc-min.js"),
        ):
            r = client.get(f"/{slug}")
            assert r.status_code == 200, slug
            assert r.headers["content-security-policy"].startswith("default-src 'self'")
            assert f'src="/docs/assets/{asset}"' in r.text
            assert "http://" not in r.text and "https://" not in r.text
            assert "<script>" not in r.text  # no inline script
            js = client.get(f"/docs/assets/{asset}")
            assert js.status_code == 200 and len(js.content) > 100_000
        assert answer(client.get("/docs/assets/..%2Fdocs.py")) == NOT_FOUND
        assert answer(client.get("/docs/assets/other.js")) == NOT_FOUND


def test_schema_is_cached_and_can_be_turned_off():
    with TestClient(api) as client:
        first = client.get("/openapi.json").content
        assert client.get("/openapi.json").content == first
    quiet = BoltAPI(openapi_url=None)

    @quiet.get("/x")
    async def x():
        return {}

    with TestClient(quiet) as client:
        assert answer(client.get("/openapi.json")) == (404, django_error_page(*DJANGO_404))
        assert answer(client.get("/docs")) == (404, django_error_page(*DJANGO_404))
    # docs=False: the document stays, the UI pages and their assets go.
    bare = BoltAPI(docs=False)

    @bare.get("/y")
    async def y():
        return {}

    with TestClient(bare) as client:
        assert "/y" in client.get("/openapi.json").json()["paths"]
        for page in ("/docs", "/redoc", "/scalar", "/rapiddoc", "/docs/assets/swagger-ui.css"):
            assert answer(client.get(page)) == (404, django_error_page(*DJANGO_404)), page


def test_docs_need_no_credentials_on_a_guarded_api():
    guarded = BoltAPI(
        auth=[JWTAuthentication(secret="s" * 32)], guards=[IsAuthenticated()], openapi_url="/o"
    )

    @guarded.get("/private")
    async def private():
        return {}

    with TestClient(guarded) as client:
        assert client.get("/private").status_code == 401
        assert "/private" in client.get("/o").json()["paths"]
        for page in ("/docs", "/redoc", "/docs/assets/swagger-ui.css"):
            assert client.get(page).status_code == 200, page


def test_the_document_is_built_once_and_the_pages_carry_the_whole_policy(monkeypatch):
    from django_bolt.openapi import docs

    built = []
    real = docs.build_document
    monkeypatch.setattr(docs, "build_document", lambda *a: built.append(1) or real(*a))
    fresh = BoltAPI()

    @fresh.get("/z")
    async def z():
        return {}

    with TestClient(fresh) as client:
        first = client.get("/openapi.json").content
        assert client.get("/openapi.json").content == first
        assert len(built) == 1
        assert client.get("/docs").headers["content-security-policy"] == docs.CSP


def test_a_page_whose_files_are_missing_says_how_to_get_them(monkeypatch):
    from django_bolt.openapi import assets

    monkeypatch.setattr(assets, "missing", lambda: ["swagger-ui-bundle.js"])
    with TestClient(api) as client:
        page = client.get("/docs")
        other = client.get("/redoc")  # its own files are there
    assert page.status_code == 503
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text == (
        "<h1>Documentation assets are missing</h1><p>This installation of django_bolt lacks "
        "the files of its documentation pages: reinstall it, or run <code>python -m "
        "django_bolt.openapi.assets --update</code> to download them again; they are then "
        "served from this site.</p>"
    )
    assert other.status_code == 200
