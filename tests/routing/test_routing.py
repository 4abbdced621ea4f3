"""Declaring routes: methods, typed path and query parameters, bodies, return values."""

import uuid

import msgspec
import pytest

from django_bolt import BoltAPI, Query, Request
from django_bolt.testing import TestClient
from tests.conftest import DJANGO_404, NOT_FOUND, answer, django_error_page

api = BoltAPI()


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


class Address(msgspec.Struct):
    city: str
    zip_code: str


class Person(msgspec.Struct):
    name: str
    age: int
    address: Address | None = None


@api.get("/methods")
async def m_get():
    return {"method": "GET"}


@api.post("/methods")
async def m_post():
    return {"method": "POST"}


@api.put("/methods")
async def m_put():
    return {"method": "PUT"}


@api.patch("/methods")
async def m_patch():
    return {"method": "PATCH"}


@api.delete("/methods/{id}")
async def m_delete(id: int):
    return {"deleted": id}


@api.options("/methods")
async def m_options():
    return ("", 204, {"x-options": "yes"})


@api.head("/only-head")
async def m_head():
    return ("", 200, {"x-head": "1"})


@api.api_route("/multi", methods=["GET", "POST"])
async def multi(request: Request):
    return {"method": request.method}


@api.get("/types/{i}/{f}/{s}/{b}/{u}")
async def types(i: int, f: float, s: str, b: bool, u: uuid.UUID):
    return {"i": i, "f": f, "s": s, "b": b, "u": str(u)}


@api.get("/static/{rest:path}")
async def catch_all(rest: str):
    return {"rest": rest}


@api.get("/query")
async def query(q: str, limit: int = 10, flag: bool = False, ratio: float | None = None):
    return {"q": q, "limit": limit, "flag": flag, "ratio": ratio}


@api.get("/search")
async def search(query: str = Query(...), limit: int = Query(10), offset: int = Query(0)):
    return {"query": query, "limit": limit, "offset": offset}


@api.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "price": item.price, "tags": item.tags}


@api.post("/people")
async def create_person(request, body: Person):
    return {"name": body.name, "city": body.address.city if body.address else None}


@api.get("/request")
async def whole_request(request):
    return {
        "method": request.get("method"),
        "path": request.get("path"),
        "query": request.get("query"),
        "params": request.get("params"),
        "agent": request.get("headers").get("X-Agent"),
        "body": request.get("body", b"").decode(),
    }


@api.get("/request/{id}")
async def typed_request(id: int, req: Request):
    return {"id": id, "params": req.params, "agent": req.headers["x-agent"]}


@api.get("/sync/{n}")
def sync_handler(n: int, request):
    return {"n": n, "sync": True, "path": request.path}


@api.get("/ret/dict")
async def ret_dict():
    return {"a": 1}


@api.get("/ret/list")
async def ret_list():
    return [1, 2, 3]


@api.get("/ret/struct")
async def ret_struct():
    return Item(name="x", price=2.0)


@api.get("/ret/str")
async def ret_str():
    return "hello"


@api.get("/ret/bytes")
async def ret_bytes():
    return b"\x00\x01"


@api.post("/ret/tuple2")
async def ret_tuple2():
    return {"created": True}, 201


@api.get("/ret/tuple3")
async def ret_tuple3():
    return {"ok": True}, 202, {"X-Extra": "yes"}


@api.get("/ret/annotated/{n}")
async def ret_annotated(n: int) -> Item:
    return {"name": f"n{n}", "price": n}


@api.post("/status", status_code=201)
async def with_status():
    return {"created": True}


@pytest.fixture(scope="module")
def client():
    with TestClient(api, django_fallback=False) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/methods", {"method": "GET"}),
        ("POST", "/methods", {"method": "POST"}),
        ("PUT", "/methods", {"method": "PUT"}),
        ("PATCH", "/methods", {"method": "PATCH"}),
        ("DELETE", "/methods/7", {"deleted": 7}),
        ("GET", "/multi", {"method": "GET"}),
        ("POST", "/multi", {"method": "POST"}),
    ],
)
def test_each_method_decorator_routes(client, method, path, expected):
    response = client.request(method, path)
    assert response.status_code == 200
    assert response.json() == expected


def test_options_and_head_routes(client):
    response = client.options("/methods")
    assert response.status_code == 204
    assert response.headers["x-options"] == "yes"
    response = client.head("/only-head")
    assert response.status_code == 200
    assert response.headers["x-head"] == "1"


def test_head_on_a_get_route_has_headers_but_no_body(client):
    response = client.head("/ret/dict")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"


def test_typed_path_parameters(client):
    u = uuid.uuid4()
    response = client.get(f"/types/5/2.5/text/true/{u}")
    assert response.json() == {"i": 5, "f": 2.5, "s": "text", "b": True, "u": str(u)}


def test_percent_encoded_path_parameter_is_decoded(client):
    response = client.get("/types/1/1/caf%C3%A9%20au%20lait/0/" + str(uuid.UUID(int=1)))
    assert response.json()["s"] == "café au lait"
    assert response.json()["b"] is False


def test_catch_all_path_parameter(client):
    assert client.get("/static/css/site/main.css").json() == {"rest": "css/site/main.css"}


@pytest.mark.parametrize(
    ("path", "loc", "kind"),
    [
        ("/types/x/2.5/s/true/" + str(uuid.UUID(int=1)), ["path", "i"], "type_error"),
        ("/types/1/nan-ish/s/true/" + str(uuid.UUID(int=1)), ["path", "f"], "type_error"),
        ("/types/1/2/s/maybe/" + str(uuid.UUID(int=1)), ["path", "b"], "type_error"),
        ("/types/1/2/s/true/not-a-uuid", ["path", "u"], "type_error"),
    ],
)
def test_wrong_path_parameter_type_is_422(client, path, loc, kind):
    response = client.get(path)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == 1
    assert detail[0]["loc"] == loc
    assert detail[0]["type"] == kind
    assert detail[0]["msg"]


def test_query_parameters_with_defaults(client):
    assert client.get("/query", params={"q": "x"}).json() == {
        "q": "x",
        "limit": 10,
        "flag": False,
        "ratio": None,
    }
    got = client.get(
        "/query", params={"q": "a b", "limit": "5", "flag": "true", "ratio": "0.5"}
    ).json()
    assert got == {"q": "a b", "limit": 5, "flag": True, "ratio": 0.5}


def test_missing_and_mistyped_query_parameters_are_422(client):
    response = client.get("/query", params={"limit": "many"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {"loc": ["query", "q"], "msg": "Field required", "type": "missing"} in detail
    assert any(d["loc"] == ["query", "limit"] and d["type"] == "type_error" for d in detail)


def test_query_marker_as_in_the_documentation(client):
    assert client.get("/search?query=django").json() == {
        "query": "django",
        "limit": 10,
        "offset": 0,
    }
    assert client.get("/search?query=a&limit=3&offset=6").json() == {
        "query": "a",
        "limit": 3,
        "offset": 6,
    }
    assert client.get("/search").status_code == 422


def test_struct_parameter_is_the_json_body(client):
    response = client.post("/items", json={"name": "pen", "price": 1.25, "tags": ["a"]})
    assert response.json() == {"name": "pen", "price": 1.25, "tags": ["a"]}


def test_nested_struct_body_and_request_parameter(client):
    response = client.post(
        "/people", json={"name": "Ann", "age": 3, "address": {"city": "Oslo", "zip_code": "1"}}
    )
    assert response.json() == {"name": "Ann", "city": "Oslo"}


def test_mistyped_body_field_names_its_location(client):
    response = client.post("/people", json={"name": "Ann", "age": "three"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "age"]
    assert response.json()["detail"][0]["type"] == "type_error"
    response = client.post(
        "/people", json={"name": "Ann", "age": 3, "address": {"city": 5, "zip_code": "1"}}
    )
    assert response.json()["detail"][0]["loc"] == ["body", "address", "city"]


def test_missing_body_field_and_malformed_json_are_422(client):
    response = client.post("/items", json={"price": 1})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "name"], "msg": "Field required", "type": "missing"}
    ]
    response = client.post(
        "/items", content=b'{"name": "x", "price":', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]
    assert response.json()["detail"][0]["type"] == "json_invalid"
    response = client.post("/items")
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "missing"


def test_request_in_dict_style(client):
    response = client.get("/request?a=1&b=two", headers={"X-Agent": "tester"})
    assert response.json() == {
        "method": "GET",
        "path": "/request",
        "query": {"a": "1", "b": "two"},
        "params": {},
        "agent": "tester",
        "body": "",
    }


def test_request_annotation_on_any_name(client):
    response = client.get("/request/9", headers={"x-agent": "z"})
    assert response.json() == {"id": 9, "params": {"id": "9"}, "agent": "z"}


def test_sync_handler(client):
    assert client.get("/sync/4").json() == {"n": 4, "sync": True, "path": "/sync/4"}


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/ret/dict", "application/json", b'{"a":1}'),
        ("/ret/list", "application/json", b"[1,2,3]"),
        ("/ret/struct", "application/json", b'{"name":"x","price":2.0,"tags":[]}'),
        ("/ret/str", "text/plain; charset=utf-8", b"hello"),
        ("/ret/bytes", "application/octet-stream", b"\x00\x01"),
    ],
)
def test_return_values(client, path, content_type, body):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == body


def test_tuple_returns_set_status_and_headers(client):
    response = client.post("/ret/tuple2")
    assert response.status_code == 201
    assert response.json() == {"created": True}
    response = client.get("/ret/tuple3")
    assert response.status_code == 202
    assert response.headers["x-extra"] == "yes"


def test_return_annotation_converts_the_result(client):
    assert client.get("/ret/annotated/3").json() == {"name": "n3", "price": 3.0, "tags": []}


def test_route_status_code(client):
    assert client.post("/status").status_code == 201


def test_unknown_method_on_api_path_is_405_with_allow(client):
    response = client.delete("/methods")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, PATCH, POST, PUT"


def test_unknown_path_without_django_is_404(client):
    assert answer(client.get("/nowhere")) == NOT_FOUND


def test_duplicate_route_is_refused():
    local = BoltAPI()

    @local.get("/x")
    async def first():
        return {}

    with pytest.raises(ValueError, match="already handled"):

        @local.get("/x")
        async def second():
            return {}


def test_path_parameter_without_argument_is_refused():
    local = BoltAPI()
    with pytest.raises(TypeError, match="no matching handler argument"):

        @local.get("/x/{id}")
        async def handler():
            return {}


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unsupported HTTP method"):
        BoltAPI().api_route("/x", methods=["FETCH"])


def test_an_api_prefix_prefixes_every_route():
    from django_bolt import BoltAPI
    from django_bolt.testing import TestClient

    v1 = BoltAPI(prefix="/v1")

    @v1.get("/items/{item_id}")
    async def item(item_id: int):
        return {"id": item_id}

    @v1.post("/items")
    def create():
        return {"made": True}, 201

    with TestClient(v1) as client:
        assert client.get("/v1/items/3").json() == {"id": 3}
        r = client.post("/v1/items")
        assert (r.status_code, r.json()) == (201, {"made": True})
        assert answer(client.get("/items/3")) == (404, django_error_page(*DJANGO_404))
        assert "/v1/items/{item_id}" in client.get("/v1/openapi.json").json()["paths"]
