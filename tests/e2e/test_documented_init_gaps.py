"""What docs/getting-started.md promises and the other init and bootstrap tests leave open:
``init`` adding the ``BOLT = {...}`` block (and ``STATIC_ROOT`` only when missing), leaving
out ``pytest.ini`` when ``tox.ini``'s ``[pytest]`` or ``setup.cfg``'s ``[tool:pytest]``
configures pytest, a ``todo`` for an ``INSTALLED_APPS`` built in an unusual way;
``ensure_django_ready()`` preferring ``DJANGO_SETTINGS_MODULE`` to the module manage.py
names; and the API's routes answering under an ASGI server.

No ASGI server package (uvicorn, daphne, hypercorn) is installed here, so the last test
serves Django's ASGI application with a small HTTP/1.1 server of its own over a real
socket, speaking the ASGI HTTP protocol to it as such a server does."""

import asyncio
import json
import subprocess
import sys
from urllib.parse import unquote

import httpx
import pytest

from tests.conftest import user_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def run(*args, cwd, **env):
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=user_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def startproject(root, name="shop"):
    root.mkdir(exist_ok=True)
    made = run("-m", "django", "startproject", name, str(root), cwd=root)
    assert made.returncode == 0, made.stderr


SHOW_SETTINGS = (
    "import json; from django.conf import settings; print(json.dumps({"
    "'bolt': getattr(settings, 'BOLT', None), 'static_root': str(settings.STATIC_ROOT), "
    "'installed': 'django_bolt' in settings.INSTALLED_APPS}))"
)


@pytest.mark.parametrize("static_root", [None, "/srv/shop-static"])
def test_init_adds_a_bolt_block_and_static_root_only_when_missing(tmp_path, static_root):
    """docs/getting-started.md: "In the settings it adds `"django_bolt"` to
    `INSTALLED_APPS`, a `BOLT = {...}` block and `STATIC_ROOT` when missing"."""
    startproject(tmp_path)
    settings = tmp_path / "shop" / "settings.py"
    if static_root:
        settings.write_text(settings.read_text() + f"\nSTATIC_ROOT = {static_root!r}\n")
    before = settings.read_text()
    assert "BOLT" not in before

    done = run("-m", "django_bolt", "init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "changed  shop/settings.py  (django_bolt installed, BOLT settings added)" in done.stdout
    text = settings.read_text()
    assert text.count("\nBOLT = {") == 1
    assert text.count("STATIC_ROOT") == 1
    shown = run("manage.py", "shell", "-v0", "-c", SHOW_SETTINGS, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "bolt": {},
        "static_root": static_root or str(tmp_path / "staticfiles"),
        "installed": True,
    }
    # The project's own settings are all still there.
    assert set(before.splitlines()) <= set(text.splitlines())


@pytest.mark.parametrize(
    ("name", "text", "configures"),
    [
        ("tox.ini", "[tox]\nenvlist = py313\n\n[pytest]\naddopts = -q\n", True),
        ("setup.cfg", "[metadata]\nname = shop\n\n[tool:pytest]\naddopts = -q\n", True),
        ("tox.ini", "[tox]\nenvlist = py313\n", False),
        ("setup.cfg", "[flake8]\nmax-line-length = 100\n", False),
    ],
)
def test_pytest_ini_is_left_out_when_tox_ini_or_setup_cfg_configures_pytest(
    tmp_path, name, text, configures
):
    """docs/getting-started.md: it creates "`pytest.ini` (unless a
    `[tool.pytest.ini_options]` section in `pyproject.toml`, `[pytest]` in `tox.ini` or
    `[tool:pytest]` in `setup.cfg` configures pytest)"."""
    startproject(tmp_path)
    (tmp_path / name).write_text(text)
    done = run("-m", "django_bolt", "init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / name).read_text() == text  # never overwritten
    if configures:
        assert not (tmp_path / "pytest.ini").exists()
        assert f"kept     pytest.ini  (pytest is configured in {name})" in done.stdout
    else:
        assert "created  pytest.ini" in done.stdout
        assert "DJANGO_SETTINGS_MODULE = shop.settings" in (tmp_path / "pytest.ini").read_text()


def test_an_installed_apps_built_in_an_unusual_way_is_a_todo_with_what_to_do(tmp_path):
    """docs/getting-started.md: "Each line of its report says `created`, `changed`, `kept`
    (and why), or `todo` for a step it could not do safely (an `INSTALLED_APPS` built in
    an unusual way, say), with what to do by hand."."""
    startproject(tmp_path)
    settings = tmp_path / "shop" / "settings.py"
    text = settings.read_text()
    assert text.count("INSTALLED_APPS = [") == 1
    text = text.replace("INSTALLED_APPS = [", "DJANGO_APPS = [")
    text += "\nINSTALLED_APPS = DJANGO_APPS + []\n"
    settings.write_text(text)

    done = run("-m", "django_bolt", "init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert 'todo     shop/settings.py  (add "django_bolt" to INSTALLED_APPS)' in done.stdout
    assert settings.read_text() == text  # left as it was
    # Done by hand as the line says, the project has django_bolt.
    settings.write_text(text.replace("DJANGO_APPS + []", 'DJANGO_APPS + ["django_bolt"]'))
    shown = run("manage.py", "shell", "-v0", "-c", SHOW_SETTINGS, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["installed"] is True


def test_ensure_django_ready_prefers_django_settings_module_to_manage_py(tmp_path):
    """docs/getting-started.md: "`ensure_django_ready()   # DJANGO_SETTINGS_MODULE, else
    the module manage.py names here`"."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "manage.py").write_text(
        'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n'
    )
    (tmp_path / "shop" / "__init__.py").write_text("")
    base = 'SECRET_KEY = "x" * 50\nINSTALLED_APPS = ["django.contrib.contenttypes"]\n'
    (tmp_path / "shop" / "settings.py").write_text(base + 'FLAVOUR = "development"\n')
    (tmp_path / "shop" / "production.py").write_text(base + 'FLAVOUR = "production"\n')
    script = (
        "from django_bolt.bootstrap import ensure_django_ready\n"
        "print(ensure_django_ready())\n"
        "from django.conf import settings\n"
        "print(settings.FLAVOUR)\n"
    )
    chosen = run("-c", script, cwd=tmp_path, DJANGO_SETTINGS_MODULE="shop.production")
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.split() == ["shop.production", "production"]
    # Without the variable, the module manage.py names.
    named = run("-c", script, cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    assert named.stdout.split() == ["shop.settings", "development"]


# -- under an ASGI server ------------------------------------------------------------------


async def serve_asgi(app, reader, writer):
    """One HTTP/1.1 request from the socket, handed to ``app`` as ASGI, its answer written
    back (then the connection is closed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    method, target, _ = request_line.split(" ")
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower().encode("latin-1"), value.strip().encode("latin-1")))
    length = int(dict(headers).get(b"content-length", b"0"))
    body = await reader.readexactly(length)
    path, _, query = target.partition("?")
    host, port = writer.get_extra_info("sockname")[:2]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": writer.get_extra_info("peername")[:2],
        "server": (host, port),
    }
    sent_body = asyncio.Event()
    start: dict = {}
    parts: list[bytes] = []
    requested = False

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await sent_body.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                sent_body.set()

    await app(scope, receive, send)
    payload = b"".join(parts)
    out = [f"HTTP/1.1 {start['status']} -\r\n".encode()]
    for name, value in start.get("headers", []):
        if name.lower() not in (b"connection", b"content-length", b"transfer-encoding"):
            out.append(name + b": " + value + b"\r\n")
    out.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(payload))
    writer.write(b"".join(out) + payload)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_the_api_routes_answer_under_an_asgi_server():
    """docs/getting-started.md: "`api.urls` is a list of ordinary Django URL patterns, so
    the same routes answer under `runbolt`, `runserver`, any WSGI/ASGI server and
    Django's test client"."""
    from django.core.asgi import get_asgi_application

    app = get_asgi_application()
    server = await asyncio.start_server(
        lambda r, w: serve_asgi(app, r, w), "127.0.0.1", 0, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            r = await client.get("/api/hello")
            assert (r.status_code, r.headers["content-type"], r.json()) == (
                200,
                "application/json",
                {"message": "Hello, World!"},
            )
            r = await client.get("/api/items/3", params={"q": "a b", "limit": 5})
            assert r.json() == {"item_id": 3, "q": "a b", "limit": 5}
            r = await client.post("/api/items", json={"name": "pen", "price": 2, "tags": ["x"]})
            assert (r.status_code, r.json()) == (
                200,
                {"name": "pen", "price": 2.0, "tags": ["x"]},
            )
            r = await client.get("/api/items/nope")
            assert r.status_code == 422
            assert r.json()["detail"][0]["loc"] == ["path", "item_id"]
            r = await client.delete("/api/hello")
            assert (r.status_code, r.headers["allow"]) == (405, "GET, HEAD")
            # Django's own pages answer beside them.
            r = await client.get("/django/plain/")
            assert (r.status_code, r.text) == (200, "django view: GET /django/plain/")
    finally:
        server.close()
        await server.wait_closed()
