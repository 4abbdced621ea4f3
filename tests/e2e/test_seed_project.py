"""A project written the way the seeds write one: an ``api.py`` in the project package and
another in an installed app, nothing mounted in urls.py, served by ``runbolt``."""

import os
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from django_bolt.testing import run_bolt

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ENV = {"DJANGO_SETTINGS_MODULE": "shop.settings"}

SETTINGS = """
SECRET_KEY = "seed-project-secret-key-for-tests-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_bolt",
    "blog",
]
ROOT_URLCONF = "shop.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
"""

PROJECT_API = """
import msgspec
from django_bolt import BoltAPI

api = BoltAPI(title="Shop")

class Item(msgspec.Struct):
    name: str
    price: float

@api.get("/items/{item_id}")
async def get_item(item_id: int) -> Item:
    return Item(name=f"item {item_id}", price=9.5)
"""

APP_API = """
from django_bolt import BoltAPI

api = BoltAPI()

@api.get("/posts")
async def list_posts():
    return [{"id": 1, "title": "Hello"}]
"""


def write_project(root, app_api=APP_API):
    files = {
        "manage.py": """
            import os, sys
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
            from django.core.management import execute_from_command_line
            execute_from_command_line(sys.argv)
        """,
        "shop/__init__.py": "",
        "shop/settings.py": SETTINGS,
        "shop/urls.py": "urlpatterns = []\n",
        "shop/api.py": PROJECT_API,
        "blog/__init__.py": "",
        "blog/api.py": app_api,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return str(root / "manage.py")


def test_two_discovered_apis_are_served_with_one_document_and_one_set_of_docs(tmp_path):
    manage = write_project(tmp_path)
    with run_bolt(manage_py=manage, cwd=str(tmp_path), env=ENV) as server:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/items/3").json() == {"name": "item 3", "price": 9.5}
            assert client.get("/posts").json() == [{"id": 1, "title": "Hello"}]
            document = client.get("/openapi.json").json()
            assert document["info"]["title"] == "Shop"  # the project's own API comes first
            assert set(document["paths"]) == {"/items/{item_id}", "/posts"}
            docs = client.get("/docs")
            assert docs.status_code == 200  # the UI assets ship with the package
            assert "/openapi.json" in docs.text
        assert "GET  /posts" in server.log and "GET  /items/{item_id}" in server.log

        # No WebSocket route and no ASGI application for WebSockets: refused at once
        # (a client left waiting would raise TimeoutError here instead).
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{server.port}/posts", open_timeout=10)
        assert refused.value.response.status_code == 404
        deadline = time.monotonic() + 10
        while "WebSocket handshake refused (404)" not in server.log:
            assert time.monotonic() < deadline, server.log
            time.sleep(0.05)
        assert "no WebSocket route at /posts" in server.log


def test_a_genuine_conflict_is_a_one_line_error_naming_both_handlers(tmp_path):
    clash = APP_API + '\n@api.get("/items/{pk}")\nasync def other_item(pk: int):\n    return {}\n'
    manage = write_project(tmp_path, app_api=clash)
    result = subprocess.run(
        [sys.executable, manage, "runbolt", "--port", "0"],
        cwd=str(tmp_path),
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    assert output.splitlines()[-1] == (
        "CommandError: cannot compile the API routes: GET /items/{pk} is handled twice: "
        "by shop.api.get_item and by blog.api.other_item"
    )
