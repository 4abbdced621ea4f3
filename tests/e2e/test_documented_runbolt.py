"""Documented behaviours of ``runbolt`` (docs/runbolt.md) over a real socket that no other
test covers:

- the Python thread pool: a stuck sync view is replaced by another thread, up to four
  times ``--threads``, and the pool shrinks back once the stuck threads return;
- ``--root-path``: static files under the prefix, the access log's path below it, and
  ``request.path`` in an API handler with the prefix;
- ``X-Forwarded-Host``: left to Django's ``USE_X_FORWARDED_HOST``, the Host header as it
  came;
- ``--log-level`` adding a stderr handler when LOGGING gives the ``django_bolt`` loggers
  none, and the ``django_bolt.store`` logger for shared-store errors;
- media served by Rust: byte ranges and ``BOLT["MEDIA_MAX_AGE"]``.

Each server runs a small site package written under ``tmp_path``: the testproject's
settings and URLs plus a probe API and views these tests need (``site_env``)."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from django_bolt.testing.process import free_port
from tests.conftest import MANAGE_PY, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

#: The probe site's URLconf: the testproject's patterns, plus an API and views that let a
#: test see from outside what happens inside the server process.
SITE_URLS = '''
import hashlib
import logging
import threading

from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from django_bolt import BoltAPI, Request
from testproject.urls import urlpatterns as project_patterns

probe = BoltAPI(openapi_url=None)

GATE = threading.Event()
STARTED = []  # gate views and body views, in the order they started
FINISHED = []
STUCK_REPORTS = []


class StuckReports(logging.Handler):
    """Counts the warnings that name a view as stuck (on the root logger, which the
    project's LOGGING leaves alone when it configures logging again)."""

    def emit(self, record):
        if "is stuck" in record.getMessage():
            STUCK_REPORTS.append(record.getMessage())


logging.getLogger().addHandler(StuckReports())


def gate_view(request):
    """Blocks its thread until the test opens the gate (a minute at most)."""
    STARTED.append({"name": request.GET["name"], "stuck_reports": len(STUCK_REPORTS)})
    GATE.wait(60)
    FINISHED.append(request.GET["name"])
    return HttpResponse("passed " + request.GET["name"], content_type="text/plain")


@csrf_exempt
def body_view(request):
    """What Django received of the body: its length and SHA-256."""
    STARTED.append({"name": request.GET.get("name", ""), "stuck_reports": len(STUCK_REPORTS)})
    body = request.body
    return JsonResponse({"length": len(body), "sha256": hashlib.sha256(body).hexdigest()})


@probe.get("/state")
async def state():
    return {
        "started": STARTED,
        "finished": FINISHED,
        "stuck_reports": len(STUCK_REPORTS),
        "threads": threading.active_count(),
    }


@probe.post("/gate/{position}")
async def move_gate(position: str):
    if position == "open":
        GATE.set()
    else:
        GATE.clear()
    return {"gate": position}


@probe.get("/path")
async def seen_path(request: Request):
    return {"path": request.path}


@probe.get("/host")
async def seen_host(request: Request):
    return {"host": request.headers.get("host")}


urlpatterns = [
    path("probe/", probe.urls),
    path("probe-django/gate/", gate_view),
    path("probe-django/body/", body_view),
    *project_patterns,
]
'''


def site_env(tmp_path: Path, settings: str = "", urls: str = SITE_URLS) -> dict[str, str]:
    """Writes the package ``probesite`` (the testproject's settings with ``settings``
    appended, and ``urls`` as its URLconf) under ``tmp_path``; returns the environment
    that makes runbolt (or another manage.py command) use it."""
    package = tmp_path / "probesite"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(
        "from testproject.settings import *  # noqa: F403\n\n"
        'ROOT_URLCONF = "probesite.urls"\n' + settings
    )
    (package / "urls.py").write_text(urls)
    return {"DJANGO_SETTINGS_MODULE": "probesite.settings", "PYTHONPATH": str(tmp_path)}


# -- the Python thread pool ---------------------------------------------------------------


def test_stuck_views_are_replaced_up_to_four_times_threads_and_the_pool_shrinks_back(
    bolt, tmp_path
):
    """docs/runbolt.md: "a sync handler or Django view cannot be interrupted: a warning
    names it as stuck, and another thread takes its place, so the pool keeps serving (up
    to four times `--threads`); the pool shrinks back once the stuck thread returns."."""
    env = site_env(tmp_path)
    args = ("--threads", "1", "--timeout", "1", "--shutdown-timeout", "5")
    with bolt(*args, env=env) as server, httpx.Client(base_url=server.url, timeout=90) as c:

        def state():
            return c.get("/probe/state").json()

        answers = {}

        def send(name):
            def run():
                answers[name] = c.get("/probe-django/gate/", params={"name": name})

            thread = threading.Thread(target=run)
            thread.start()
            return thread

        assert c.get("/django/plain/").status_code == 200  # Django's first page loads it
        threads_at_rest = state()["threads"]

        # Four views block one after another: each is reported stuck (its client gets
        # 504) and a new thread takes the next one, while other pages are still served.
        clients = []
        for i in range(4):
            clients.append(send(f"a{i}"))
            wait_for(lambda i=i: len(state()["started"]) == i + 1)
            wait_for(lambda i=i: state()["stuck_reports"] == i + 1)
            if i < 3:
                page = c.get("/django/plain/")
                assert (page.status_code, page.text) == (200, "django view: GET /django/plain/")
        lines = [x for x in server.log.splitlines() if "is stuck" in x]
        assert len(lines) == 4, server.log
        for line in lines:
            assert line.startswith("GET /probe-django/gate/: Django has run "), line
        assert [x.endswith("; another thread takes its place") for x in lines] == [
            True,
            True,
            True,
            False,
        ]
        # Four threads for --threads 1, and no more: a fifth view is not started while
        # the four are stuck (its client gets 504 meanwhile).
        assert lines[3].endswith("; no thread added (4 are running)"), lines[3]
        assert state()["threads"] == threads_at_rest + 3
        clients.append(send("a4"))
        clients[-1].join(60)
        assert answers["a4"].status_code == 504
        assert [s["name"] for s in state()["started"]] == ["a0", "a1", "a2", "a3"]
        assert state()["threads"] == threads_at_rest + 3
        for name in ("a0", "a1", "a2", "a3"):
            assert answers[name].status_code == 504

        # The stuck views return (the queued fifth runs then): the pool shrinks back to
        # one thread.
        c.post("/probe/gate/open")
        for thread in clients:
            thread.join(60)
        wait_for(lambda: sorted(state()["finished"]) == ["a0", "a1", "a2", "a3", "a4"])
        wait_for(lambda: state()["threads"] == threads_at_rest)

        # One thread again: a second view waits until the first is reported stuck, and
        # that report adds a thread again (the pool is below its cap).
        c.post("/probe/gate/close")
        first = send("b0")
        wait_for(lambda: [s["name"] for s in state()["started"]][-1] == "b0")
        second = send("b1")
        wait_for(lambda: [s["name"] for s in state()["started"]][-1] == "b1")
        b0, b1 = state()["started"][-2:]
        assert b1["stuck_reports"] == b0["stuck_reports"] + 1
        wait_for(lambda: server.log.count("is stuck; another thread takes its place") == 4)
        c.post("/probe/gate/open")
        first.join(60)
        second.join(60)


# -- --root-path ----------------------------------------------------------------------------


def test_root_path_serves_static_files_logs_the_path_below_it_and_api_paths_carry_it(
    bolt, tmp_path, e2e_static
):
    """docs/runbolt.md: "Requests may arrive with the prefix or without it (a proxy that
    strips it): either way routing, static files and Django see the path below it." /
    "API handlers see `request.path` with the prefix, as the client asked for it" / "The
    access log writes the path below it (gunicorn's `%(U)s`)"."""
    env = {**site_env(tmp_path), "BOLT_STATIC_ROOT": str(e2e_static)}
    stylesheet = (e2e_static / "admin" / "css" / "base.css").read_bytes()
    fmt = "%(m)s %(U)s q=%(q)s %(s)s"
    args = ("--root-path", "/app", "--access-log", "--access-log-format", fmt)
    with bolt(*args, env=env) as server, httpx.Client(base_url=server.url) as client:
        for target in ("/app/static/admin/css/base.css", "/static/admin/css/base.css"):
            response = client.get(target, headers={"Accept-Encoding": "identity"})
            assert response.status_code == 200, target
            assert response.headers["content-type"] == "text/css; charset=utf-8"
            assert response.content == stylesheet
        # /application is not below /app: no static file there.
        outside = client.get("/application/static/admin/css/base.css")
        assert outside.status_code == 404

        assert client.get("/app/probe/path?x=1").json() == {"path": "/app/probe/path"}
        assert client.get("/probe/path").json() == {"path": "/app/probe/path"}

        def logged():
            lines = [x for x in server.log.splitlines() if x.startswith("GET /")]
            return lines if len(lines) >= 5 else None

        assert wait_for(logged) == [
            "GET /static/admin/css/base.css q= 200",
            "GET /static/admin/css/base.css q= 200",
            "GET /application/static/admin/css/base.css q= 404",
            "GET /probe/path q=x=1 200",
            "GET /probe/path q= 200",
        ]


# -- X-Forwarded-Host ---------------------------------------------------------------------

FORWARDED_HOST = {"X-Forwarded-Host": "public.example:8443"}


def test_x_forwarded_host_is_ignored_unless_django_is_told_to_use_it(bolt, tmp_path):
    """docs/runbolt.md: "The `Host` header is left as it came: Django's
    `USE_X_FORWARDED_HOST` decides about `X-Forwarded-Host`."."""
    with bolt(env=site_env(tmp_path / "plain")) as server:
        with httpx.Client(base_url=server.url) as client:
            page = client.get("/django/whoami/", headers=FORWARDED_HOST).json()
            assert page["uri"] == f"http://127.0.0.1:{server.port}/django/whoami/"
            api = client.get("/probe/host", headers=FORWARDED_HOST).json()
            assert api == {"host": f"127.0.0.1:{server.port}"}

    env = site_env(tmp_path / "honoured", settings="USE_X_FORWARDED_HOST = True\n")
    with bolt(env=env) as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/django/whoami/", headers=FORWARDED_HOST).json()
        assert page["uri"] == "http://public.example:8443/django/whoami/"
        # The Host header itself is never rewritten.
        api = client.get("/probe/host", headers=FORWARDED_HOST).json()
        assert api == {"host": f"127.0.0.1:{server.port}"}


# -- logging ------------------------------------------------------------------------------


def run_and_stop(env: dict[str, str], *args: str, folder: Path) -> tuple[str, str]:
    """runbolt started with stdout and stderr in separate files, stopped with SIGTERM once
    it serves; returns (stdout, stderr)."""
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    port = free_port()
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-u", str(MANAGE_PY), "runbolt", "--port", str(port), *args],
            env={**os.environ, **env},
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            wait_for(lambda: " serving " in out.read_text() + err.read_text(), timeout=60)
            assert httpx.get(f"http://127.0.0.1:{port}/api/hello").status_code == 200
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    return out.read_text(), err.read_text()


NO_LOGGING = 'LOGGING = {"version": 1, "disable_existing_loggers": False}\n'
SIGTERM_NOTE = "received SIGTERM: finishing in-flight requests"


def test_log_level_adds_a_stderr_handler_only_when_logging_gives_none(tmp_path, e2e_db):
    """docs/runbolt.md: "`--log-level` sets the level of the `django_bolt` loggers (adding a
    stderr handler when `LOGGING` gives them none); without it, the project's `LOGGING`
    decides"."""
    db = {"BOLT_SQLITE_PATH": str(e2e_db)}
    bare = {**site_env(tmp_path / "bare", settings=NO_LOGGING), **db}
    # No handler and no level: the INFO note goes nowhere.
    (tmp_path / "quiet").mkdir()
    stdout, stderr = run_and_stop(bare, folder=tmp_path / "quiet")
    assert SIGTERM_NOTE not in stdout + stderr
    # --log-level info: a handler of its own writes it to stderr.
    (tmp_path / "loud").mkdir()
    stdout, stderr = run_and_stop(bare, "--log-level", "info", folder=tmp_path / "loud")
    assert SIGTERM_NOTE not in stdout
    (note,) = [x for x in stderr.splitlines() if SIGTERM_NOTE in x]
    assert note.endswith(f"INFO django_bolt: {SIGTERM_NOTE}"), note
    # The testproject's LOGGING has a console handler: no second one is added, the note
    # is written once.
    (tmp_path / "configured").mkdir()
    stdout, stderr = run_and_stop(
        {**site_env(tmp_path / "own"), **db}, "--log-level", "info", folder=tmp_path / "configured"
    )
    assert (stdout + stderr).count(SIGTERM_NOTE) == 1, stdout + stderr
    assert f"{SIGTERM_NOTE}\n" in stderr


STORE_LOGGING = """
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"named": {"format": "%(name)s %(levelname)s %(message)s"}},
    "handlers": {
        "store": {"class": "logging.FileHandler", "filename": STORE_LOG, "formatter": "named"},
    },
    "loggers": {"django_bolt.store": {"handlers": ["store"], "propagate": False}},
}
"""


def test_shared_store_errors_are_logged_on_django_bolt_store(bolt, tmp_path):
    """docs/runbolt.md: "Whatever the Rust side reports (a WebSocket handshake refused,
    shared-store errors, ...) goes through Python logging on the `django_bolt.server` and
    `django_bolt.store` loggers once the server runs."."""
    log = tmp_path / "store.log"
    closed = free_port()  # nothing listens there: Redis cannot be reached
    settings = (
        f"STORE_LOG = {str(log)!r}\nBOLT_REDIS_URL = 'redis://127.0.0.1:{closed}/0'\n"
        + STORE_LOGGING
    )
    with bolt(env=site_env(tmp_path, settings=settings)) as server:
        # The shared rate limit asks Redis, fails, and lets the request through.
        assert httpx.get(f"{server.url}/api/limited").json() == {"ok": True}
        text = wait_for(lambda: log.exists() and log.read_text())
    (line,) = text.splitlines()
    assert line.startswith("django_bolt.store ERROR shared store error: "), line
    assert "Connection refused" in line
    # Routed by the project's LOGGING: nothing of it on stderr.
    assert "shared store error" not in server.log


# -- media --------------------------------------------------------------------------------


@pytest.fixture
def media_server(bolt, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    settings = (
        f"MEDIA_ROOT = {str(media)!r}\n"
        'BOLT = {**BOLT, "SERVE_MEDIA": True, "MEDIA_MAX_AGE": 3600}\n'
    )
    with bolt(env=site_env(tmp_path, settings=settings)) as server:
        yield server, media


DOCUMENT = bytes(range(256)) * 40  # 10,240 bytes


def test_media_answers_byte_ranges_like_static_files(media_server):
    """docs/runbolt.md (Media): "with the same refusals (...), validators, ranges and
    `nosniff`" — static files: "one byte range per request (`206`, `416` beyond the end,
    several ranges or a stale `If-Range` get the whole file); `Accept-Ranges`"."""
    server, media = media_server
    (media / "reports").mkdir()
    (media / "reports" / "q3.pdf").write_bytes(DOCUMENT)
    size = len(DOCUMENT)
    with httpx.Client(base_url=server.url) as client:
        whole = client.get("/media/reports/q3.pdf")
        assert whole.status_code == 200 and whole.content == DOCUMENT
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["x-content-type-options"] == "nosniff"
        etag = whole.headers["etag"]

        part = client.get("/media/reports/q3.pdf", headers={"Range": "bytes=100-299"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-299/{size}"
        assert part.content == DOCUMENT[100:300]
        tail = client.get("/media/reports/q3.pdf", headers={"Range": "bytes=-16"})
        assert tail.status_code == 206 and tail.content == DOCUMENT[-16:]
        assert tail.headers["content-range"] == f"bytes {size - 16}-{size - 1}/{size}"
        rest = client.get("/media/reports/q3.pdf", headers={"Range": f"bytes={size - 10}-"})
        assert rest.status_code == 206 and rest.content == DOCUMENT[-10:]

        beyond = client.get("/media/reports/q3.pdf", headers={"Range": f"bytes={size}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{size}"

        several = client.get("/media/reports/q3.pdf", headers={"Range": "bytes=0-9,20-29"})
        assert several.status_code == 200 and several.content == DOCUMENT

        current = {"Range": "bytes=0-9", "If-Range": etag}
        resumed = client.get("/media/reports/q3.pdf", headers=current)
        assert resumed.status_code == 206 and resumed.content == DOCUMENT[:10]
        stale = {"Range": "bytes=0-9", "If-Range": '"not-the-etag"'}
        restarted = client.get("/media/reports/q3.pdf", headers=stale)
        assert restarted.status_code == 200 and restarted.content == DOCUMENT


def test_media_max_age_sets_the_cache_control_of_media_answers(media_server):
    """docs/runbolt.md: "`BOLT["MEDIA_MAX_AGE"]` (0) sets their `Cache-Control: public,
    max-age`"."""
    server, media = media_server
    (media / "avatar.png").write_bytes(b"\x89PNG not really")
    with httpx.Client(base_url=server.url) as client:
        picture = client.get("/media/avatar.png")
        assert picture.status_code == 200 and picture.content == b"\x89PNG not really"
        assert picture.headers["cache-control"] == "public, max-age=3600"
        part = client.get("/media/avatar.png", headers={"Range": "bytes=0-3"})
        assert part.status_code == 206 and part.content == b"\x89PNG"
        assert part.headers["cache-control"] == "public, max-age=3600"
        # Sent as a download, with the same age.
        (media / "page.html").write_bytes(b"<p>uploaded</p>")
        page = client.get("/media/page.html")
        assert page.headers["content-disposition"] == "attachment"
        assert page.headers["cache-control"] == "public, max-age=3600"
        assert page.content == b"<p>uploaded</p>"
