import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MANAGE_PY = ROOT / "testproject" / "manage.py"


#: Under CI (CI=true) every service and tool the suite uses must be there: a test that
#: would be skipped for want of one fails instead. Elsewhere it is a visible skip.
IN_CI = os.environ.get("CI") == "true"


def requires(what: str, available: object) -> pytest.MarkDecorator:
    """Marks a test that needs ``what`` (a service, a package, a browser)."""
    return pytest.mark.requires(what=what, available=bool(available))


def requires_module(name: str) -> pytest.MarkDecorator:
    return requires(f"the {name} package", importlib.util.find_spec(name) is not None)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        if not mark.kwargs["available"]:
            missing = f"{mark.kwargs['what']} is not available"
            if IN_CI:
                pytest.fail(f"{missing}, and CI=true requires it", pytrace=False)
            pytest.skip(missing)


def import_required(name: str):
    """The module, else a skip (a failure under CI)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"{name} cannot be imported ({exc}), and CI=true requires it")
        pytest.skip(f"{name} cannot be imported: {exc}")


def answer(response) -> tuple:
    """(status, body) of an httpx response: the decoded body when it is JSON, else its bytes
    (so comparing with a dict also checks that the answer was JSON)."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.status_code, response.json()
    return response.status_code, response.content


def django_error_page(title: str, details: str = "") -> bytes:
    """The page Django's default handlers render without a template of the project's."""
    from django.views.defaults import ERROR_PAGE_TEMPLATE

    return (ERROR_PAGE_TEMPLATE % {"title": title, "details": details}).encode()


DJANGO_404 = ("Not Found", "The requested resource was not found on this server.")
NOT_FOUND = (404, {"detail": "Not Found"})


def user_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: none of this suite's Django settings, paths,
    virtualenv or BOLT_* variables (for subprocesses working on a project of their own)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV")
        and not k.startswith("BOLT_")
    }
    return {**env, **extra}


def wait_for(predicate, timeout=20.0, interval=0.02):
    """Polls ``predicate`` until it returns something true (returned), failing after
    ``timeout`` seconds: tests wait on conditions, not on the clock."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)
    return value


def refused_start(*args: str) -> subprocess.CompletedProcess:
    """``runbolt`` with flags it must refuse: the finished process (it never serves)."""
    done = subprocess.run(
        [sys.executable, str(MANAGE_PY), "runbolt", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture(scope="session", autouse=True)
def _media_outside_the_repository(tmp_path_factory):
    """Uploads land in a temporary folder, never in testproject/media: for this process
    and for every server it starts."""
    from django.conf import settings

    media = str(tmp_path_factory.mktemp("media"))
    os.environ["BOLT_MEDIA_ROOT"] = media
    settings.MEDIA_ROOT = media


@pytest.fixture(autouse=True)
def _fresh_failure_memory():
    """Each test sees its failures logged (repeats within a minute are only counted)."""
    from django_bolt.http.error_response import REPEATS

    REPEATS.clear()


@pytest.fixture(scope="session")
def e2e_db(tmp_path_factory):
    """A migrated SQLite file for runbolt subprocesses, with an admin user."""
    path = tmp_path_factory.mktemp("e2e") / "db.sqlite3"
    env = {**os.environ, "BOLT_SQLITE_PATH": str(path)}
    env.pop("BOLT_TEST_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, str(MANAGE_PY), "migrate", "--noinput", "-v0"], env=env, check=True
    )
    script = (
        "from django.contrib.auth import get_user_model;"
        "get_user_model().objects.create_superuser('admin', 'admin@example.com', 'pw-admin-123')"
    )
    subprocess.run([sys.executable, str(MANAGE_PY), "shell", "-c", script], env=env, check=True)
    return path


@pytest.fixture(scope="session")
def e2e_static(tmp_path_factory):
    """The testproject's static files collected (hashed names, .br/.gz siblings), for
    runbolt subprocesses started with ``BOLT_STATIC_ROOT`` pointing here."""
    root = tmp_path_factory.mktemp("e2e_static")
    env = {**os.environ, "BOLT_STATIC_ROOT": str(root)}
    subprocess.run(
        [sys.executable, str(MANAGE_PY), "collectstatic", "--noinput", "-v0"], env=env, check=True
    )
    return root


@pytest.fixture(scope="session")
def bolt(e2e_db):
    """Factory: ``with bolt("--processes", "2") as server:`` runs a real runbolt."""
    from django_bolt.testing import run_bolt

    def start(*args, env=None, **kwargs):
        merged = {"BOLT_SQLITE_PATH": str(e2e_db), **(env or {})}
        kwargs.setdefault("manage_py", str(MANAGE_PY))
        return run_bolt(*args, env=merged, **kwargs)

    return start


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's package) driven by Playwright."""
    sync_api = import_required("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (make test installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
