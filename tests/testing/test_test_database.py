"""TestClient inside a test's transaction (Django's TestCase, pytest-django's ``db``):
handlers see the test's data, nothing is committed; and ``force_authenticate``."""

import pytest
from django.contrib.auth import get_user_model
from django.core import signals
from django.db import close_old_connections, connections
from django.test import TestCase

from django_bolt import BoltAPI, Request
from django_bolt.auth import (
    APIKeyAuthentication,
    HasPermission,
    HasRole,
    IsAdminUser,
    IsAuthenticated,
    JWTAuthentication,
    SessionAuthentication,
)
from django_bolt.middleware import rate_limit
from django_bolt.testing import TestClient

User = get_user_model()
SECRET = "test-database-secret-that-is-long-enough-012345"

api = BoltAPI()


@api.get("/users")
async def users():
    return {"names": [u.username async for u in User.objects.order_by("username")]}


@api.get("/sync-users")
def sync_users():
    return {"count": User.objects.count()}


@api.post("/users/{name}")
def create(name: str):
    return {"id": User.objects.create_user(name).pk}


secured = BoltAPI(auth=[JWTAuthentication(secret=SECRET)])


@secured.get("/me", guards=[IsAuthenticated])
async def me(request: Request):
    user = await request.auser()
    return {"username": user.username, "id": request.user.id}


@secured.post("/articles", guards=[HasPermission("auth.add_group")])
async def add_article():
    return {"ok": True}


@secured.get("/editors", guards=[HasRole("editors")])
async def editors():
    return {"ok": True}


@secured.get("/admin", guards=[IsAdminUser])
async def admin():
    return {"ok": True}


@secured.get("/session", auth=[SessionAuthentication()], guards=[IsAuthenticated])
async def session_only(request: Request):
    return {"username": (await request.auser()).username}


@secured.get("/keyed", auth=[APIKeyAuthentication(api_keys=["k-1"])], guards=[IsAuthenticated])
async def keyed(request: Request):
    return {"user_id": request.context["user_id"]}


@secured.get("/context", guards=[IsAuthenticated])
@rate_limit(rps=0.01, burst=2)
async def context(request: Request):
    return {k: request.context[k] for k in ("auth_backend", "user_id", "is_staff")}


@pytest.mark.django_db
def test_a_forced_user_has_a_jwt_context_and_still_meets_the_rate_limit():
    ann = User.objects.create_user("ann-forced", is_staff=True)
    with TestClient(secured) as client:
        client.force_authenticate(ann)
        expected = {"auth_backend": "jwt", "user_id": str(ann.pk), "is_staff": True}
        assert client.get("/context").json() == expected
        assert client.get("/context").json() == expected
        assert client.get("/context").status_code == 429


@pytest.mark.django_db
def test_handlers_see_the_tests_data_without_transaction_true():
    User.objects.create_user("ann")
    own = connections._connections
    with TestClient(api) as client:
        assert client.get("/users").json() == {"names": ["ann"]}
        assert client.get("/sync-users").json() == {"count": 1}
        made = client.post("/users/bob").json()["id"]
    # What a handler wrote is in the test's transaction too.
    assert User.objects.get(pk=made).username == "bob"
    # The client gave the connections back as they were.
    assert connections._connections is own
    assert close_old_connections in [r[1]() for r in signals.request_finished.receivers]
    assert connections["default"].in_atomic_block


@pytest.mark.django_db
def test_nothing_of_the_last_test_remains():
    assert not User.objects.filter(username__in=["ann", "bob"]).exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_server_keeps_its_own_connections():
    User.objects.create_user("cid")  # committed: visible to any connection
    own = connections._connections
    with TestClient(api) as client:
        assert connections._connections is own
        assert client.get("/users").json() == {"names": ["cid"]}


class UserAPITest(TestCase):
    """Django's own TestCase, as a Django user writes one."""

    def test_client_inside_test_case(self):
        User.objects.create_user("dora")
        with TestClient(api) as client:
            self.assertEqual(client.get("/users").json(), {"names": ["dora"]})


@pytest.mark.django_db
def test_force_authenticate():
    from django.contrib.auth.models import Group, Permission

    eve = User.objects.create_user("eve")
    editors = Group.objects.create(name="editors")
    editors.permissions.add(Permission.objects.get(codename="add_group"))
    root = User.objects.create_superuser("root", password="x")
    with TestClient(secured) as client:
        assert client.get("/me").status_code == 401
        client.force_authenticate(eve)
        assert client.get("/me").json() == {"username": "eve", "id": eve.pk}
        assert client.get("/session").json() == {"username": "eve"}
        assert client.get("/keyed").json() == {"user_id": str(eve.pk)}
        # Guards ask Django, so grants made during the test count at once.
        assert client.post("/articles").status_code == 403
        assert client.get("/editors").status_code == 403
        assert client.get("/admin").status_code == 403
        eve.groups.add(editors)
        assert client.post("/articles").json() == {"ok": True}
        assert client.get("/editors").json() == {"ok": True}
        client.force_authenticate(root)
        assert client.get("/admin").json() == {"ok": True}
        assert client.post("/articles").json() == {"ok": True}
        client.force_authenticate(None)
        assert client.get("/me").status_code == 401
    with pytest.raises(ValueError, match="saved user"):
        client.force_authenticate(User(username="unsaved"))


@pytest.mark.django_db
def test_clients_closed_in_any_order_give_the_connections_back():
    own = connections._connections
    first = TestClient(api)
    second = TestClient(api)
    User.objects.create_user("gus")
    assert first.get("/users").json() == {"names": ["gus"]}
    first.close()  # closed before the one made after it
    assert second.get("/sync-users").json() == {"count": 1}
    second.close()
    assert connections._connections is own
    assert close_old_connections in [r[1]() for r in signals.request_finished.receivers]


@pytest.mark.django_db
def test_concurrent_requests_take_turns_on_the_shared_connection():
    from concurrent.futures import ThreadPoolExecutor

    User.objects.create_user("hal")
    with TestClient(api) as client, ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.get("/sync-users").json(), range(16)))
        assert client.post("/users/ivy").status_code == 200
        counts = list(pool.map(lambda _: client.get("/users").json()["names"], range(8)))
    assert answers == [{"count": 1}] * 16
    assert counts == [["hal", "ivy"]] * 8
