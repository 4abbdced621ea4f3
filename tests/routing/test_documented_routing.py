"""Behaviours docs/routing.md and docs/openapi.md promise that the broader route tests do
not pin down: the decorator's other name, operation names, repeated query values, the
one-body rule, Django responses from handlers, and the document's own settings."""

from __future__ import annotations

import msgspec
import pytest
from django.http import HttpResponse

from django_bolt import BoltAPI, Request, WebSocket
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
