"""The ``bolt_server`` fixture in a project's own test suite: a real runbolt serving the
test database (rows the test made), never the development one."""

import subprocess
import sys
import textwrap

import pytest

from django_bolt.testing.process import served_databases_env
from tests.conftest import user_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

API = """
from django.contrib.auth import get_user_model

from django_bolt import BoltAPI

api = BoltAPI()


@api.get("/users")
async def users():
    return [u.username async for u in get_user_model().objects.order_by("username")]
"""

TESTS = """
import httpx


def test_the_server_sees_the_tests_rows(bolt_server):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ann")
    with bolt_server("--processes", "2") as server:
        for _ in range(4):  # new connections: both processes answer
            assert httpx.get(server.url + "/api/users").json() == ["ann"]


def test_each_test_starts_empty(bolt_server):
    with bolt_server() as server:
        assert httpx.get(server.url + "/api/users").json() == []
"""


def test_bolt_server_serves_the_test_database(tmp_path):
    env = user_env()

    def run(*args, cwd):
        return subprocess.run(
            [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True
        )

    assert run("-m", "django_bolt", "init", "shop", cwd=tmp_path).returncode == 0
    root = tmp_path / "shop"
    (root / "shop" / "api.py").write_text(API)
    settings = root / "shop" / "settings.py"
    settings.write_text(
        settings.read_text()
        + textwrap.dedent(
            """
            DATABASES["default"]["TEST"] = {"NAME": BASE_DIR / "test_db.sqlite3"}
            """
        )
    )
    (root / "tests" / "test_api.py").write_text(TESTS)
    done = run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout
    # The development database was never created, let alone written.
    assert not (root / "db.sqlite3").exists()


@pytest.mark.django_db
def test_an_in_memory_sqlite_test_database_is_refused_with_what_to_set():
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the suite runs on another database here")
    with pytest.raises(RuntimeError, match=r"DATABASES\['default'\]\['TEST'\]"):
        served_databases_env()
