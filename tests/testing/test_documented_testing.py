"""More of what docs/testing.md promises: ``share_connections=True`` / ``False`` forcing
whether handlers use the test's database connection, ``AsyncAPITestClient`` with
``api = ...`` serving one API at the root, and the ``bolt_server`` fixture finding the
project's ``manage.py`` through ``BOLT_MANAGE_PY``."""

import subprocess
import sys
import textwrap

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from django_bolt import BoltAPI
from django_bolt.test import AsyncAPITestClient
from django_bolt.testing import TestClient
from tests.conftest import DJANGO_404, answer, django_error_page, user_env

User = get_user_model()

api = BoltAPI()


@api.get("/users")
async def users():
    return [u.username async for u in User.objects.order_by("username")]


@api.get("/sync-users")
def sync_users():
    return list(User.objects.order_by("username").values_list("username", flat=True))


@api.get("/connection")
def which_connection():
    # True when the handler's connection is inside the test's transaction.
    return {"in_tests_transaction": connection.in_atomic_block}


@pytest.mark.orm
@pytest.mark.django_db(transaction=True)
def test_share_connections_true_lends_the_tests_connection_outside_a_transaction():
    with TestClient(api, share_connections=True) as client:
        with transaction.atomic():
            User.objects.create_user("uncommitted")
            # Not committed, yet the handlers (async and sync) see it: they use the test's
            # own connection.
            assert client.get("/users").json() == ["uncommitted"]
            assert client.get("/sync-users").json() == ["uncommitted"]
            assert client.get("/connection").json() == {"in_tests_transaction": True}
            transaction.set_rollback(True)
        assert client.get("/users").json() == []
        assert client.get("/connection").json() == {"in_tests_transaction": False}
    assert not User.objects.exists()


@pytest.mark.orm
@pytest.mark.django_db
def test_share_connections_false_keeps_the_handlers_off_the_tests_transaction():
    # Inside the test's transaction the client lends it by default ...
    with TestClient(api) as client:
        assert client.get("/connection").json() == {"in_tests_transaction": True}
    # ... and share_connections=False keeps each server thread on its own connection.
    with TestClient(api, share_connections=False) as client:
        assert client.get("/connection").json() == {"in_tests_transaction": False}


own = BoltAPI()


@own.get("/hello")
async def hello():
    return {"from": "own api"}


@pytest.mark.orm
class OneAPITest(AsyncAPITestClient):
    """``api = ...`` on the class: that API is served at the root."""

    api = own

    async def test_the_api_is_served_at_the_root(self):
        response = await self.get("/hello")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(await response.json(), {"from": "own api"})
        self.assertEqual(response.json(), {"from": "own api"})
        document = await (await self.get("/openapi.json")).json()
        self.assertEqual(list(document["paths"]), ["/hello"])


@pytest.mark.orm
class WholeSiteTest(AsyncAPITestClient):
    """Without ``api``: the project's URLconf, where ``/hello`` is nobody's path."""

    async def test_the_project_is_served_instead(self):
        response = await self.get("/hello")
        self.assertEqual(answer(response), (404, django_error_page(*DJANGO_404)))
        self.assertEqual((await self.get("/api/hello")).status_code, 200)


# -- BOLT_MANAGE_PY -------------------------------------------------------------------------

PROJECT_API = """
from django.contrib.auth import get_user_model

from django_bolt import BoltAPI

api = BoltAPI()


@api.get("/users")
async def users():
    return [u.username async for u in get_user_model().objects.order_by("username")]
"""

PROJECT_TESTS = """
import httpx


def test_the_fixture_serves_this_project(bolt_server):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ann")
    with bolt_server() as server:
        assert httpx.get(server.url + "/api/users").json() == ["ann"]
"""


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_bolt_manage_py_tells_the_fixture_where_manage_py_is(tmp_path):
    env = user_env()
    made = subprocess.run(
        [sys.executable, "-m", "django_bolt", "init", "shop"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    root = tmp_path / "shop"
    (root / "shop" / "api.py").write_text(PROJECT_API)
    settings = root / "shop" / "settings.py"
    settings.write_text(
        settings.read_text()
        + textwrap.dedent(
            """
            DATABASES["default"]["TEST"] = {"NAME": BASE_DIR / "test_db.sqlite3"}
            """
        )
    )
    (root / "tests" / "test_api.py").write_text(PROJECT_TESTS)
    # The tests run from a folder without manage.py: the fixture's default would miss it.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run_tests(extra_env):
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
            cwd=elsewhere,
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=200,
        )

    found = run_tests({"BOLT_MANAGE_PY": str(root / "manage.py")})
    assert found.returncode == 0, found.stdout[-3000:] + found.stderr[-3000:]
    assert "1 passed" in found.stdout
    # Without it, the fixture looks for manage.py in the current folder, and fails there.
    missing = run_tests({})
    assert missing.returncode == 1, missing.stdout[-3000:] + missing.stderr[-3000:]
    assert "1 failed" in missing.stdout
    assert str(elsewhere / "manage.py") in missing.stdout, missing.stdout[-3000:]
