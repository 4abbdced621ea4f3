"""``python -m django_bolt init``: a new project that passes its own tests and serves
under runbolt, and an existing project where nothing is overwritten."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from django_bolt.testing import run_bolt
from tests.conftest import user_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def run(*args, cwd):
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=user_env(), capture_output=True, text=True
    )


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".sqlite3"
    }


def test_a_new_project_passes_its_tests_and_serves(tmp_path):
    made = run("-m", "django_bolt", "init", "mysite", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "mysite"
    for line in ("changed  mysite/settings.py", "created  mysite/api.py", "created  Dockerfile"):
        assert line in made.stdout
    assert {"Dockerfile", "requirements.txt", "pytest.ini", "deploy/mysite.service"} <= set(
        files(root)
    )
    tests = run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "1 passed" in tests.stdout
    check = run("manage.py", "check", "--deploy", "--fail-level", "CRITICAL", cwd=root)
    assert check.returncode == 0, check.stderr
    assert run("manage.py", "migrate", "-v0", cwd=root).returncode == 0
    with run_bolt(
        manage_py=str(root / "manage.py"),
        cwd=str(root),
        env={"DJANGO_SETTINGS_MODULE": "mysite.settings", "PYTHONPATH": ""},
    ) as server:
        r = httpx.get(f"{server.url}/api/hello", params={"name": "Ada"})
        assert r.json() == {"message": "Hello, Ada!"}
        docs = httpx.get(f"{server.url}/api/docs")
        assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
        spec = httpx.get(f"{server.url}/api/openapi.json").json()
        assert "/api/hello" in spec["paths"]
        assert httpx.get(f"{server.url}/admin/login/").status_code == 200


def test_an_existing_project_keeps_everything_it_has(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "shop", str(tmp_path)],
        check=True,
        env=user_env(),
    )
    (tmp_path / "Dockerfile").write_text("FROM mine\n")
    settings = tmp_path / "shop" / "settings.py"
    settings.write_text(settings.read_text() + "\nMY_SETTING = 42\n")
    before = files(tmp_path)

    first = run("-m", "django_bolt", "init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "kept     Dockerfile  (exists)" in first.stdout
    after = files(tmp_path)
    assert after["Dockerfile"] == b"FROM mine\n"
    # Existing files only grow: every line they had is still there, in order.
    for name, old in before.items():
        assert after[name].startswith(old[: old.find(b"INSTALLED_APPS")]), name
        assert set(old.decode().splitlines()) <= set(after[name].decode().splitlines()), name
    assert '"django_bolt",' in after["shop/settings.py"].decode()
    assert 'urlpatterns += [_path("api/", api.urls)]' in after["shop/urls.py"].decode()

    second = run("-m", "django_bolt", "init", "--project", str(tmp_path), cwd="/")
    assert second.returncode == 0
    assert "created" not in second.stdout and "changed" not in second.stdout
    assert files(tmp_path) == after
    tests = run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_init_says_what_is_wrong(tmp_path):
    nothing = run("-m", "django_bolt", "init", cwd=tmp_path)
    assert nothing.returncode == 2
    assert "no manage.py" in nothing.stderr
    assert run("-m", "django_bolt", "init", "my-site", cwd=tmp_path).returncode == 2
    assert run("-m", "django_bolt", "init", "site1", cwd=tmp_path).returncode == 0
    again = run("-m", "django_bolt", "init", "site1", cwd=tmp_path)
    assert again.returncode == 2 and "already holds a project" in again.stderr


def test_init_leaves_what_it_cannot_safely_change(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "shop", str(tmp_path)],
        check=True,
        env=user_env(),
    )
    settings = tmp_path / "shop" / "settings.py"
    # Windows line endings, a BOLT written without spaces, an api module of another kind.
    text = settings.read_text() + 'BOLT={"PROCESSES": 3}\n'
    settings.write_bytes(text.replace("\n", "\r\n").encode())
    (tmp_path / "shop" / "api.py").write_text("def helper():\n    return 1\n")
    urls_before = (tmp_path / "shop" / "urls.py").read_bytes()

    done = run("-m", "django_bolt", "init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "todo     shop/api.py  (it defines no api = BoltAPI()" in done.stdout
    assert (tmp_path / "shop" / "urls.py").read_bytes() == urls_before
    after = settings.read_bytes()
    assert after.count(b"BOLT") == 1 and b'BOLT={"PROCESSES": 3}' in after
    assert b"\r\n" in after and b"\n" not in after.replace(b"\r\n", b"")
    assert b'"django_bolt",' in after
    assert (tmp_path / "shop" / "api.py").read_text() == "def helper():\n    return 1\n"

    split = tmp_path / "split"
    split.mkdir()  # Django 5.2's startproject wants it to exist
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "conf", str(split)],
        check=True,
        env=user_env(),
    )
    base = split / "conf" / "settings.py"
    (split / "conf" / "prod.py").write_text(
        "from conf.settings import *  # noqa\nINSTALLED_APPS = [*INSTALLED_APPS]\n"
    )
    manage = split / "manage.py"
    manage.write_text(manage.read_text().replace("conf.settings", "conf.prod"))
    assert run("-m", "django_bolt", "init", cwd=split).returncode == 0
    prod = (split / "conf" / "prod.py").read_text()
    assert '"django_bolt",' in prod and "STATIC_ROOT" not in prod  # it comes from the base
    assert "STATIC_ROOT" not in base.read_text()


def test_pytest_ini_only_when_no_file_configures_pytest(tmp_path):
    """A pyproject.toml that configures only other tools does not configure pytest: the
    generated tests get their pytest.ini. One with a pytest section keeps it alone."""
    for name, text, expect_ini in (
        ("ruff_only", "[tool.ruff]\nline-length = 100\n", True),
        ("with_pytest", "[tool.pytest.ini_options]\naddopts = '-q'\n", False),
    ):
        root = tmp_path / name
        root.mkdir()
        subprocess.run(
            [sys.executable, "-m", "django", "startproject", "shop", str(root)],
            check=True,
            env=user_env(),
        )
        (root / "pyproject.toml").write_text(text)
        done = run("-m", "django_bolt", "init", cwd=root)
        assert done.returncode == 0, done.stderr
        assert (root / "pytest.ini").exists() is expect_ini, done.stdout
        if expect_ini:
            assert "created  pytest.ini" in done.stdout
            tests = run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root)
            assert tests.returncode == 0, tests.stdout + tests.stderr
            assert "1 passed" in tests.stdout
        else:
            assert "kept     pytest.ini  (pytest is configured in pyproject.toml)" in done.stdout
