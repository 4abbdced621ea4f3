"""More documented behaviours over a real socket that no other test covers:

- docs/runbolt.md, Django's paths: a body up to 1 MiB arrives whole before Django sees
  the request (no Python thread waits on a slow client), a larger one is handed over
  after its first MiB;
- docs/runbolt.md, Static files: the start-up banner's count of indexed files, and
  ``.br``/``.gz`` siblings kept only where they save at least 5%;
- docs/getting-started.md: ``ensure_django_ready(settings_module=...)``, a ``BoltAPI``
  mounted under a ``<converter>`` pattern (served through Django's resolver, with a
  warning), and the nginx site ``init`` writes to ``deploy/``, in front of runbolt.

The probe site (``site_env``) is the one of ``test_documented_runbolt``."""

import gzip
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import brotli
import httpx
import pytest
from websockets.sync.client import connect

from django_bolt.testing.process import free_port
from tests.conftest import MANAGE_PY, requires, user_env, wait_for
from tests.e2e.test_documented_runbolt import site_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MiB = 1024 * 1024


# -- bodies on Django's paths ---------------------------------------------------------------


def open_post(port: int, target: str, length: int) -> socket.socket:
    """A connection that has sent the head of a POST of ``length`` bytes, and no body."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(
        f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n".encode()
    )
    return s


def json_reply(s: socket.socket) -> tuple[bytes, object]:
    """(status line, decoded JSON body) of the answer on a ``Connection: close`` socket."""
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], json.loads(body)


def test_a_body_up_to_1_mib_arrives_whole_before_django_sees_the_request(bolt, tmp_path):
    """docs/runbolt.md: "A body up to 1 MiB arrives whole before Django sees the request,
    so no Python thread waits on a slow client. A larger one is handed to Django after
    its first MiB"."""
    body = random.Random(1).randbytes(MiB)
    with bolt("--threads", "1", env=site_env(tmp_path)) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:

            def started():
                return [s["name"] for s in client.get("/probe/state").json()["started"]]

            assert client.get("/django/plain/").status_code == 200  # Django loaded
            # Exactly 1 MiB, sent slowly in sixteen pieces: while it arrives, the one
            # Python thread keeps serving Django pages, and the view has not started.
            with open_post(server.port, "/probe-django/body/?name=whole", MiB) as s:
                for offset in range(0, MiB - 64 * 1024, 64 * 1024):
                    s.sendall(body[offset : offset + 64 * 1024])
                    page = client.get("/django/plain/")
                    assert page.text == "django view: GET /django/plain/"
                    assert started() == []
                s.sendall(body[MiB - 64 * 1024 :])
                status, received = json_reply(s)
            assert status == b"HTTP/1.1 200 OK"
            assert received == {"length": MiB, "sha256": hashlib.sha256(body).hexdigest()}

            # One byte more: the view starts once the first MiB is in, and reads the rest
            # from the connection as it comes.
            larger = body + b"!"
            with open_post(server.port, "/probe-django/body/?name=larger", MiB + 1) as s:
                s.sendall(larger[:MiB])  # all but the last byte
                wait_for(lambda: started() == ["whole", "larger"])
                s.sendall(larger[MiB:])
                status, received = json_reply(s)
            assert status == b"HTTP/1.1 200 OK"
            assert received == {"length": MiB + 1, "sha256": hashlib.sha256(larger).hexdigest()}


# -- static files ---------------------------------------------------------------------------


def files_below(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def banner_count(log: str) -> int:
    (line,) = [x for x in log.splitlines() if x.startswith("Static files (Rust): /static/")]
    return int(line.removeprefix("Static files (Rust): /static/ (").removesuffix(" files)"))


def test_the_start_up_banner_says_how_many_static_files_it_indexed(bolt, e2e_static):
    """docs/runbolt.md: "Once `collectstatic` has filled `STATIC_ROOT`, runbolt serves
    `STATIC_URL` from it in Rust, whatever `DEBUG` is; the start-up banner says how many
    files it indexed"."""
    with bolt(env={"BOLT_STATIC_ROOT": str(e2e_static)}) as server:
        indexed = files_below(e2e_static)
        assert len(indexed) > 100  # the admin's files, their hashed names and siblings
        assert banner_count(server.log) == len(indexed)
        # Each of them is served, siblings included.
        for name in (indexed[0], indexed[len(indexed) // 2], indexed[-1]):
            answer = httpx.get(f"{server.url}/static/{name}", headers={"Accept-Encoding": "x"})
            assert answer.status_code == 200, name
            assert answer.content == (e2e_static / name).read_bytes(), name


def saving(data: bytes) -> tuple[float, float]:
    """What gzip (9) and Brotli (11) save of ``data``, as fractions."""
    packed = (gzip.compress(data, 9, mtime=0), brotli.compress(data, quality=11))
    return tuple(1 - len(p) / len(data) for p in packed)


def test_precompressed_siblings_are_kept_only_where_they_save_five_percent(bolt, tmp_path):
    """docs/runbolt.md: "`CompressedManifestStaticFilesStorage` ... also writes `.br` and
    `.gz` siblings of text formats ... at `collectstatic`, kept only where they save at
    least 5%"."""
    assets, collected = tmp_path / "assets", tmp_path / "collected"
    assets.mkdir()
    # Fonts other than WOFF are compressible formats; random bytes are not compressible.
    noise = random.Random(5).randbytes(20_000)
    pays, barely = noise + b"a" * 1_500, noise + b"b" * 900
    assert all(0.06 < s < 0.08 for s in saving(pays)), saving(pays)
    assert all(0.03 < s < 0.045 for s in saving(barely)), saving(barely)
    (assets / "pays.ttf").write_bytes(pays)
    (assets / "barely.ttf").write_bytes(barely)
    env = {
        **site_env(tmp_path, settings=f"STATICFILES_DIRS = [{str(assets)!r}]\n"),
        "BOLT_STATIC_ROOT": str(collected),
    }
    done = subprocess.run(
        [sys.executable, str(MANAGE_PY), "collectstatic", "--noinput", "-v0", "-i", "admin"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    hashed = json.loads((collected / "staticfiles.json").read_text())["paths"]
    for name in ("pays.ttf", hashed["pays.ttf"]):
        assert gzip.decompress((collected / f"{name}.gz").read_bytes()) == pays
        assert brotli.decompress((collected / f"{name}.br").read_bytes()) == pays
        for sibling in (f"{name}.gz", f"{name}.br"):
            assert (collected / sibling).stat().st_size <= 0.95 * len(pays), sibling
    for name in ("barely.ttf", hashed["barely.ttf"]):
        assert not (collected / f"{name}.gz").exists()
        assert not (collected / f"{name}.br").exists()

    with bolt(env=env) as server, httpx.Client(base_url=server.url) as client:
        assert banner_count(server.log) == len(files_below(collected))
        for encoding in ("gzip", "br"):
            got = client.get("/static/pays.ttf", headers={"Accept-Encoding": encoding})
            assert got.headers["content-encoding"] == encoding and got.content == pays
            plain = client.get("/static/barely.ttf", headers={"Accept-Encoding": encoding})
            assert "content-encoding" not in plain.headers and plain.content == barely


# -- getting started ------------------------------------------------------------------------


def test_ensure_django_ready_takes_the_settings_module_and_the_project(tmp_path):
    """docs/getting-started.md: "It takes `settings_module=` and `project=` (the directory
    of `manage.py`), puts the project on `sys.path`, and does nothing when Django is
    already set up."."""
    project = tmp_path / "shop"
    (project / "shop").mkdir(parents=True)
    (project / "manage.py").write_text(
        'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")\n'
    )
    (project / "shop" / "__init__.py").write_text("")
    base = 'SECRET_KEY = "x" * 50\nINSTALLED_APPS = ["django.contrib.contenttypes"]\n'
    (project / "shop" / "settings.py").write_text(base + 'FLAVOUR = "development"\n')
    (project / "shop" / "production.py").write_text(base + 'FLAVOUR = "production"\n')
    script = (
        "import sys\n"
        "from django_bolt.bootstrap import ensure_django_ready\n"
        f"print(ensure_django_ready(settings_module='shop.production', project={str(project)!r}))\n"
        "from django.conf import settings\n"
        "print(settings.FLAVOUR)\n"
        f"print({str(project)!r} in sys.path)\n"
        "from django.contrib.contenttypes.models import ContentType\n"
        "print(ContentType._meta.app_label)\n"
        "print(ensure_django_ready(settings_module='shop.settings'))\n"
        "print(settings.FLAVOUR)\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Run from another directory, with DJANGO_SETTINGS_MODULE naming the other module:
    # settings_module= decides.
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=elsewhere,
        env=user_env(DJANGO_SETTINGS_MODULE="shop.settings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "shop.production",
        "production",
        "True",
        "contenttypes",
        "shop.production",  # already set up: nothing changes
        "production",
    ]


CONVERTER_URLS = """
from django.urls import path

from testproject.api import api

urlpatterns = [path("<str:tenant>/api/", api.urls)]
"""


def test_a_mount_under_a_converter_is_served_through_djangos_resolver(bolt, tmp_path):
    """docs/getting-started.md: "A mount under a non-literal pattern (a regex with groups,
    a `<converter>`) cannot be compiled: those routes are then served through Django's
    resolver (a warning says so)."."""
    with bolt(env=site_env(tmp_path, urls=CONVERTER_URLS)) as server:
        with httpx.Client(base_url=server.url) as client:
            items = client.get("/acme/api/items/3", params={"q": "a"})
            assert items.json() == {"item_id": 3, "q": "a", "limit": 10}
            assert client.get("/globex/api/hello").json() == {"message": "Hello, World!"}
            created = client.post("/acme/api/items", json={"name": "pen", "price": 2})
            assert created.json() == {"name": "pen", "price": 2.0, "tags": []}
            invalid = client.get("/acme/api/items/x")
            assert invalid.status_code == 422
            assert invalid.json()["detail"][0]["loc"] == ["path", "item_id"]
    assert (
        "BoltAPI mounted under the non-literal URL pattern '<str:tenant>/api/' is served "
        "through Django's URL resolver, not the Rust router" in server.log
    )
    # The Rust router has none of them.
    assert "API routes (Rust router):\n  (no API routes)\n" in server.log


NGINX_MAIN = """
daemon off;
user root;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    include {site};
}}
"""


def init_project(tmp_path: Path) -> Path:
    made = subprocess.run(
        [sys.executable, "-m", "django_bolt", "init", "mysite"],
        cwd=tmp_path,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert "created  deploy/nginx.conf" in made.stdout
    return tmp_path / "mysite"


def test_init_writes_an_nginx_site_for_the_runbolt_of_its_systemd_unit(tmp_path):
    """docs/getting-started.md: "It creates, where absent: ... in `deploy/` a systemd unit
    and an nginx site for production"; docs/runbolt.md: the local host is a trusted proxy
    by default, whose X-Forwarded-For and X-Forwarded-Proto are believed."""
    root = init_project(tmp_path)
    site = (root / "deploy" / "nginx.conf").read_text()
    unit = (root / "deploy" / "mysite.service").read_text()
    # The upstream is where the unit's runbolt listens.
    assert "--host 127.0.0.1 --port 8000" in unit
    assert "server 127.0.0.1:8000;" in site
    assert "proxy_pass http://mysite_bolt;" in site
    # It forwards what runbolt believes from a local proxy, and the Host as it came.
    for header in (
        "proxy_set_header Host $host;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
    ):
        assert header in site, header
    # A second init keeps it.
    again = subprocess.run(
        [sys.executable, "-m", "django_bolt", "init"],
        cwd=root,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert (root / "deploy" / "nginx.conf").read_text() == site


#: Debian installs nginx in /usr/sbin, which a CI PATH may leave out.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


@requires("nginx", NGINX)
def test_the_nginx_site_from_init_proxies_to_runbolt(bolt, tmp_path):
    """The nginx site ``init`` writes, run by nginx in front of a runbolt: pages, the
    client's address and the Host reach Django, and WebSockets pass through."""
    site = (init_project(tmp_path) / "deploy" / "nginx.conf").read_text()
    folder = tmp_path / "nginx"
    folder.mkdir()
    nginx_port = free_port()
    with bolt() as server:
        # The same site, on this test's ports instead of 80 and 8000.
        local = site.replace("listen 80;", f"listen 127.0.0.1:{nginx_port};").replace(
            "server 127.0.0.1:8000;", f"server 127.0.0.1:{server.port};"
        )
        assert local != site
        (folder / "site.conf").write_text(local)
        (folder / "nginx.conf").write_text(
            NGINX_MAIN.format(folder=folder, site=folder / "site.conf")
        )
        nginx = subprocess.Popen(
            [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:

            def listening():
                try:
                    socket.create_connection(("127.0.0.1", nginx_port), timeout=1).close()
                    return True
                except OSError:
                    assert nginx.poll() is None, (folder / "error.log").read_text()
                    return False

            wait_for(listening)
            url = f"http://127.0.0.1:{nginx_port}"
            with httpx.Client(base_url=url, timeout=30) as client:
                hello = client.get("/api/hello")
                assert hello.json() == {"message": "Hello, World!"}
                page = client.get(
                    "/django/whoami/",
                    headers={"Host": "example.com", "X-Forwarded-For": "203.0.113.9"},
                )
                assert page.json() == {
                    "remote_addr": "203.0.113.9",
                    "secure": False,
                    "uri": "http://example.com/django/whoami/",
                }
                assert client.get("/api/whoami").json() == {
                    "client": "127.0.0.1",
                    "scheme": "http",
                }
            with connect(f"ws://127.0.0.1:{nginx_port}/api/ws/echo", open_timeout=10) as ws:
                ws.send("through nginx")
                assert ws.recv(timeout=10) == "Echo: through nginx"
        finally:
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.wait(15)
