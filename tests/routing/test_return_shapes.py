"""Every shape a handler may return, as the seeds write them, from async and sync
handlers: through the fast path where it applies and the full path otherwise."""

import msgspec
import pytest

from django_bolt import BoltAPI
from django_bolt.responses import HTML, JSON, PlainText, Redirect
from django_bolt.serializers import ModelSerializer
from django_bolt.testing import TestClient


class UserIn(msgspec.Struct):
    name: str
    email: str
    age: int | None = None


class NoteOut(msgspec.Struct):
    id: int
    title: str


class NoteSerializer(ModelSerializer):
    class Meta:
        from users.models import Note

        model = Note
        fields = ["id", "title"]


api = BoltAPI()


def both(path, **options):
    """Registers the handler body as an async and a sync route: /async/... and /sync/..."""

    def register(make):
        async def async_handler(**kwargs):
            return make(**kwargs)

        def sync_handler(**kwargs):
            return make(**kwargs)

        for prefix, handler in (("/async", async_handler), ("/sync", sync_handler)):
            handler.__annotations__ = dict(make.__annotations__)
            handler.__signature__ = __import__("inspect").signature(make)
            handler.__name__ = f"{make.__name__}_{prefix[1:]}"
            handler.__qualname__ = handler.__name__
            api.get(prefix + path, **options)(handler)
        return make

    return register


@both("/dict")
def a_dict():
    return {"a": 1}


@both("/list")
def a_list():
    return [1, "two", None]


@both("/struct")
def a_struct() -> UserIn:
    return UserIn(name="ann", email="a@x.io")


@both("/structs")
def structs() -> list[UserIn]:
    return [UserIn(name="ann", email="a@x.io", age=3)]


@both("/checked")
def checked() -> UserIn:
    return {"name": "bob", "email": "b@x.io", "age": 4}


@both("/model", response_model=list[NoteOut])
def with_response_model():
    return [{"id": 1, "title": "t", "extra": "dropped"}]


@both("/status")
def status_pair():
    return {"created": True}, 201


@both("/status-headers")
def status_headers():
    return {"created": True}, 201, {"X-Id": "7"}


@both("/json")
def json_class():
    return JSON({"a": 1}, status_code=202)


@both("/text")
def text_class():
    return PlainText("hi")


@both("/html")
def html_class():
    return HTML("<p>hi</p>")


@both("/redirect")
def redirect_class():
    return Redirect("/elsewhere")


@both("/nothing", status_code=204)
def nothing():
    return None


EXPECTED = {
    "/dict": (200, {"a": 1}),
    "/list": (200, [1, "two", None]),
    "/struct": (200, {"name": "ann", "email": "a@x.io", "age": None}),
    "/structs": (200, [{"name": "ann", "email": "a@x.io", "age": 3}]),
    "/checked": (200, {"name": "bob", "email": "b@x.io", "age": 4}),
    "/model": (200, [{"id": 1, "title": "t"}]),
    "/status": (201, {"created": True}),
    "/status-headers": (201, {"created": True}),
    "/json": (202, {"a": 1}),
}


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_json_shapes(client, mode, path):
    status, body = EXPECTED[path]
    response = client.get(f"/{mode}{path}")
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["content-type"] == "application/json"
    if path == "/status-headers":
        assert response.headers["x-id"] == "7"


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_other_response_classes(client, mode):
    text = client.get(f"/{mode}/text")
    assert (text.status_code, text.text) == (200, "hi")
    assert text.headers["content-type"].startswith("text/plain")
    page = client.get(f"/{mode}/html")
    assert (page.status_code, page.text) == (200, "<p>hi</p>")
    assert page.headers["content-type"].startswith("text/html")
    moved = client.get(f"/{mode}/redirect", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (302, "/elsewhere")
    empty = client.get(f"/{mode}/nothing")
    assert (empty.status_code, empty.content) == (204, b"")


# -- the ORM under declared types -------------------------------------------------------

orm = BoltAPI()


@orm.get("/async/notes")
async def async_notes() -> list[NoteOut]:
    from users.models import Note

    return Note.objects.order_by("id")  # "or you could just return the queryset"


@orm.get("/sync/notes")
def sync_notes() -> list[NoteOut]:
    from users.models import Note

    return Note.objects.order_by("id")


@orm.get("/async/notes-serialized")
async def async_notes_serialized() -> list[NoteSerializer]:
    from users.models import Note

    return Note.objects.order_by("id")


@orm.get("/async/notes/{pk}")
async def async_note(pk: int) -> NoteOut:
    from users.models import Note

    return await Note.objects.aget(pk=pk)


@orm.get("/async/notes-filtered")
async def async_notes_filtered() -> list[NoteOut]:
    from users.models import Note

    return Note.objects.filter(title__startswith="b").order_by("id")


@pytest.mark.orm
@pytest.mark.django_db(transaction=True)
def test_querysets_and_instances_under_declared_types():
    from users.models import Note

    a = Note.objects.create(title="a")
    b = Note.objects.create(title="b")
    rows = [{"id": a.id, "title": "a"}, {"id": b.id, "title": "b"}]
    with TestClient(orm) as client:
        for path in ("/async/notes", "/sync/notes", "/async/notes-serialized"):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.json() == rows, path
        assert client.get(f"/async/notes/{b.id}").json() == rows[1]
        assert client.get("/async/notes-filtered").json() == [rows[1]]
