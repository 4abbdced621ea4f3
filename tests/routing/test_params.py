"""Parameter markers, constraints, special types and dependencies."""

import datetime
import enum
import uuid
from typing import Annotated

import msgspec
import pytest

from django_bolt import BoltAPI, Depends
from django_bolt.exceptions import HTTPException
from django_bolt.param_functions import Body, Cookie, Header, Path, Query
from django_bolt.routing.coercion import INT_RANGE
from django_bolt.testing import TestClient

api = BoltAPI()


class Color(enum.Enum):
    red = "red"
    green = "green"


class Address(msgspec.Struct):
    city: str


class Signup(msgspec.Struct):
    username: str
    email: str
    password: str
    address: Address | None = None

    def __post_init__(self):
        if len(self.password) < 8:
            raise msgspec.ValidationError("Password must be at least 8 characters")
        if "@" not in self.email:
            raise msgspec.ValidationError("Invalid email format")


@api.get("/limits")
async def limits(
    limit: int = Query(10, ge=1, le=100), name: str = Query("x", min_length=2, max_length=5)
):
    return {"limit": limit, "name": name}


@api.get("/annotated")
async def annotated(
    limit: Annotated[int, Query(ge=1)] = 5,
    code: Annotated[str, Query(alias="c", pattern=r"^[a-z]+$")] = "abc",
):
    return {"limit": limit, "code": code}


@api.get("/ints/{n}")
async def ints(n: int, q: int = 0, at_least: Annotated[int, Query(ge=0)] = 0):
    return {"n": n, "q": q, "at_least": at_least}


@api.get("/lists")
async def lists(tags: list[str] = Query([]), ids: list[int] = Query([])):
    return {"tags": tags, "ids": ids}


@api.get("/special")
async def special(
    color: Color = Color.red,
    day: datetime.date | None = None,
    at: datetime.datetime | None = None,
    ref: uuid.UUID | None = None,
):
    return {
        "color": color.value,
        "day": day.isoformat() if day else None,
        "at": at.isoformat() if at else None,
        "ref": str(ref) if ref else None,
    }


@api.get("/headers")
async def headers(
    authorization: Annotated[str, Header(alias="Authorization")],
    custom: Annotated[str | None, Header(alias="X-Custom")] = None,
    user_agent: str = Header("none"),
):
    return {"auth": authorization, "custom": custom, "agent": user_agent}


@api.get("/positional-alias")
async def positional_alias(key: Annotated[str, Header("x-api-key")]):
    return {"key": key}


@api.get("/keyword-default")
async def keyword_default(
    q: Annotated[str, Query(default="x")], h: Annotated[str, Header(default="none")]
):
    return {"q": q, "h": h}


@api.get("/cookies")
async def cookies(
    session_id: Annotated[str, Cookie(alias="sessionid")], theme: str = Cookie("light")
):
    return {"session_id": session_id, "theme": theme}


@api.get("/path-marker/{item_id}")
async def path_marker(item_id: Annotated[int, Path(ge=1)]):
    return {"item_id": item_id}


@api.post("/signup")
async def signup(body: Signup):
    return {"username": body.username, "city": body.address.city if body.address else None}


# -- dependencies ------------------------------------------------------------------
calls = {"expensive": 0}


async def get_pagination(page: int = 1, limit: int = 20):
    return {"page": page, "limit": limit, "offset": (page - 1) * limit}


def sync_dependency(request):
    return request.headers.get("x-user", "anonymous")


async def expensive_operation(request):
    calls["expensive"] += 1
    return {"count": calls["expensive"]}


async def get_settings(request):
    return {"beta": request.query.get("beta") == "1"}


async def get_feature_flags(settings=Depends(get_settings)):
    return {"beta": settings["beta"], "new_ui": True}


async def require_user(request):
    user = request.headers.get("x-user")
    if not user:
        raise HTTPException(status_code=401, detail="Not authenticated")
    return user


class DatabaseSession:
    def __init__(self, request):
        self.request = request
        self.opened = False

    async def __aenter__(self):
        self.opened = True
        return self

    async def __aexit__(self, *args):
        self.opened = False


@api.get("/items")
async def list_items(pagination=Depends(get_pagination)):
    return {"pagination": pagination}


@api.get("/who")
async def who(user: Annotated[str, Depends(sync_dependency)]):
    return {"user": user}


@api.get("/who-sync")
def who_sync(user=Depends(sync_dependency), flags=Depends(get_feature_flags)):
    return {"user": user, "flags": flags}


@api.get("/cached")
async def cached(dep1=Depends(expensive_operation), dep2=Depends(expensive_operation)):
    return {"dep1": dep1, "dep2": dep2}


@api.get("/fresh")
async def fresh(
    dep1=Depends(expensive_operation), dep2=Depends(expensive_operation, use_cache=False)
):
    return {"dep1": dep1, "dep2": dep2}


@api.get("/features")
async def features(flags=Depends(get_feature_flags)):
    return flags


@api.get("/private")
async def private(user=Depends(require_user)):
    return {"user": user}


@api.get("/db")
async def db(session=Depends(DatabaseSession)):
    async with session:
        return {"opened": session.opened, "path": session.request.path}


@api.get("/by-annotation")
async def by_annotation(session: Annotated[DatabaseSession, Depends()]):
    return {"class": type(session).__name__}


@pytest.fixture(scope="module")
def client():
    with TestClient(api, django_fallback=False) as c:
        yield c


def detail(response):
    assert response.status_code == 422, response.text
    return response.json()["detail"]


def test_constraints(client):
    assert client.get("/limits").json() == {"limit": 10, "name": "x"}
    assert client.get("/limits?limit=100&name=abcde").json() == {"limit": 100, "name": "abcde"}
    errors = detail(client.get("/limits?limit=0&name=toolong"))
    assert {tuple(e["loc"]) for e in errors} == {("query", "limit"), ("query", "name")}
    assert all(e["type"] == "value_error" for e in errors)
    assert detail(client.get("/limits?limit=101"))[0]["msg"].startswith("Expected `int` <= 100")


def test_integers_are_64_bit(client):
    top, bottom = 2**63 - 1, -(2**63)
    assert client.get(f"/ints/{top}?q={bottom}&at_least={top}").json() == {
        "n": top,
        "q": bottom,
        "at_least": top,
    }
    fifty = "9" * 50
    for url, loc in (
        (f"/ints/{fifty}", ["path", "n"]),
        (f"/ints/{2**63}", ["path", "n"]),
        (f"/ints/1?q=-{2**63 + 1}", ["query", "q"]),
        (f"/ints/1?at_least={fifty}", ["query", "at_least"]),
    ):
        errors = detail(client.get(url))
        assert errors == [
            {
                "loc": loc,
                "msg": INT_RANGE,
                "type": "value_error",
            }
        ], url


def test_annotated_markers_with_alias_and_pattern(client):
    assert client.get("/annotated?limit=3&c=xyz").json() == {"limit": 3, "code": "xyz"}
    errors = detail(client.get("/annotated?c=XYZ"))
    assert errors[0]["loc"] == ["query", "c"]
    assert detail(client.get("/annotated?limit=0"))[0]["loc"] == ["query", "limit"]


def test_list_query_parameters(client):
    assert client.get("/lists").json() == {"tags": [], "ids": []}
    assert client.get("/lists?tags=a&tags=b&ids=1&ids=2").json() == {
        "tags": ["a", "b"],
        "ids": [1, 2],
    }
    assert detail(client.get("/lists?ids=1&ids=x"))[0]["loc"][:2] == ["query", "ids"]


@api.get("/optional")
async def optional(after: int | None = None, name: str | None = "x"):
    return {"after": after, "name": name}


@api.get("/optional-sync")
def optional_sync(after: int | None = None):
    return {"after": after}


def test_an_empty_value_of_an_optional_parameter_is_none(client):
    assert client.get("/optional?after=&name=").json() == {"after": None, "name": None}
    assert client.get("/optional?after=3&name=ada").json() == {"after": 3, "name": "ada"}
    assert client.get("/optional").json() == {"after": None, "name": "x"}
    assert client.get("/optional-sync?after=").json() == {"after": None}
    # Only for optional ones: an empty int that is required stays an error.
    assert client.get("/ints/1?q=").status_code == 422


def test_query_text_that_is_not_utf8_is_refused(client):
    assert client.get("/lists?tags=caf%C3%A9").json() == {"tags": ["café"], "ids": []}
    r = client.get("/lists?ids=1&tags=%FF%FE")
    assert (r.status_code, r.json()) == (
        400,
        {"detail": 'Query parameter "tags" is not valid UTF-8'},
    )
    r = client.get("/lists?%C3=1")
    assert r.status_code == 400
    assert r.json()["detail"].startswith("A query parameter name")


def test_enums_dates_and_uuids(client):
    ref = uuid.uuid4()
    got = client.get(
        f"/special?color=green&day=2026-01-02&at=2026-01-02T03:04:05Z&ref={ref}"
    ).json()
    assert got == {
        "color": "green",
        "day": "2026-01-02",
        "at": "2026-01-02T03:04:05+00:00",
        "ref": str(ref),
    }
    assert client.get("/special").json()["color"] == "red"
    assert detail(client.get("/special?color=blue"))[0]["loc"] == ["query", "color"]
    assert detail(client.get("/special?day=yesterday"))[0]["loc"] == ["query", "day"]


def test_headers(client):
    got = client.get(
        "/headers", headers={"authorization": "Bearer t", "x-custom": "c", "user-agent": "ua"}
    ).json()
    assert got == {"auth": "Bearer t", "custom": "c", "agent": "ua"}
    errors = detail(client.get("/headers", headers={"user-agent": "ua"}))
    assert errors == [
        {"loc": ["header", "authorization"], "msg": "Field required", "type": "missing"}
    ]


def test_positional_string_inside_annotated_is_the_alias(client):
    assert client.get("/positional-alias", headers={"X-API-Key": "k1"}).json() == {"key": "k1"}
    assert detail(client.get("/positional-alias"))[0]["loc"] == ["header", "x-api-key"]


def test_a_keyword_default_inside_annotated_is_the_default(client):
    assert client.get("/keyword-default").json() == {"q": "x", "h": "none"}
    assert client.get("/keyword-default?q=y", headers={"h": "set"}).json() == {
        "q": "y",
        "h": "set",
    }


def test_a_marker_takes_one_default():
    with pytest.raises(TypeError, match=r"Query\(\) got a positional argument and default="):
        Query("a", default="b")
    with pytest.raises(TypeError, match="takes one positional argument"):
        Header("a", "b")


def test_cookies(client):
    got = client.get("/cookies", headers={"cookie": "sessionid=abc; theme=dark"}).json()
    assert got == {"session_id": "abc", "theme": "dark"}
    assert client.get("/cookies", headers={"cookie": "sessionid=s"}).json()["theme"] == "light"
    assert detail(client.get("/cookies"))[0]["loc"] == ["cookie", "sessionid"]


def test_path_marker_constraint(client):
    assert client.get("/path-marker/3").json() == {"item_id": 3}
    assert detail(client.get("/path-marker/0"))[0]["loc"] == ["path", "item_id"]


def test_post_init_validation_names_the_problem(client):
    ok = client.post("/signup", json={"username": "a", "email": "a@b.c", "password": "long-enough"})
    assert ok.json() == {"username": "a", "city": None}
    bad = detail(
        client.post("/signup", json={"username": "a", "email": "a@b.c", "password": "short"})
    )
    assert bad[0]["loc"] == ["body"]
    assert "Password must be at least 8 characters" in bad[0]["msg"]
    nested = detail(
        client.post(
            "/signup",
            json={"username": "a", "email": "x@y", "password": "long-enough", "address": {}},
        )
    )
    assert nested[0]["loc"] == ["body", "address", "city"]
    assert nested[0]["type"] == "missing"


def test_dependency_with_query_parameters(client):
    assert client.get("/items?page=3&limit=10").json() == {
        "pagination": {"page": 3, "limit": 10, "offset": 20}
    }
    assert detail(client.get("/items?page=x"))[0]["loc"] == ["query", "page"]


def test_sync_dependency_receives_the_request(client):
    assert client.get("/who", headers={"x-user": "ann"}).json() == {"user": "ann"}


def test_sync_handler_with_async_dependencies(client):
    got = client.get("/who-sync?beta=1", headers={"x-user": "bob"}).json()
    assert got == {"user": "bob", "flags": {"beta": True, "new_ui": True}}


def test_dependencies_are_cached_per_request(client):
    first = client.get("/cached").json()
    assert first["dep1"] == first["dep2"]
    second = client.get("/cached").json()
    assert second["dep1"]["count"] == first["dep1"]["count"] + 1


def test_use_cache_false_calls_again(client):
    got = client.get("/fresh").json()
    assert got["dep2"]["count"] == got["dep1"]["count"] + 1


def test_nested_dependencies(client):
    assert client.get("/features?beta=1").json() == {"beta": True, "new_ui": True}


def test_dependency_errors_become_responses(client):
    response = client.get("/private")
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert client.get("/private", headers={"x-user": "z"}).json() == {"user": "z"}


def test_class_dependency(client):
    assert client.get("/db").json() == {"opened": True, "path": "/db"}
    assert client.get("/by-annotation").json() == {"class": "DatabaseSession"}


class Settings(msgspec.Struct):
    theme: str
    size: int = 10


@api.post("/body-marker")
async def body_marker(settings: Annotated[Settings, Body()]):
    return {"theme": settings.theme, "size": settings.size}


@api.post("/body-dict")
async def body_dict(data: dict = Body(...)):
    return {"keys": sorted(data)}


@api.get("/response-model", response_model=list[Settings])
async def response_model():
    return [{"theme": "dark"}, {"theme": "light", "size": 2}]


@api.get("/response-model-bad", response_model=Settings)
async def response_model_bad():
    return {"size": 1}


def test_body_marker_in_annotated_and_as_default(client):
    assert client.post("/body-marker", json={"theme": "dark"}).json() == {
        "theme": "dark",
        "size": 10,
    }
    assert detail(client.post("/body-marker", json={"size": 1}))[0]["loc"] == ["body", "theme"]
    assert client.post("/body-dict", json={"b": 1, "a": 2}).json() == {"keys": ["a", "b"]}
    assert detail(client.post("/body-dict", json=[1]))[0]["loc"] == ["body"]


def test_response_model_converts_and_validates(client):
    assert client.get("/response-model").json() == [
        {"theme": "dark", "size": 10},
        {"theme": "light", "size": 2},
    ]
    response = client.get("/response-model-bad")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
