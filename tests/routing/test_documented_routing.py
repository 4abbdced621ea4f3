"""Behaviours docs/routing.md and docs/openapi.md promise that the broader route tests do
not pin down: the decorator's other name, operation names, repeated query values, the
one-body rule, Django responses from handlers, and the document's own settings."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from django.http import HttpResponse

from django_bolt import BoltAPI, Depends, Query, Request, WebSocket
from django_bolt.auth import JWTAuthentication, SessionAuthentication
from django_bolt.openapi import OpenAPIInfo
from django_bolt.param_functions import Body
from django_bolt.testing import TestClient
from tests.conftest import answer


class Item(msgspec.Struct):
    name: str


api = BoltAPI(
    openapi_url="/schema.json",
    info=OpenAPIInfo(
        title="Shop",
        version="2.1.0",
        terms_of_service="https://shop.example/terms",
        contact={"name": "Ops", "email": "ops@shop.example"},
        license={"name": "MIT"},
    ),
)


@api.route("/both", methods=["GET", "POST"])
async def both(request: Request):
    return {"method": request.method}


@api.get("/named", name="fetch_named", description="Fetched by name.")
async def named():
    return {}


@api.get("/search")
async def search(request: Request, q: str):
    return {"q": q, "all": request.query_lists.get("q")}


@api.get("/django-response")
def django_response():
    return HttpResponse("made by Django", status=418, headers={"X-Made": "1"})


@api.get("/list_recent_orders")
async def list_recent_orders():
    return []


@api.websocket("/live")
async def live(websocket: WebSocket):
    await websocket.accept()


@pytest.fixture(scope="module")
def client():
    with TestClient(api, django_fallback=False) as c:
        yield c


def test_route_is_api_route_with_several_methods(client):
    assert BoltAPI.route is BoltAPI.api_route
    assert client.get("/both").json() == {"method": "GET"}
    assert client.post("/both").json() == {"method": "POST"}


def test_for_a_repeated_name_the_last_value_wins_and_query_lists_keeps_all(client):
    assert client.get("/search?q=a&q=b").json() == {"q": "b", "all": ["a", "b"]}


def test_only_one_body_parameter_is_accepted():
    other = BoltAPI()
    with pytest.raises(TypeError, match="only one body parameter is supported"):

        @other.post("/two")
        async def two(first: Item = Body(), second: Item = Body()):
            return {}

        with TestClient(other):
            pass


def test_a_handler_may_return_a_django_response(client):
    made = client.get("/django-response")
    assert (made.status_code, made.content) == (418, b"made by Django")
    assert made.headers["x-made"] == "1"
    assert made.headers["content-type"] == "text/html; charset=utf-8"


def test_the_document_moves_and_carries_its_settings(client):
    assert answer(client.get("/openapi.json")) == (404, {"detail": "Not Found"})
    document = client.get("/schema.json").json()
    assert document["info"] == {
        "title": "Shop",
        "version": "2.1.0",
        "termsOfService": "https://shop.example/terms",
        "contact": {"name": "Ops", "email": "ops@shop.example"},
        "license": {"name": "MIT"},
    }
    named = document["paths"]["/named"]["get"]
    assert (named["operationId"], named["description"]) == ("fetch_named", "Fetched by name.")
    # Without summary=, the handler's name becomes the summary.
    assert document["paths"]["/list_recent_orders"]["get"]["summary"] == "List recent orders"
    # WebSocket routes are not HTTP operations: the document leaves them out.
    assert "/live" not in document["paths"]


class Strict(msgspec.Struct):
    code: str

    def __post_init__(self):
        if not self.code.isupper():
            raise ValueError("code must be upper case")


@api.get("/flag/{on}")
async def flag(on: bool):
    return {"on": on}


@api.get("/user/{user_id}")
async def user(user_id: int):
    return {"user_id": user_id}


@api.post("/strict")
async def strict(data: Strict):
    return {"code": data.code}


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("1", True), ("yes", True), ("on", True)]
    + [("false", False), ("0", False), ("no", False), ("off", False)],
)
def test_bool_path_values(client, text, value):
    assert client.get(f"/flag/{text}").json() == {"on": value}


def test_wrong_and_out_of_range_path_values_are_the_documented_422(client):
    expected = (
        422,
        {"detail": [{"loc": ["path", "user_id"], "msg": "Expected `int`", "type": "type_error"}]},
    )
    assert answer(client.get("/user/abc")) == expected
    assert answer(client.get("/user/" + "9" * 50))[0] == 422
    assert client.get("/user/9223372036854775807").json() == {"user_id": 2**63 - 1}


def test_post_init_may_refuse_with_value_error(client):
    assert client.post("/strict", json={"code": "AB"}).json() == {"code": "AB"}
    assert answer(client.post("/strict", json={"code": "ab"})) == (
        422,
        {"detail": [{"loc": ["body"], "msg": "code must be upper case", "type": "value_error"}]},
    )
    assert answer(client.post("/strict")) == (
        422,
        {"detail": [{"loc": ["body"], "msg": "Field required", "type": "missing"}]},
    )


@api.post("/upload-detail")
async def upload_detail(request: Request):
    upload = await request.file("doc")
    first = await upload.read()
    upload.seek(0)
    again = b"".join(upload.chunks())
    return {
        "name": upload.filename,
        "type": upload.content_type,
        "size": upload.size,
        "header": upload.headers.get("content-type"),
        "same": first == again == b"hello upload",
    }


@api.get("/info/{item}")
async def info(request: Request, item: str):
    request.tenant = "acme"  # a request takes attributes of its own
    request.state.seen = True
    return {
        "method": request.method,
        "dict_method": request.get("method"),
        "path": request.path,
        "query": request.query,
        "query_lists": request.query_lists,
        "params": request.params,
        "header": request.headers.get("X-Probe"),
        "dict_header": request["headers"].get("x-probe"),
        "cookies": request.cookies,
        "COOKIES": dict(request.COOKIES),
        "meta_method": request.META["REQUEST_METHOD"],
        "client": list(request.client)[0],
        "tenant": request.tenant,
        "state": request.state.seen,
    }


def test_an_upload_reads_again_after_seek_and_carries_its_headers(client):
    answer_ = client.post(
        "/upload-detail", files={"doc": ("notes.txt", b"hello upload", "text/plain")}
    )
    assert answer_.json() == {
        "name": "notes.txt",
        "type": "text/plain",
        "size": 12,
        "header": "text/plain",
        "same": True,
    }


def test_the_request_surface_as_documented(client):
    got = client.get(
        "/info/pen?a=1&a=2&b=x", headers={"X-Probe": "yes", "Cookie": "sid=abc; theme=dark"}
    ).json()
    assert got == {
        "method": "GET",
        "dict_method": "GET",
        "path": "/info/pen",
        "query": {"a": "2", "b": "x"},
        "query_lists": {"a": ["1", "2"], "b": ["x"]},
        "params": {"item": "pen"},
        "header": "yes",
        "dict_header": "yes",
        "cookies": {"sid": "abc", "theme": "dark"},
        "COOKIES": {"sid": "abc", "theme": "dark"},
        "meta_method": "GET",
        "client": "127.0.0.1",
        "tenant": "acme",
        "state": True,
    }


def test_the_error_functions_return_status_headers_and_body():
    import json

    from django_bolt.error_handlers import (
        generic_exception_handler,
        handle_exception,
        http_exception_handler,
        request_validation_error_handler,
    )
    from django_bolt.exceptions import NotFound, RequestValidationError, Unauthorized

    def decoded(result):
        status, headers, body = result
        return status, dict(headers or []), json.loads(body)

    assert decoded(handle_exception(NotFound(), debug=False)) == (
        404,
        {"content-type": "application/json"},
        {"detail": "Not Found"},
    )
    status, headers, body = decoded(
        http_exception_handler(Unauthorized(detail="no", headers={"WWW-Authenticate": "Bearer"}))
    )
    assert (status, headers.get("WWW-Authenticate"), body) == (401, "Bearer", {"detail": "no"})
    errors = [{"loc": ["body", "x"], "msg": "bad", "type": "value_error"}]
    assert decoded(request_validation_error_handler(RequestValidationError(errors)))[::2] == (
        422,
        {"detail": errors},
    )
    assert decoded(generic_exception_handler(RuntimeError("hidden"), debug=False))[::2] == (
        500,
        {"detail": "Internal Server Error"},
    )
    assert decoded(handle_exception(RuntimeError("hidden"), debug=False))[::2] == (
        500,
        {"detail": "Internal Server Error"},
    )


def tenant(tenant_id: Annotated[str, Query(description="The tenant")]) -> str:
    return tenant_id


def test_parameter_details_and_security_alternatives_in_the_document():
    doc_api = BoltAPI()

    @doc_api.get(
        "/search",
        auth=[JWTAuthentication(secret="s" * 32), SessionAuthentication()],
    )
    async def search(
        q: Annotated[str, Query(min_length=2, max_length=5, pattern="^[a-z]+$")],
        old: Annotated[int | None, Query(deprecated=True)] = None,
        secret: Annotated[str | None, Query(include_in_schema=False)] = None,
        who: str = Depends(tenant),
    ):
        return {}

    with TestClient(doc_api, django_fallback=False) as client:
        op = client.get("/openapi.json").json()["paths"]["/search"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"q", "old", "tenant_id"}
    assert params["q"]["required"] is True
    assert {k: params["q"]["schema"][k] for k in ("minLength", "maxLength", "pattern")} == {
        "minLength": 2,
        "maxLength": 5,
        "pattern": "^[a-z]+$",
    }
    assert params["old"]["deprecated"] is True
    assert params["tenant_id"]["description"] == "The tenant"
    assert len(op["security"]) == 2 and all(len(s) == 1 for s in op["security"])
