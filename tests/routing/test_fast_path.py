"""The Rust fast path and the Python path give the same answer: one table of inputs, each
sent to the same handlers once with the route's FastPlan (extraction, coercion, call and
encoding in Rust) and once with every plan forced through Python."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
import pytest

from django_bolt import BoltAPI, Form, Header, Query
from django_bolt.testing import TestClient

api = BoltAPI(openapi_url=None)


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []
    note: str | None = None


@api.get("/int")
async def get_int(v: int):
    return {"v": v}


@api.get("/float")
async def get_float(v: float):
    return {"v": v}


@api.get("/bool")
async def get_bool(v: bool):
    return {"v": v}


@api.get("/str")
async def get_str(v: str = "dflt"):
    return {"v": v}


@api.get("/optional")
async def get_optional(v: int | None = None):
    return {"v": v}


@api.get("/uuid")
async def get_uuid(v: uuid.UUID):
    return {"v": str(v)}


@api.get("/bounded")
async def get_bounded(v: Annotated[int, Query(ge=1, le=10)]):
    return {"v": v}


@api.get("/path/{item_id}")
async def get_path(item_id: int):
    return {"item_id": item_id}


@api.get("/header")
async def get_header(x_count: Annotated[int, Header()]):
    return {"x_count": x_count}


@api.post("/body")
async def post_body(item: Item):
    return {"name": item.name, "price": item.price, "tags": item.tags, "note": item.note}


@api.post("/echo")
async def post_echo(item: Item) -> Item:
    return item


class Priced(Item):
    currency: str = "EUR"


class Other(msgspec.Struct):
    name: str


@api.post("/struct-plain")
async def post_struct_plain(item: Item):
    return item


@api.post("/subclass")
async def post_subclass(item: Item) -> Item:
    return Priced(item.name, item.price)


@api.post("/converted")
async def post_converted(item: Item) -> Item:
    return {"name": item.name, "price": item.price, "extra": 1}


@api.post("/wrong-struct")
async def post_wrong_struct(item: Item) -> Item:
    return Other(item.name)


@api.post("/declared-str")
async def post_declared_str(item: Item) -> str:
    return item.name


@api.post("/form")
async def post_form(
    name: Annotated[str, Form()],
    age: Annotated[int, Form()],
    note: Annotated[str | None, Form()] = None,
):
    return {"name": name, "age": age, "note": note}


J = {"content-type": "application/json"}
PEN = b'{"name":"pen","price":2.5}'
U = {"content-type": "application/x-www-form-urlencoded"}
M = {"content-type": "multipart/form-data; boundary=XX"}


def multipart(*fields: tuple[str, str]) -> bytes:
    parts = [
        f'--XX\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields
    ]
    return ("".join(parts) + "--XX--\r\n").encode()


CASES: list[tuple[str, str, dict[str, str] | None, bytes | None]] = [
    *(
        ("GET", f"/int?v={raw}", None, None)
        for raw in ["42", "-7", "+3", "4.0", "abc", "", "%C2%B2"]
    ),
    ("GET", "/int", None, None),
    *(("GET", f"/float?v={raw}", None, None) for raw in ["1.5", "1e3", "-0", "abc", ""]),
    *(
        ("GET", f"/bool?v={raw}", None, None)
        for raw in ["true", "1", "yes", "on", "false", "0", "off", "TRUE", "maybe", ""]
    ),
    *(("GET", f"/str?v={raw}", None, None) for raw in ["hello", "", "a%20b", "%E2%9C%93"]),
    ("GET", "/str", None, None),
    *(("GET", f"/optional?v={raw}", None, None) for raw in ["5", "", "x"]),
    ("GET", "/optional", None, None),
    *(
        ("GET", f"/uuid?v={raw}", None, None)
        for raw in ["12345678-1234-5678-1234-567812345678", "nope"]
    ),
    *(("GET", f"/bounded?v={raw}", None, None) for raw in ["1", "10", "0", "11", "x"]),
    *(("GET", f"/path/{raw}", None, None) for raw in ["12", "x", "-1"]),
    ("GET", "/header", {"x-count": "3"}, None),
    ("GET", "/header", {"x-count": "three"}, None),
    ("GET", "/header", None, None),
    ("POST", "/body", J, b'{"name":"pen","price":1.5}'),
    ("POST", "/body", J, b'{"name":"pen","price":1.5,"tags":["a","b"],"note":"n"}'),
    ("POST", "/body", J, b'{"name":"pen","price":"cheap"}'),
    ("POST", "/body", J, b'{"name":"pen"}'),
    ("POST", "/body", J, b'{"name":"pen","price":1,"tags":[1]}'),
    ("POST", "/body", J, b'{"name":'),
    ("POST", "/body", J, b""),
    ("POST", "/body", {"content-type": "text/plain"}, b'{"name":"pen","price":1.5}'),
    ("POST", "/body", J, b'\xff{"name":"pen"}'),
    ("POST", "/echo", J, b'{"name":"pen","price":2.5,"tags":["x"]}'),
    ("POST", "/echo", J, b'{"name":"pen","price":2.5,"unknown":1}'),
    *(
        ("POST", path, J, PEN)
        for path in ["/struct-plain", "/subclass", "/converted", "/wrong-struct"]
    ),
    ("POST", "/form", U, b"name=Ann+Smith&age=41"),
    ("POST", "/form", U, b"name=Ann&age=41&note=caf%C3%A9&age=42"),
    ("POST", "/form", U, b"name=Ann&age=old"),
    ("POST", "/form", U, b"name=Ann"),
    ("POST", "/form", U, b"name=Ann&age=4&note="),
    ("POST", "/form", U, b"name=%FF&age=4"),
    ("POST", "/form", U, b""),
    ("POST", "/form", None, b""),
    (
        "POST",
        "/form",
        {"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"name=A&age=1",
    ),
    ("POST", "/form", J, b'{"name":"Ann","age":41}'),
    ("POST", "/form", {"content-type": "text/plain"}, b"name=Ann&age=41"),
    ("POST", "/form", M, multipart(("name", "Ann"), ("age", "41"))),
    ("POST", "/form", M, multipart(("name", "Ann"), ("age", "x"))),
    ("POST", "/form", U, b"&".join(b"f%d=1" % i for i in range(1100)) + b"&name=A&age=1"),
]


@pytest.fixture(scope="module")
def clients():
    fast = TestClient(api)
    python = TestClient(api)
    python._runtime.dispatcher.fast_plans = [None] * len(python._runtime.dispatcher.fast_plans)
    yield fast, python
    fast.close()
    python.close()


def test_every_route_here_has_a_fast_plan(clients) -> None:
    fast, python = clients
    assert all(plan is not None for plan in fast._runtime.dispatcher.fast_plans)
    assert all(plan is None for plan in python._runtime.dispatcher.fast_plans)


@pytest.mark.parametrize(("method", "url", "headers", "body"), CASES)
def test_fast_path_answers_as_the_python_path(clients, method, url, headers, body) -> None:
    fast, python = clients
    a = fast.request(method, url, headers=headers, content=body)
    b = python.request(method, url, headers=headers, content=body)
    assert (a.status_code, a.headers.get("content-type"), a.json()) == (
        b.status_code,
        b.headers.get("content-type"),
        b.json(),
    )


def test_struct_results_are_encoded_in_the_same_step(clients, monkeypatch) -> None:
    """A Struct returned where nothing is declared, or an instance of the declared Struct
    class, is encoded by the fast path itself: no second Python dispatch. Results the
    declared type must convert or check go to the Python path."""
    fast, _ = clients
    dispatcher = fast._runtime.dispatcher
    handed: list[str] = []
    for name in ("finish", "run_slow"):
        original = getattr(dispatcher, name)

        def recording(*args, _name=name, _original=original):
            handed.append(_name)
            return _original(*args)

        monkeypatch.setattr(dispatcher, name, recording)
    pen = {"name": "pen", "price": 2.5, "tags": [], "note": None}
    for path, expected in [
        ("/echo", pen),
        ("/struct-plain", pen),
        ("/subclass", {**pen, "currency": "EUR"}),
    ]:
        r = fast.post(path, content=PEN, headers=J)
        assert (r.status_code, r.headers["content-type"], r.json()) == (
            200,
            "application/json",
            expected,
        )
    assert handed == []
    assert fast.post("/converted", content=PEN, headers=J).json() == pen
    text = fast.post("/declared-str", content=PEN, headers=J)
    assert (text.headers["content-type"], text.text) == ("text/plain; charset=utf-8", "pen")
    assert handed == ["finish", "finish"]


def test_form_fields_are_read_on_the_fast_path(clients, monkeypatch) -> None:
    """An urlencoded body and the text parts of a multipart one are read in Rust with the
    handler's call; other bodies (refused with 415) go to Python."""
    fast, _ = clients
    dispatcher = fast._runtime.dispatcher
    handed: list[str] = []
    original = dispatcher.run_slow

    def recording(*args):
        handed.append("run_slow")
        return original(*args)

    monkeypatch.setattr(dispatcher, "run_slow", recording)
    ann = {"name": "Ann Smith", "age": 41, "note": None}
    assert fast.post("/form", content=b"name=Ann+Smith&age=41", headers=U).json() == ann
    body = multipart(("name", "Ann Smith"), ("age", "41"))
    assert fast.post("/form", content=body, headers=M).json() == ann
    assert handed == []
    assert fast.post("/form", json={"name": "Ann", "age": 41}).status_code == 415
    assert handed == ["run_slow"]


def test_each_request_runs_in_a_fresh_context():
    """A ContextVar set by one request is not seen by the next: each runs in a fresh
    contextvars context."""
    import contextvars

    seen = contextvars.ContextVar("seen", default="unset")
    own = BoltAPI(openapi_url=None)

    @own.get("/ctx/{value}")
    async def ctx(value: str):
        before = seen.get()
        seen.set(value)
        return {"before": before}

    with TestClient(own, django_fallback=False) as client:
        answers = [client.get(f"/ctx/{v}").json() for v in ("a", "b", "c")]
    assert answers == [{"before": "unset"}] * 3
