"""More of what docs/routing.md and docs/viewsets.md promise, through the real Rust
pipeline: the order field validators run in and ``super().__post_init__()`` in a
``Serializer`` subclass, Django's sync ``login`` / ``logout`` in sync handlers, cookies
on a ``StreamingResponse``, ModelSerializer input refusing nested and ``auto_now_add``
fields, and the serializer helpers (``serialize``, ``serialize_many``, ``input_type``,
``@paginate`` with ``-> list[SomeSerializer]``) in function handlers."""

import msgspec
import pytest
from django.contrib.auth import get_user_model, login, logout
from users.models import Article, Author, Tag

from django_bolt import BoltAPI, Form, PageNumberPagination, Request, paginate
from django_bolt.responses import Response, StreamingResponse
from django_bolt.serializers import ModelSerializer, Serializer, ValidationError
from django_bolt.testing import TestClient
from django_bolt.views import ModelViewSet
from tests.conftest import answer

User = get_user_model()

# -- field validators ------------------------------------------------------------------

ran: list[str] = []


class Booking(Serializer):
    """Fields in the order guest, room, nights; the validators are written the other way
    round, so the order they run in can only come from the fields."""

    guest: str
    room: str
    nights: int

    def validate_nights(self, value):
        ran.append("nights")
        if value > 14:
            raise ValidationError("At most 14 nights")
        return value

    def validate_room(self, value):
        ran.append("room")
        # The guest's validator ran first: its kept (transformed) value is already here.
        if self.guest == "VIP" and not value.lower().startswith("suite"):
            raise ValueError("VIP guests get a suite")
        return value.lower()

    def validate_guest(self, value):
        ran.append("guest")
        if not value:
            raise ValueError("A guest is required")
        return value.strip().upper()


class Signup(Serializer):
    """A subclass with a ``__post_init__`` of its own that calls ``super().__post_init__()``:
    the field validators still run, and before its own check."""

    email: str
    password: str
    confirm: str

    def validate_email(self, value):
        if "@" not in value:
            raise ValidationError("Not an email address")
        return value.lower()

    def validate_password(self, value):
        return value.strip()

    def __post_init__(self):
        super().__post_init__()
        if self.password != self.confirm:
            raise ValueError("The passwords differ")


api = BoltAPI()


@api.post("/bookings")
async def book(booking: Booking) -> Booking:
    return booking


@api.post("/signups")
def sign_up(signup: Signup):
    return {"email": signup.email, "password": signup.password}


# -- streaming with cookies -------------------------------------------------------------


def _with_cookies(response):
    response.set_cookie("theme", "dark", max_age=60, path="/", httponly=True, samesite="Strict")
    response.delete_cookie("old")
    return response


@api.get("/plain-with-cookies")
async def plain_with_cookies():
    return _with_cookies(Response(b"one;two;three", media_type="text/plain"))


@api.get("/stream-with-cookies")
async def stream_with_cookies():
    async def parts():
        for part in (b"one;", b"two;", b"three"):
            yield part

    return _with_cookies(StreamingResponse(parts(), media_type="text/plain"))


@api.get("/sync-stream-with-cookies")
def sync_stream_with_cookies():
    return _with_cookies(
        StreamingResponse(iter([b"one;", b"two;", b"three"]), media_type="text/plain")
    )


@pytest.fixture(scope="module")
def client():
    with TestClient(api, django_fallback=False) as c:
        yield c


def test_validators_run_in_field_order_each_seeing_the_values_kept_before_it(client):
    ran.clear()
    assert Booking(guest=" vip ", room="SUITE-4", nights=3).room == "suite-4"
    assert ran == ["guest", "room", "nights"]
    ran.clear()
    r = client.post("/bookings", json={"guest": " vip ", "room": "Suite-4", "nights": 3})
    assert answer(r) == (200, {"guest": "VIP", "room": "suite-4", "nights": 3})
    assert ran == ["guest", "room", "nights"]
    # room's validator saw the guest as guest's validator kept it ("VIP", not " vip ").
    r = client.post("/bookings", json={"guest": " vip ", "room": "Single-1", "nights": 3})
    assert answer(r) == (
        422,
        {
            "detail": [
                {"loc": ["body", "room"], "msg": "VIP guests get a suite", "type": "value_error"}
            ]
        },
    )


def test_the_first_refused_field_in_field_order_is_the_one_reported(client):
    # Both guest and nights are refused; guest comes first among the fields, so it is the
    # refusal the client sees, although its validator is written last.
    r = client.post("/bookings", json={"guest": "", "room": "suite", "nights": 30})
    assert answer(r) == (
        422,
        {
            "detail": [
                {"loc": ["body", "guest"], "msg": "A guest is required", "type": "value_error"}
            ]
        },
    )
    r = client.post("/bookings", json={"guest": "ann", "room": "suite", "nights": 30})
    assert answer(r) == (
        422,
        {
            "detail": [
                {"loc": ["body", "nights"], "msg": "At most 14 nights", "type": "value_error"}
            ]
        },
    )


def test_a_post_init_calling_super_keeps_the_field_validators(client):
    r = client.post(
        "/signups", json={"email": "Ann@Example.COM", "password": " pw-1 ", "confirm": "pw-1"}
    )
    # The validators ran before the subclass's own check: the stripped password matches.
    assert answer(r) == (200, {"email": "ann@example.com", "password": "pw-1"})
    r = client.post("/signups", json={"email": "nobody", "password": "pw-1", "confirm": "pw-1"})
    assert answer(r) == (
        422,
        {
            "detail": [
                {"loc": ["body", "email"], "msg": "Not an email address", "type": "value_error"}
            ]
        },
    )
    r = client.post("/signups", json={"email": "a@b.c", "password": "pw-1", "confirm": "pw-2"})
    assert answer(r) == (
        422,
        {"detail": [{"loc": ["body"], "msg": "The passwords differ", "type": "value_error"}]},
    )
    # Built in Python, the same checks apply.
    assert Signup(email="A@B.C", password=" x ", confirm="x").email == "a@b.c"
    with pytest.raises(ValueError, match="Not an email address"):
        Signup(email="nope", password="x", confirm="x")
    with pytest.raises(ValueError, match="The passwords differ"):
        Signup(email="a@b.c", password="x", confirm="y")


def test_a_streaming_response_sends_the_cookies_it_was_given(client):
    plain = client.get("/plain-with-cookies")
    expected = [
        "theme=dark; HttpOnly; Max-Age=60; Path=/; SameSite=Strict",
        'old=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax',
    ]
    assert sorted(plain.headers.get_list("set-cookie")) == sorted(expected)
    for path in ("/stream-with-cookies", "/sync-stream-with-cookies"):
        streamed = client.get(path)
        assert (streamed.status_code, streamed.content) == (200, b"one;two;three"), path
        assert streamed.headers["content-type"].startswith("text/plain"), path
        # Exactly the cookies the same calls put on a plain Response.
        assert sorted(streamed.headers.get_list("set-cookie")) == sorted(expected), path
        assert streamed.cookies["theme"] == "dark", path


# -- sync login / logout ------------------------------------------------------------------

sessions = BoltAPI()


@sessions.post("/login")
def sync_login(request: Request, username: str = Form(), password: str = Form()):
    user = User.objects.filter(username=username).first()
    if user and user.check_password(password):
        login(request, user)
        request.session["visits"] = 1
        return {"status": "ok"}
    return {"status": "error"}


@sessions.get("/profile")
def sync_profile(request: Request):
    if not request.user.is_authenticated:
        return {"error": "not logged in"}
    return {"username": request.user.username, "visits": request.session.get("visits")}


@sessions.get("/async-profile")
async def async_profile(request: Request):
    user = await request.auser()
    return {"username": user.username if user.is_authenticated else None}


@sessions.post("/logout")
def sync_logout(request: Request):
    logout(request)
    return {"status": "logged out"}


@pytest.mark.orm
@pytest.mark.django_db
def test_sync_login_and_logout_work_on_the_request_of_a_sync_handler():
    User.objects.create_user("ann", "ann@example.com", "pw-ann-123")
    with TestClient(sessions, django_fallback=False) as client:
        refused = client.post("/login", data={"username": "ann", "password": "wrong"})
        assert answer(refused) == (200, {"status": "error"})
        assert "set-cookie" not in refused.headers
        r = client.post("/login", data={"username": "ann", "password": "pw-ann-123"})
        assert answer(r) == (200, {"status": "ok"})
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("sessionid=") and "HttpOnly" in cookie
        old_session = client.cookies["sessionid"]
        assert User.objects.get(username="ann").last_login is not None
        assert client.get("/profile").json() == {"username": "ann", "visits": 1}
        assert client.get("/async-profile").json() == {"username": "ann"}

        out = client.post("/logout")
        assert answer(out) == (200, {"status": "logged out"})
        # The session is flushed and its cookie deleted (expired at once).
        deleted = out.headers["set-cookie"]
        assert deleted.startswith("sessionid=") and "Max-Age=0" in deleted
        assert "sessionid" not in client.cookies
        assert client.get("/profile").json() == {"error": "not logged in"}
        assert client.get("/async-profile").json() == {"username": None}
        # The old session key no longer names a logged-in session.
        client.cookies.set("sessionid", old_session)
        assert client.get("/profile").json() == {"error": "not logged in"}


@pytest.mark.orm
@pytest.mark.django_db
def test_logout_deletes_the_session_cookie_with_the_header_djangos_middleware_sends(settings):
    from django.http import HttpResponse

    User.objects.create_user("bea", "bea@example.com", "pw-bea-123")
    with TestClient(sessions, django_fallback=False) as client:
        client.post("/login", data={"username": "bea", "password": "pw-bea-123"})
        out = client.post("/logout")
    # What SessionMiddleware.process_response does for a session emptied by logout().
    django_response = HttpResponse()
    django_response.delete_cookie(
        settings.SESSION_COOKIE_NAME,
        path=settings.SESSION_COOKIE_PATH,
        domain=settings.SESSION_COOKIE_DOMAIN,
        samesite=settings.SESSION_COOKIE_SAMESITE,
    )
    expected = django_response.cookies[settings.SESSION_COOKIE_NAME].OutputString()
    assert out.headers.get_list("set-cookie") == [expected]
    assert "Cookie" in out.headers["vary"]


# -- model serializers -------------------------------------------------------------------


class Pages(PageNumberPagination):
    page_size = 2


class AuthorOut(ModelSerializer):
    class Meta:
        model = Author
        fields = ["id", "name"]


class TagOut(ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name"]


class ArticleWithNested(ModelSerializer):
    """``editor`` and ``tags`` nested (so output only), ``created_at`` auto_now_add."""

    editor = AuthorOut()
    tags = TagOut(many=True)

    class Meta:
        model = Article
        fields = ["id", "title", "author", "editor", "tags", "created_at"]


class ArticleFlat(ModelSerializer):
    class Meta:
        model = Article
        fields = ["id", "title", "status", "author", "tags"]


models_api = BoltAPI()


@models_api.viewset("/articles")
class ArticleViewSet(ModelViewSet):
    queryset = Article.objects.order_by("id")
    serializer_class = ArticleWithNested


@models_api.get("/flat/{pk}")
def flat_one(pk: int):
    return ArticleFlat.serialize(Article.objects.get(pk=pk))


@models_api.get("/flat")
def flat_many():
    return ArticleFlat.serialize_many(Article.objects.order_by("id"))


@models_api.post("/flat", status_code=201)
def flat_create(body: ArticleFlat.input_type()):
    values, many = ArticleFlat.write_values(body)
    article = Article.objects.create(**values)
    article.tags.set(many.get("tags", []))
    return ArticleFlat.serialize(article)


@models_api.patch("/flat/{pk}")
def flat_patch(pk: int, body: ArticleFlat.input_type(partial=True)):
    values, _ = ArticleFlat.write_values(body)
    Article.objects.filter(pk=pk).update(**values)
    return ArticleFlat.serialize(Article.objects.get(pk=pk))


@models_api.get("/paged")
@paginate(Pages)
def paged() -> list[ArticleFlat]:
    return Article.objects.order_by("id")


@pytest.fixture
def world():
    ada = Author.objects.create(name="Ada")
    tags = [Tag.objects.create(name=n) for n in ("rust", "python")]
    return ada, tags


@pytest.mark.orm
@pytest.mark.django_db
def test_nested_and_auto_now_add_fields_are_output_only(world):
    ada, tags = world
    with TestClient(models_api, django_fallback=False) as client:
        r = client.post("/articles", json={"title": "Hello", "author": ada.id})
        assert r.status_code == 201, r.text
        body = r.json()
        article = Article.objects.get()
        assert body == {
            "id": article.id,
            "title": "Hello",
            "author": ada.id,
            "editor": None,
            "tags": [],
            "created_at": body["created_at"],
        }
        assert msgspec.convert(body["created_at"], type=type(article.created_at)) == (
            article.created_at
        )
        # Sending any of them, on create or on a partial update, is a 422; nothing changes.
        refused = {
            "created_at": "2001-01-01T00:00:00Z",
            "editor": {"id": ada.id, "name": "Ada"},
            "tags": [{"id": tags[0].id, "name": "rust"}],
        }
        for name, value in refused.items():
            expected = (
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", name],
                            "msg": "Unknown field (or read-only)",
                            "type": "extra_forbidden",
                        }
                    ]
                },
            )
            new = {"title": "Again", "author": ada.id, name: value}
            assert answer(client.post("/articles", json=new)) == expected, name
            assert answer(client.patch(f"/articles/{article.id}", json={name: value})) == (
                expected
            ), name
        # Ids in place of the nested objects are refused as well.
        for name, value in (("editor", ada.id), ("tags", [tags[0].id])):
            r = client.patch(f"/articles/{article.id}", json={name: value})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", name]
        assert Article.objects.count() == 1
        article.refresh_from_db()
        assert (article.editor_id, list(article.tags.all())) == (None, [])
        assert article.created_at.year != 2001


@pytest.mark.orm
@pytest.mark.django_db
def test_serializer_helpers_in_function_handlers(world):
    ada, tags = world
    first = Article.objects.create(title="First", author=ada)
    first.tags.set(tags)
    second = Article.objects.create(title="Second", author=ada, status="published")

    # serialize gives the output Struct, encoded by msgspec.
    out = ArticleFlat.serialize(first)
    assert isinstance(out, ArticleFlat.output_type())
    assert msgspec.json.decode(msgspec.json.encode(out)) == {
        "id": first.id,
        "title": "First",
        "status": "draft",
        "author": ada.id,
        "tags": [tags[0].id, tags[1].id],
    }
    many = ArticleFlat.serialize_many(Article.objects.order_by("id"))
    assert [type(o) for o in many] == [ArticleFlat.output_type()] * 2

    with TestClient(models_api, django_fallback=False) as client:
        assert client.get(f"/flat/{second.id}").json() == {
            "id": second.id,
            "title": "Second",
            "status": "published",
            "author": ada.id,
            "tags": [],
        }
        assert client.get("/flat").json() == [
            msgspec.json.decode(msgspec.json.encode(o)) for o in many
        ]
        # input_type(): the create body, required fields and all.
        r = client.post("/flat", json={"title": "Third", "author": ada.id, "tags": [tags[1].id]})
        assert r.status_code == 201, r.text
        third = r.json()
        assert third == {
            "id": third["id"],
            "title": "Third",
            "status": "draft",
            "author": ada.id,
            "tags": [tags[1].id],
        }
        assert answer(client.post("/flat", json={"author": ada.id})) == (
            422,
            {"detail": [{"loc": ["body", "title"], "msg": "Field required", "type": "missing"}]},
        )
        assert client.post("/flat", json={"title": "x", "author": ada.id, "id": 9}).status_code == (
            422
        )
        # input_type(partial=True): any subset.
        r = client.patch(f"/flat/{second.id}", json={"status": "draft"})
        assert r.json()["status"] == "draft" and r.json()["title"] == "Second"
        assert client.patch(f"/flat/{second.id}", json={"status": "gone"}).status_code == 422
        # @paginate with -> list[ArticleFlat]: each item is the serializer's output.
        page = client.get("/paged", params={"page": 2}).json()
        assert page == {
            "count": 3,
            "page": 2,
            "page_size": 2,
            "total_pages": 2,
            "has_next": False,
            "has_previous": True,
            "next_page": None,
            "previous_page": 1,
            "items": [third],
        }
        assert client.get("/paged").json()["items"][0]["tags"] == [tags[0].id, tags[1].id]
