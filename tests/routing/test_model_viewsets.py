"""ModelSerializer and ModelViewSet on real models: types and validation from the model,
nested and many-to-many fields, pagination, transactions, conflicts and query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_bolt import BoltAPI, PageNumberPagination
from django_bolt.serializers import ModelSerializer
from django_bolt.testing import TestClient
from django_bolt.views import ModelViewSet, ReadOnlyModelViewSet
from tests.conftest import answer, import_required

pytestmark = [pytest.mark.orm, pytest.mark.django_db(transaction=True)]

from users.models import Article, Author, Tag  # noqa: E402


class AuthorSerializer(ModelSerializer):
    class Meta:
        model = Author
        fields = ["id", "name"]


class TagSerializer(ModelSerializer):
    class Meta:
        model = Tag
        fields = "__all__"


class ArticleSerializer(ModelSerializer):
    """Foreign keys and tags as ids: the write shape."""

    class Meta:
        model = Article
        fields = ["id", "title", "summary", "status", "rating", "author", "editor", "tags"]
        read_only_fields = ["rating"]


class ArticleDetailSerializer(ModelSerializer):
    author = AuthorSerializer()
    editor = AuthorSerializer()
    tags = TagSerializer(many=True)

    class Meta:
        model = Article
        exclude = ["summary"]


class ArticleListSerializer(ModelSerializer):
    author = AuthorSerializer()

    class Meta:
        model = Article
        fields = ["id", "title", "author"]


class Pages(PageNumberPagination):
    page_size = 10


api = BoltAPI()


@api.viewset("/articles")
class ArticleViewSet(ModelViewSet):
    queryset = Article.objects.order_by("id")
    serializer_class = ArticleSerializer


@api.viewset("/feed")
class FeedViewSet(ReadOnlyModelViewSet):
    queryset = Article.objects.order_by("id")
    serializer_class = ArticleDetailSerializer
    list_serializer_class = ArticleListSerializer
    pagination_class = Pages


@api.viewset("/authors")
class AuthorViewSet(ModelViewSet):
    queryset = Author.objects.all()
    serializer_class = AuthorSerializer
    lookup_field = "name"


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


@pytest.fixture
def world():
    ada = Author.objects.create(name="Ada")
    bob = Author.objects.create(name="Bob")
    tags = [Tag.objects.create(name=n) for n in ("rust", "python", "django")]
    return {"ada": ada, "bob": bob, "tags": tags}


def test_create_validates_from_the_model(client, world):
    ada, tags = world["ada"], world["tags"]
    r = client.post(
        "/articles",
        json={"title": "Hello", "author": ada.id, "tags": [tags[0].id, tags[2].id]},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body == {
        "id": body["id"],
        "title": "Hello",
        "summary": "",
        "status": "draft",
        "rating": 0,
        "author": ada.id,
        "editor": None,
        "tags": [tags[0].id, tags[2].id],
    }
    article = Article.objects.get(pk=body["id"])
    assert sorted(article.tags.values_list("id", flat=True)) == [tags[0].id, tags[2].id]

    def error(payload):
        r = client.post("/articles", json=payload)
        assert r.status_code == 422, (payload, r.text)
        return r.json()["detail"][0]

    assert error({"author": ada.id})["loc"] == ["body", "title"]  # required
    assert error({"title": "x" * 101, "author": ada.id})["loc"] == ["body", "title"]  # max_length
    assert error({"title": "", "author": ada.id})["loc"] == ["body", "title"]  # blank=False
    assert error({"title": "t", "author": ada.id, "status": "archived"})["loc"] == [
        "body",
        "status",
    ]  # choices
    assert error({"title": "t", "author": None})["loc"] == ["body", "author"]  # null=False
    assert error({"title": "t", "author": ada.id, "rating": 5})["loc"] == ["body", "rating"]
    r = client.post("/articles", json={"title": "t", "author": 9999})
    assert r.status_code == 422 and Article.objects.count() == 1  # nothing half-written
    # A many-to-many id that does not exist: the article row is not left behind either.
    r = client.post("/articles", json={"title": "t", "author": ada.id, "tags": [tags[0].id, 99999]})
    assert answer(r) == (422, {"detail": "A related object does not exist"})
    assert Article.objects.count() == 1


def test_update_partial_update_destroy(client, world):
    ada, bob = world["ada"], world["bob"]
    created = client.post("/articles", json={"title": "Draft", "author": ada.id}).json()
    pk = created["id"]
    r = client.put(
        f"/articles/{pk}", json={"title": "Final", "author": bob.id, "status": "published"}
    )
    assert r.status_code == 200
    assert (r.json()["title"], r.json()["author"], r.json()["status"]) == (
        "Final",
        bob.id,
        "published",
    )
    assert client.put(f"/articles/{pk}", json={"title": "no author"}).status_code == 422
    r = client.patch(f"/articles/{pk}", json={"editor": ada.id})
    assert r.json()["editor"] == ada.id and r.json()["title"] == "Final"
    assert client.patch(f"/articles/{pk}", json={"unknown": 1}).status_code == 422
    r = client.delete(f"/articles/{pk}")
    assert r.status_code == 204 and r.content == b""
    assert answer(client.get(f"/articles/{pk}")) == (404, {"detail": "Article not found"})
    assert answer(client.get("/articles/not-a-number")) == (404, {"detail": "Article not found"})


def test_unique_conflict_is_409_and_custom_lookup(client, world):
    r = client.post("/authors", json={"name": "Ada"})
    assert answer(r) == (
        409,
        {"detail": "Conflict: an object with these values already exists"},
    )
    assert client.get("/authors/Bob").json() == {"id": world["bob"].id, "name": "Bob"}
    assert client.patch("/authors/Bob", json={"name": "Robert"}).json()["name"] == "Robert"
    assert answer(client.get("/authors/Bob")) == (404, {"detail": "Author not found"})


def test_nested_list_and_detail_without_n_plus_one(client, world):
    ada, bob, tags = world["ada"], world["bob"], world["tags"]
    for i in range(25):
        a = Article.objects.create(title=f"a{i}", author=ada if i % 2 else bob, editor=ada)
        a.tags.set(tags[: i % 3 + 1])
    with CaptureQueriesContext(connection) as first:
        page = client.get("/feed").json()
    assert page["count"] == 25 and page["total_pages"] == 3 and len(page["items"]) == 10
    assert page["items"][0] == {
        "id": page["items"][0]["id"],
        "title": "a0",
        "author": {"id": bob.id, "name": "Bob"},
    }
    with CaptureQueriesContext(connection) as last:
        client.get("/feed?page=3")
    assert len(first) == len(last) <= 3  # count + one select_related query, whatever the size

    article = Article.objects.get(title="a2")
    with CaptureQueriesContext(connection) as detail_queries:
        detail = client.get(f"/feed/{article.id}").json()
    assert detail == {
        "id": article.id,
        "title": "a2",
        "status": "draft",
        "rating": 0,
        "author": {"id": bob.id, "name": "Bob"},
        "editor": {"id": ada.id, "name": "Ada"},
        "tags": [{"id": t.id, "name": t.name} for t in tags],
        "created_at": detail["created_at"],
    }
    assert len(detail_queries) <= 2  # the article with its authors, then its tags
    assert client.post("/feed", json={}).status_code == 405  # read-only


def test_serializer_declaration_errors():
    with pytest.raises(TypeError, match="Meta.model"):

        class NoModel(ModelSerializer):
            class Meta:
                fields = ["id"]

    class Wrong(ModelSerializer):
        class Meta:
            model = Author
            fields = ["id", "nope"]

    with pytest.raises(TypeError, match="no field 'nope'"):
        Wrong.output_type()


fn_api = BoltAPI()


@fn_api.get("/authors/{pk}")
async def one_author(pk: int) -> AuthorSerializer:
    return await Author.objects.aget(pk=pk)


@fn_api.get("/articles")
def all_articles() -> list[ArticleDetailSerializer]:
    return list(Article.objects.select_related("author", "editor").prefetch_related("tags"))


@fn_api.post("/authors", status_code=201)
async def new_author(author: AuthorSerializer) -> AuthorSerializer:
    values, _ = AuthorSerializer.write_values(author)
    return await Author.objects.acreate(**values)


def test_serializers_in_function_handlers(world):
    with TestClient(fn_api) as client:
        ada = world["ada"]
        assert client.get(f"/authors/{ada.id}").json() == {"id": ada.id, "name": "Ada"}
        a = Article.objects.create(title="t", author=ada)
        a.tags.set(world["tags"][:1])
        listed = client.get("/articles").json()
        assert listed[0]["author"] == {"id": ada.id, "name": "Ada"}
        assert listed[0]["tags"] == [{"id": world["tags"][0].id, "name": "rust"}]
        created = client.post("/authors", json={"name": "Cy"})
        assert created.status_code == 201 and created.json()["name"] == "Cy"
        assert client.post("/authors", json={"name": ""}).status_code == 422
        assert client.post("/authors", json={"id": 5, "name": "Di"}).status_code == 422


def test_model_viewsets_in_the_openapi_document(client):
    doc = client.get("/openapi.json").json()
    ref = "#/components/schemas/"
    create = doc["paths"]["/articles"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": ref + "ArticleSerializerIn"
    }
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": ref + "ArticleSerializerOut"
    }
    patch = doc["paths"]["/articles/{pk}"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": ref + "ArticleSerializerPatch"
    }
    assert "204" in doc["paths"]["/articles/{pk}"]["delete"]["responses"]
    feed = doc["paths"]["/feed"]["get"]["responses"]["200"]["content"]["application/json"]
    assert feed["schema"]["properties"]["items"]["items"] == {
        "$ref": ref + "ArticleListSerializerOut"
    }
    schemas = doc["components"]["schemas"]
    status = schemas["ArticleSerializerIn"]["properties"]["status"]
    enum_ref = status["anyOf"][0]["$ref"] if "anyOf" in status else status["$ref"]
    assert schemas[enum_ref.rsplit("/", 1)[-1]]["enum"] == ["draft", "published"]
    assert schemas["ArticleSerializerIn"]["required"] == ["title", "author"]
    assert schemas["ArticleSerializerIn"]["properties"]["title"]["maxLength"] == 100
    assert doc["paths"]["/feed/{pk}"]["get"]["tags"] == ["Feed"]
    validator = import_required("openapi_spec_validator")
    validator.validate(doc)
