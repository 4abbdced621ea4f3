"""``manage.py check`` reports BOLT misconfiguration before runbolt starts, and
``manage.py export_openapi`` writes the document the site serves."""

import json
import subprocess
import sys
import textwrap

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_bolt.testing import TestClient
from tests.conftest import MANAGE_PY


def write_project(tmp_path, api_source, bolt="{}"):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "__init__.py").write_text("")
    (tmp_path / "proj" / "settings.py").write_text(
        textwrap.dedent(
            f"""
            SECRET_KEY = "a-project-secret-key-that-is-long-enough-0123456789"
            INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_bolt"]
            ROOT_URLCONF = "proj.urls"
            DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}}}
            BOLT = {bolt}
            """
        )
    )
    (tmp_path / "proj" / "api.py").write_text(textwrap.dedent(api_source))
    (tmp_path / "proj" / "urls.py").write_text(
        "from django.urls import path\nfrom proj import api\n"
        'urlpatterns = [path("api/", a.urls) for a in [api.api, *getattr(api, "more", [])]]\n'
    )
    (tmp_path / "manage.py").write_text(
        "import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n"
    )


def check(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )


GOOD = """
    from django_bolt import BoltAPI
    api = BoltAPI()

    @api.get("/hello")
    async def hello():
        return {}
"""


def test_a_sound_project_passes(tmp_path):
    write_project(tmp_path, GOOD)
    done = check(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize(
    ("source", "bolt", "expected"),
    [
        (
            """
            from django_bolt import BoltAPI
            from django_bolt.auth import JWTAuthentication, IsAuthenticated
            api = BoltAPI()

            @api.get("/me", auth=[JWTAuthentication(secret="too-short")], guards=[IsAuthenticated])
            async def me():
                return {}
            """,
            "{}",
            "django_bolt.E001",
        ),
        (
            """
            from django_bolt import BoltAPI
            from django_bolt.auth import APIKeyAuthentication, IsAuthenticated
            api = BoltAPI()

            @api.get("/k", auth=[APIKeyAuthentication(api_keys=[])], guards=[IsAuthenticated])
            async def k():
                return {}
            """,
            "{}",
            "django_bolt.E001",
        ),
        (
            """
            from django_bolt import BoltAPI
            api, other = BoltAPI(), BoltAPI()

            @api.get("/x")
            async def one():
                return {}

            @other.get("/x")
            async def two():
                return {}

            more = [other]  # also served at /api/
            """,
            "{}",
            "django_bolt.E001",
        ),
        (GOOD, '{"PROCESES": 4}', "django_bolt.W001"),
        (GOOD, '{"TIMEOUT": -1}', "django_bolt.E002"),
    ],
    ids=["short secret", "no api keys", "route conflict", "unknown key", "bad value"],
)
def test_misconfiguration_is_reported(tmp_path, source, bolt, expected):
    write_project(tmp_path, source, bolt)
    if expected == "django_bolt.E001":  # export_openapi says the same, in one line
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        export = subprocess.run(
            [sys.executable, "manage.py", "export_openapi", "--skip-checks"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert export.returncode == 1
        assert export.stderr.startswith("CommandError: the API cannot be compiled:")
    done = check(tmp_path)
    assert expected in done.stderr, done.stderr
    if expected.startswith("django_bolt.E"):
        assert done.returncode == 1
    else:
        assert done.returncode == 0
    assert "Traceback" not in done.stderr


@pytest.mark.django_db
def test_export_openapi_writes_the_served_document(tmp_path, capsys):
    target = tmp_path / "out" / "openapi.json"
    call_command("export_openapi", "--mount", "/api/", "-o", str(target))
    written = json.loads(target.read_text())
    with TestClient() as client:
        served = client.get("/api/openapi.json").json()
    assert written == served
    call_command("export_openapi", "--indent", "0")
    everything = json.loads(capsys.readouterr().out)
    assert set(served["paths"]) < set(everything["paths"])
    assert any(p.startswith("/secure/") for p in everything["paths"])
    with pytest.raises(CommandError, match="no API mounted at '/nope'"):
        call_command("export_openapi", "--mount", "/nope")
    assert MANAGE_PY.exists()
