"""What docs/viewsets.md promises and the other ViewSet and pagination tests leave open:
``tags=`` given to ``@api.viewset``, headers and ``Depends`` in ViewSet methods, a
``ModelViewSet`` whose ``get_queryset()`` is overridden (every other route keeps to it),
positive integer fields refusing negatives, model instances paginated without an item
type, and cursor pagination over several fields with decimals while rows are added."""

import decimal
from typing import Annotated

import msgspec
import pytest

from django_bolt import (
    BoltAPI,
    CursorPagination,
    Depends,
    Header,
    HTTPException,
    PageNumberPagination,
    ViewSet,
    action,
    paginate,
)
from django_bolt.serializers import ModelSerializer
from django_bolt.testing import TestClient
from django_bolt.views import ModelViewSet
from tests.conftest import answer

pytestmark = [pytest.mark.orm, pytest.mark.django_db(transaction=True)]

from users.models import Article, Author, Product, Tag  # noqa: E402

api = BoltAPI()


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


# -- tags= on @api.viewset ----------------------------------------------------------------


@api.viewset("/shelves", tags=["storage"])
class ShelfViewSet(ViewSet):
    async def list(self):
        return []

    async def retrieve(self, pk: int):
        return {"pk": pk}

    def destroy(self, pk: int):
        return {"deleted": pk}

    @action(detail=True, methods=["post"])
    async def dust(self, pk: int):
        return {"dusted": pk}

    @action(detail=False, url_path="count")
    async def how_many(self):
        return {"count": 0}


def test_tags_given_to_the_viewset_decorator_are_on_every_route_of_the_class(client):
    """docs/viewsets.md: "`auth=`, `guards=` and `tags=` apply to every route of the
    class"."""
    document = client.get("/openapi.json").json()
    tagged = {
        (method, path): operation.get("tags")
        for path, item in document["paths"].items()
        if path.startswith("/shelves")
        for method, operation in item.items()
    }
    assert tagged == {
        ("get", "/shelves"): ["storage"],
        ("get", "/shelves/{pk}"): ["storage"],
        ("delete", "/shelves/{pk}"): ["storage"],
        ("post", "/shelves/{pk}/dust"): ["storage"],
        ("get", "/shelves/count"): ["storage"],
    }
    assert {"name": "storage"} in document["tags"]
    assert client.post("/shelves/4/dust").json() == {"dusted": 4}


# -- headers and Depends in ViewSet methods -------------------------------------------------


def tenant(x_tenant: Annotated[str, Header()]) -> str:
    if x_tenant == "banned":
        raise HTTPException(403, "This tenant is banned")
    return x_tenant


async def paging(page: int = 1, size: int = 20) -> dict:
    return {"offset": (page - 1) * size, "size": size}


@api.viewset("/crates")
class CrateViewSet(ViewSet):
    async def list(
        self,
        request,
        window: dict = Depends(paging),
        who: str = Depends(tenant),
        language: Annotated[str, Header("accept-language")] = "en",
    ):
        return {"tenant": who, "window": window, "language": language, "action": self.action}

    def retrieve(self, pk: int, who: Annotated[str, Depends(tenant)], x_trace: str | None = None):
        # A sync method: x_trace is a query parameter, the tenant a header via Depends.
        return {"pk": pk, "tenant": who, "trace": x_trace, "kwargs": self.kwargs}

    @action(detail=True, methods=["post"])
    async def stamp(self, pk: int, stamp: Annotated[str, Header("x-stamp")]):
        return {"pk": pk, "stamp": stamp, "request_seen": self.request is not None}


def test_viewset_methods_take_headers_and_dependencies_like_function_handlers(client):
    """docs/viewsets.md: "Methods take parameters exactly like function handlers (path,
    query, body, headers, `Depends`, `request`), may be sync or async"."""
    r = client.get("/crates?page=3&size=10", headers={"X-Tenant": "acme", "Accept-Language": "fr"})
    assert answer(r) == (
        200,
        {
            "tenant": "acme",
            "window": {"offset": 20, "size": 10},
            "language": "fr",
            "action": "list",
        },
    )
    r = client.get("/crates/7?x_trace=t1", headers={"x-tenant": "acme"})
    assert answer(r) == (200, {"pk": 7, "tenant": "acme", "trace": "t1", "kwargs": {"pk": "7"}})
    r = client.post("/crates/7/stamp", headers={"X-Stamp": "approved"})
    assert answer(r) == (200, {"pk": 7, "stamp": "approved", "request_seen": True})


def test_a_missing_header_or_a_failing_dependency_answers_as_for_a_function_handler(client):
    assert answer(client.get("/crates")) == (
        422,
        {"detail": [{"loc": ["header", "x-tenant"], "msg": "Field required", "type": "missing"}]},
    )
    r = client.get("/crates?page=x", headers={"X-Tenant": "acme"})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["query", "page"]]
    assert answer(client.get("/crates/1", headers={"X-Tenant": "banned"})) == (
        403,
        {"detail": "This tenant is banned"},
    )
    assert answer(client.post("/crates/1/stamp")) == (
        422,
        {"detail": [{"loc": ["header", "x-stamp"], "msg": "Field required", "type": "missing"}]},
    )
    document = client.get("/openapi.json").json()
    names = {p["name"]: p["in"] for p in document["paths"]["/crates"]["get"]["parameters"]}
    assert names == {
        "page": "query",
        "size": "query",
        "x-tenant": "header",
        "accept-language": "header",
    }


# -- a ModelViewSet with get_queryset() overridden ---------------------------------------


class ArticleSerializer(ModelSerializer):
    class Meta:
        model = Article
        fields = ["id", "title", "status", "rating", "author"]


@api.viewset("/published")
class PublishedViewSet(ModelViewSet):
    """Only published articles: every generated route works on the narrowed queryset."""

    queryset = Article.objects.order_by("id")
    serializer_class = ArticleSerializer

    def get_queryset(self):
        return super().get_queryset().filter(status="published")


@pytest.fixture
def ada():
    return Author.objects.create(name="Ada")


def article_json(article: Article) -> dict:
    return {
        "id": article.id,
        "title": article.title,
        "status": article.status,
        "rating": article.rating,
        "author": article.author_id,
    }


def test_an_overridden_get_queryset_narrows_every_route_of_a_model_viewset(client, ada):
    """docs/viewsets.md: "Override any method (for instance `get_queryset()` to filter by
    `self.request.user`) and the rest keep working."."""
    out = Article.objects.create(title="Out", status="published", author=ada)
    draft = Article.objects.create(title="Draft", status="draft", author=ada)
    missing = (404, {"detail": "Article not found"})

    assert answer(client.get("/published")) == (200, [article_json(out)])
    assert answer(client.get(f"/published/{out.id}")) == (200, article_json(out))
    assert answer(client.get(f"/published/{draft.id}")) == missing
    assert answer(client.put(f"/published/{draft.id}", json={"title": "X", "author": ada.id})) == (
        missing
    )
    assert answer(client.patch(f"/published/{draft.id}", json={"title": "X"})) == missing
    assert answer(client.delete(f"/published/{draft.id}")) == missing
    draft.refresh_from_db()
    assert (draft.title, draft.status) == ("Draft", "draft")  # untouched

    r = client.patch(f"/published/{out.id}", json={"title": "Out, revised"})
    assert answer(r) == (200, {**article_json(out), "title": "Out, revised"})
    created = client.post(
        "/published", json={"title": "New", "status": "published", "author": ada.id}
    )
    assert created.status_code == 201
    new = Article.objects.get(title="New")
    assert created.json() == article_json(new)
    assert [a["id"] for a in client.get("/published").json()] == [out.id, new.id]
    r = client.delete(f"/published/{out.id}")
    assert (r.status_code, r.content) == (204, b"")
    assert set(Article.objects.values_list("id", flat=True)) == {draft.id, new.id}


# -- positive integer fields ------------------------------------------------------------------


NEGATIVE_RATING = {"loc": ["body", "rating"], "msg": "Expected `int` >= 0", "type": "value_error"}


@pytest.mark.parametrize("rating", [-1, -32768])
def test_a_positive_integer_field_refuses_a_negative_value(client, ada, rating):
    """docs/viewsets.md: "positive integer fields refuse negatives"
    (Article.rating is a PositiveSmallIntegerField)."""
    r = client.post(
        "/published", json={"title": "T", "status": "published", "author": ada.id, "rating": rating}
    )
    assert answer(r) == (422, {"detail": [NEGATIVE_RATING]})
    assert not Article.objects.exists()
    kept = Article.objects.create(title="K", status="published", author=ada, rating=4)
    r = client.patch(f"/published/{kept.id}", json={"rating": rating})
    assert answer(r) == (422, {"detail": [NEGATIVE_RATING]})
    kept.refresh_from_db()
    assert kept.rating == 4


def test_zero_and_positive_values_are_accepted_by_a_positive_integer_field(client, ada):
    for rating in (0, 5):
        r = client.post(
            "/published",
            json={"title": f"r{rating}", "status": "published", "author": ada.id, "rating": rating},
        )
        assert r.status_code == 201, r.text
        assert r.json()["rating"] == rating
    assert sorted(Article.objects.values_list("rating", flat=True)) == [0, 5]


# -- @paginate without an item type ------------------------------------------------------------


class FivePerPage(PageNumberPagination):
    page_size = 5


@api.get("/raw-articles")
@paginate(FivePerPage)
async def raw_articles(request):
    return Article.objects.order_by("id")


def test_model_instances_without_an_item_type_become_dictionaries_of_their_fields(client, ada):
    """docs/viewsets.md: "Without one, model instances become dictionaries of their
    fields." (concrete fields; a foreign key is its id, under the attribute Django gives
    it)."""
    tag = Tag.objects.create(name="rust")
    first = Article.objects.create(title="One", summary="s", rating=3, author=ada)
    first.tags.add(tag)
    second = Article.objects.create(title="Two", status="published", author=ada, editor=ada)

    def as_json(a: Article) -> dict:
        return {
            "id": a.id,
            "title": a.title,
            "summary": a.summary,
            "status": a.status,
            "rating": a.rating,
            "author_id": ada.id,
            "editor_id": a.editor_id,
            "created_at": a.created_at.isoformat().replace("+00:00", "Z"),
        }

    body = client.get("/raw-articles").json()
    assert body["count"] == 2
    assert body["items"] == [as_json(first), as_json(second)]


# -- cursor pagination: several fields, decimals, rows added meanwhile ---------------------------


class ProductOut(msgspec.Struct):
    id: int
    name: str
    price: decimal.Decimal


class ByPriceThenName(CursorPagination):
    page_size = 3
    ordering = ("-price", "name")


@api.get("/products")
@paginate(ByPriceThenName)
async def products() -> list[ProductOut]:
    return Product.objects.all()


PRICES = [
    ("pear", "19.99"),
    ("apple", "19.99"),
    ("apple", "19.99"),  # same price and name: the primary key breaks the tie
    ("fig", "19.98"),
    ("kiwi", "20.00"),
    ("plum", "0.01"),
    ("lime", "999999.99"),
    ("date", "999999.98"),
    ("lime", "10.10"),
    ("yuzu", "10.01"),
]


@pytest.fixture
def stock():
    return [Product.objects.create(name=n, price=decimal.Decimal(p)) for n, p in PRICES]


def in_cursor_order(rows) -> list[dict]:
    ordered = sorted(rows, key=lambda p: (-p.price, p.name, p.id))
    return [{"id": p.id, "name": p.name, "price": str(p.price)} for p in ordered]


def walk(client, cursor=None) -> tuple[list[list[dict]], list[dict]]:
    pages = []
    while True:
        page = client.get("/products", params={"cursor": cursor} if cursor else None).json()
        pages.append(page)
        cursor = page["next_cursor"]
        if not page["has_next"]:
            return pages, [item for p in pages for item in p["items"]]


def test_a_cursor_over_several_fields_keeps_decimal_precision(client, stock):
    """docs/viewsets.md: "`ordering` may list several fields (`("-score",
    "created_at")`); cursor values keep full precision (microseconds, decimals)"."""
    expected = in_cursor_order(stock)
    pages, seen = walk(client)
    assert seen == expected
    assert [len(p["items"]) for p in pages] == [3, 3, 3, 1]
    # Backwards from the last page, page by page, to the first.
    back = [pages[-1]["items"]]
    cursor = pages[-1]["previous_cursor"]
    while cursor:
        page = client.get("/products", params={"cursor": cursor}).json()
        back.insert(0, page["items"])
        cursor = page["previous_cursor"]
    assert back == [p["items"] for p in pages]


def test_rows_added_between_pages_never_shift_a_page(client, stock):
    """docs/viewsets.md: "rows added meanwhile never shift a page (no item is skipped or
    shown twice)"."""
    first = client.get("/products").json()
    assert first["items"] == in_cursor_order(stock)[:3]
    boundary = Product.objects.get(pk=first["items"][-1]["id"])
    # Rows that sort before the page read, exactly at its last row's values (a higher
    # primary key: just after it), a cent below it, and at the very end.
    added = [
        Product.objects.create(name="gold", price=decimal.Decimal("999999.99")),
        Product.objects.create(name=boundary.name, price=boundary.price),
        Product.objects.create(name="aaa", price=boundary.price - decimal.Decimal("0.01")),
        Product.objects.create(name="zzz", price=decimal.Decimal("0.00")),
    ]
    _, rest = walk(client, first["next_cursor"])
    shown_before = {item["id"] for item in first["items"]}
    after_boundary = [
        p
        for p in [*stock, *added]
        if (-p.price, p.name, p.id) > (-boundary.price, boundary.name, boundary.id)
    ]
    assert rest == in_cursor_order(after_boundary)
    assert not shown_before & {item["id"] for item in rest}
    assert added[0].id not in {item["id"] for item in rest}  # it sorts before page 1
    assert {added[1].id, added[2].id, added[3].id} <= {item["id"] for item in rest}


def test_a_cursor_value_between_two_close_decimals_is_exact(client):
    """A page boundary between prices one cent apart: a cursor that lost the cents would
    repeat or skip the neighbour."""
    made = [
        Product.objects.create(name="a", price=decimal.Decimal(p))
        for p in ("123456.78", "123456.77", "123456.79", "0.10", "0.09")
    ]

    class OnePerPage(ByPriceThenName):
        page_size = 1

    one = BoltAPI()

    @one.get("/p")
    @paginate(OnePerPage)
    async def p() -> list[ProductOut]:
        return Product.objects.all()

    with TestClient(one, django_fallback=False) as own:
        seen, cursor = [], None
        for _ in range(len(made) + 1):
            page = own.get("/p", params={"cursor": cursor} if cursor else None).json()
            seen += [item["price"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not page["has_next"]:
                break
    assert seen == ["123456.79", "123456.78", "123456.77", "0.10", "0.09"]
