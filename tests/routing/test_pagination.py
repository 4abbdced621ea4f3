"""The three pagination styles through real handlers, on the database."""

import datetime

import msgspec
import pytest

from django_bolt import (
    BoltAPI,
    CursorPagination,
    LimitOffsetPagination,
    PageNumberPagination,
    paginate,
)
from django_bolt.testing import TestClient
from tests.conftest import answer

pytestmark = [pytest.mark.orm, pytest.mark.django_db(transaction=True)]


class NoteOut(msgspec.Struct):
    id: int
    title: str


class NotePages(PageNumberPagination):
    page_size = 3
    max_page_size = 5
    page_size_query_param = "page_size"


class NoteCursor(CursorPagination):
    page_size = 4
    ordering = "-created_at"


api = BoltAPI()


@api.get("/notes")
@paginate(NotePages)
async def notes(request, q: str | None = None) -> list[NoteOut]:
    from users.models import Note

    qs = Note.objects.order_by("id")
    return qs.filter(title__icontains=q) if q else qs


@api.get("/notes-sync")
@paginate(NotePages)
def notes_sync() -> list[NoteOut]:
    from users.models import Note

    return Note.objects.order_by("id")


@api.get("/notes-offset", response_model=list[NoteOut])
@paginate(LimitOffsetPagination)
async def notes_offset(request):
    from users.models import Note

    return Note.objects.order_by("id")


@api.get("/notes-cursor")
@paginate(NoteCursor)
async def notes_cursor() -> list[NoteOut]:
    from users.models import Note

    return Note.objects.all()


@api.get("/numbers")
@paginate(LimitOffsetPagination)
async def numbers():
    return list(range(25))


@api.get("/many")
@paginate(LimitOffsetPagination)
async def many():
    return list(range(1500))


@pytest.fixture
def notes_db():
    from users.models import Note

    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    created = []
    for i in range(11):
        note = Note.objects.create(title=f"note {i}", body="")
        # Two notes share a timestamp: the cursor must not skip or repeat either.
        # Microseconds apart: the cursor keeps full precision.
        stamp = base + datetime.timedelta(microseconds=(i if i != 6 else 5) * 7)
        Note.objects.filter(pk=note.pk).update(created_at=stamp)
        created.append(note.pk)
    return created


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


def test_page_number_envelope_as_documented(client, notes_db):
    body = client.get("/notes").json()
    assert body == {
        "count": 11,
        "page": 1,
        "page_size": 3,
        "total_pages": 4,
        "has_next": True,
        "has_previous": False,
        "next_page": 2,
        "previous_page": None,
        "items": [{"id": pk, "title": f"note {i}"} for i, pk in enumerate(notes_db[:3])],
    }
    last = client.get("/notes?page=4").json()
    assert (last["has_next"], last["next_page"], last["previous_page"]) == (False, None, 3)
    assert [i["title"] for i in last["items"]] == ["note 9", "note 10"]
    # The handler's own parameters still work next to the pagination ones.
    assert client.get("/notes?q=note 1").json()["count"] == 2


def test_page_size_param_capped_and_bad_pages_refused(client, notes_db):
    assert client.get("/notes?page_size=4").json()["page_size"] == 4
    capped = client.get("/notes?page_size=50").json()
    assert capped["page_size"] == 5 and len(capped["items"]) == 5
    assert answer(client.get("/notes?page=5")) == (
        404,
        {"detail": "Invalid page 5: there are fewer items"},
    )
    for bad in ("page=0", "page=-1", "page=x", "page_size=0"):
        r = client.get(f"/notes?{bad}")
        assert r.status_code == 422, bad
    assert client.get("/notes-sync?page=2").json()["items"][0]["title"] == "note 3"


def test_limit_offset(client, notes_db):
    body = client.get("/notes-offset?limit=4&offset=8").json()
    assert body["count"] == 11 and body["limit"] == 4 and body["offset"] == 8
    assert (body["has_next"], body["has_previous"]) == (False, True)
    assert [i["title"] for i in body["items"]] == ["note 8", "note 9", "note 10"]
    assert client.get("/notes-offset?offset=-1").status_code == 422
    plain = client.get("/numbers?limit=10&offset=20").json()
    assert plain["items"] == [20, 21, 22, 23, 24] and plain["count"] == 25


def test_limit_offset_defaults_to_100_and_caps_at_1000(client):
    first = client.get("/many").json()
    assert (first["limit"], len(first["items"]), first["count"]) == (100, 100, 1500)
    capped = client.get("/many?limit=5000").json()
    assert (capped["limit"], len(capped["items"])) == (1000, 1000)


@pytest.mark.django_db  # in the test's transaction: the client shares its connection
def test_cursor_pages_read_no_offset(notes_db):
    """A cursor page is a WHERE on the ordering, so page 1,000 costs what page 1 does."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with TestClient(api) as own:
        cursor = own.get("/notes-cursor").json()["next_cursor"]
        with CaptureQueriesContext(connection) as queries:
            assert own.get(f"/notes-cursor?cursor={cursor}").status_code == 200
    sql = " ".join(q["sql"] for q in queries.captured_queries).upper()
    assert "OFFSET" not in sql and "WHERE" in sql


def test_cursor_walks_forward_and_back_without_gaps(client, notes_db):
    seen = []
    pages = []
    cursor = None
    while True:
        url = "/notes-cursor" + (f"?cursor={cursor}" if cursor else "")
        page = client.get(url).json()
        pages.append(page)
        seen += [i["title"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not page["has_next"]:
            assert cursor is None
            break
    # Newest first; notes 5 and 6 share a timestamp and neither is lost or repeated.
    assert sorted(seen) == sorted(f"note {i}" for i in range(11))
    assert len(seen) == 11 and seen[0] == "note 10" and seen[-1] == "note 0"
    assert pages[0]["has_previous"] is False and pages[0]["previous_cursor"] is None
    back = client.get(f"/notes-cursor?cursor={pages[1]['previous_cursor']}").json()
    assert back["items"] == pages[0]["items"]


def test_cursor_is_tamper_proof(client, notes_db):
    cursor = client.get("/notes-cursor").json()["next_cursor"]
    forged = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    r = client.get(f"/notes-cursor?cursor={forged}")
    assert r.status_code == 400 and r.json() == {"detail": "Invalid cursor"}
    assert client.get("/notes-cursor?cursor=garbage").status_code == 400


def test_cursor_pagination_requires_an_ordering():
    class NoOrdering(CursorPagination):
        page_size = 5

    with pytest.raises(TypeError, match="ordering"):
        paginate(NoOrdering)
