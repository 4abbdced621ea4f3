"""ViewSets: conventional methods, @route, @action, get_queryset/get_object, pagination
and auth on the class."""

import msgspec
import pytest

from django_bolt import BoltAPI, PageNumberPagination, ViewSet, action, paginate
from django_bolt.auth import IsAuthenticated, JWTAuthentication, create_jwt_for_user
from django_bolt.testing import TestClient
from django_bolt.views import route
from tests.conftest import answer

pytestmark = [pytest.mark.orm, pytest.mark.django_db(transaction=True)]

SECRET = "viewset-test-secret-0123456789abcdef0123"


class NoteIn(msgspec.Struct):
    title: str
    body: str = ""


class NoteOut(msgspec.Struct):
    id: int
    title: str


class Pages(PageNumberPagination):
    page_size = 2


def note_model():
    from users.models import Note

    return Note


api = BoltAPI()


@api.viewset("/notes")
class NoteViewSet(ViewSet):
    lookup_url_kwarg = "pk"

    def get_queryset(self):
        self.queryset = note_model().objects.order_by("id")
        return super().get_queryset()

    @paginate(Pages)
    async def list(self, request, q: str | None = None) -> list[NoteOut]:
        qs = self.get_queryset()
        return qs.filter(title__icontains=q) if q else qs

    async def retrieve(self, request, pk: int) -> NoteOut:
        return await self.get_object()

    async def create(self, note: NoteIn):
        created = await note_model().objects.acreate(title=note.title, body=note.body)
        return {"id": created.id, "title": created.title}

    async def update(self, pk: int, note: NoteIn) -> NoteOut:
        obj = await self.get_object()
        obj.title, obj.body = note.title, note.body
        await obj.asave()
        return obj

    def partial_update(self, request, pk: int, title: str) -> NoteOut:
        obj = self.get_object()  # sync method: the object itself
        obj.title = title
        obj.save()
        return obj

    async def destroy(self, pk: int):
        obj = await self.get_object()
        await obj.adelete()
        return {"deleted": True}

    @action(detail=True, methods=["post"])
    async def shout(self, request, pk: int):
        obj = await self.get_object()
        return {"title": obj.title.upper(), "action": self.action, "kwargs": self.kwargs}

    @action(detail=False, url_path="count")
    async def how_many(self):
        return {"count": len(await self.get_queryset())}


class LegacyViewSet(ViewSet):
    """The explicit-route style, registered with a prefix."""

    @route.get("/legacy")
    async def list(self, request):
        return {"notes": [n.title async for n in note_model().objects.order_by("id")]}

    @route.get("/legacy/{pk}")
    async def retrieve(self, request, pk: int):
        note = await note_model().objects.aget(id=pk)
        return {"id": note.id, "title": note.title}

    @route.post("/legacy")
    async def create(self, request):
        data = await request.json()
        note = await note_model().objects.acreate(**data)
        return {"id": note.id}, 201


api.register_viewset(LegacyViewSet, prefix="/v1")


@api.viewset("/private", auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated()])
class PrivateViewSet(ViewSet):
    async def list(self, request):
        return {"user_id": request.context["user_id"]}


@api.viewset("/attrs")
class AttributesViewSet(ViewSet):
    """auth, guards and tags as class attributes; one instance per request."""

    auth = [JWTAuthentication(secret=SECRET)]
    guards = [IsAuthenticated()]
    tags = ["attributes"]

    async def list(self, request):
        self.seen = getattr(self, "seen", 0) + 1  # a fresh instance starts from nothing
        return {"seen": self.seen, "same_request": self.request is request}


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


def test_conventional_methods_map_to_routes(client):
    created = client.post("/notes", json={"title": "first"})
    assert created.status_code == 201
    pk = created.json()["id"]
    client.post("/notes", json={"title": "second"})
    client.post("/notes", json={"title": "third"})
    assert client.get(f"/notes/{pk}").json() == {"id": pk, "title": "first"}
    page = client.get("/notes").json()
    assert (page["count"], page["total_pages"], len(page["items"])) == (3, 2, 2)
    assert client.get("/notes?q=thi").json()["items"][0]["title"] == "third"
    assert client.put(f"/notes/{pk}", json={"title": "renamed"}).json()["title"] == "renamed"
    assert client.patch(f"/notes/{pk}?title=patched").json() == {"id": pk, "title": "patched"}
    assert client.post(f"/notes/{pk}/shout").json() == {
        "title": "PATCHED",
        "action": "shout",
        "kwargs": {"pk": str(pk)},
    }
    assert client.get("/notes/count").json() == {"count": 3}
    assert client.delete(f"/notes/{pk}").json() == {"deleted": True}
    missing = client.get(f"/notes/{pk}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Note not found"}
    assert answer(client.put(f"/notes/{pk}", json={"title": "x"})) == (
        404,
        {"detail": "Note not found"},
    )
    assert client.get("/notes/abc").status_code == 422
    assert client.post("/notes", json={"body": "no title"}).status_code == 422


def test_explicit_routes_under_a_prefix(client):
    created = client.post("/v1/legacy", json={"title": "legacy"})
    assert created.status_code == 201
    pk = created.json()["id"]
    assert client.get("/v1/legacy").json() == {"notes": ["legacy"]}
    assert client.get(f"/v1/legacy/{pk}").json() == {"id": pk, "title": "legacy"}


def test_auth_and_guards_on_the_class(client):
    assert client.get("/private").status_code == 401
    token = create_jwt_for_user(type("U", (), {"pk": 5, "is_staff": False})(), secret=SECRET)
    r = client.get("/private", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json() == {"user_id": "5"}


def test_class_attributes_and_a_new_instance_per_request(client):
    assert client.get("/attrs").status_code == 401
    token = create_jwt_for_user(type("U", (), {"pk": 6, "is_staff": False})(), secret=SECRET)
    headers = {"Authorization": f"Bearer {token}"}
    assert [client.get("/attrs", headers=headers).json() for _ in range(2)] == [
        {"seen": 1, "same_request": True}
    ] * 2
    document = client.get("/openapi.json").json()
    assert document["paths"]["/attrs"]["get"]["tags"] == ["attributes"]


def test_registration_errors():
    local = BoltAPI()

    class Empty(ViewSet):
        def helper(self):
            return 1

    with pytest.raises(TypeError, match="has no routes"):
        local.register_viewset(Empty, prefix="/x")
    with pytest.raises(TypeError, match="is not a ViewSet"):
        local.register_viewset(object, prefix="/x")
