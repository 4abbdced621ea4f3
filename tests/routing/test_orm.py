"""The Django ORM from async and sync handlers (SQLite always; PostgreSQL when
BOLT_TEST_DATABASE_URL points at one: `make test` runs this module again there)."""

import pytest
from django.contrib.auth import get_user_model
from testproject.api import api

from django_bolt.testing import AsyncTestClient, TestClient
from tests.conftest import NOT_FOUND, answer

pytestmark = [pytest.mark.orm, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


def test_sync_handler_writes_and_async_handler_reads(client):
    created = client.post("/notes", json={"title": "hello", "body": "world"})
    assert created.status_code == 201
    note_id = created.json()["id"]
    assert client.get(f"/notes/{note_id}").json() == {
        "id": note_id,
        "title": "hello",
        "body": "world",
    }
    from users.models import Note

    assert Note.objects.filter(id=note_id).exists()


def test_async_iteration_over_a_queryset(client):
    from users.models import Note

    Note.objects.bulk_create([Note(title=f"n{i}") for i in range(5)])
    titles = [n["title"] for n in client.get("/notes", params={"limit": 3}).json()]
    assert titles == ["n0", "n1", "n2"]


def test_seed_example_get_user_validates_the_response(client):
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw")
    assert client.get(f"/users/{user.id}").json() == {"id": user.id, "username": "ann"}
    assert answer(client.get("/users/999999")) == NOT_FOUND


def test_many_requests_do_not_leak_connections(client):
    from django.db import connection
    from users.models import Note

    note = Note.objects.create(title="x")
    for i in range(30):
        assert client.get(f"/notes/{note.id}").status_code == 200  # async ORM
        assert client.post("/notes", json={"title": f"t{i}"}).status_code == 201  # sync ORM
    if connection.vendor == "postgresql":
        # CONN_MAX_AGE = 0: every request closes its connection when it ends, as under
        # Django's own handlers; only this test's connection (and at most one being
        # closed) may remain.
        import time

        deadline = time.monotonic() + 5
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                )
                open_connections = cursor.fetchone()[0]
            if open_connections <= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert open_connections <= 2


async def test_async_test_client():
    async with AsyncTestClient(api) as client:
        response = await client.get("/items/5", params={"q": "x"})
        assert response.json() == {"item_id": 5, "q": "x", "limit": 10}
        created = await client.post("/items", json={"name": "pen", "price": 1})
        assert created.json() == {"name": "pen", "price": 1.0, "tags": []}
