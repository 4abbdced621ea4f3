"""``python -m django_bolt init``: a Django project ready for runbolt, new or existing.

Nothing that exists is overwritten: files are created only where absent, and the two
files that must change (settings and the root URLconf) get lines added, never replaced.
Each step reports what it did; a step that cannot be done safely says what to do by hand.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..bootstrap import settings_module_of

PACKAGE = "django-bolt-server"

API = '''"""The site's API: typed routes, served by runbolt (and by Django under runserver)."""

import msgspec

from django_bolt import BoltAPI

api = BoltAPI()


class Greeting(msgspec.Struct):
    message: str


@api.get("/hello")
async def hello(name: str = "world") -> Greeting:
    """Greets ``name``; see /api/docs for the generated documentation."""
    return Greeting(message=f"Hello, {name}!")
'''

TEST = '''"""The API's tests: requests go through the real Rust router, without a socket."""

from django_bolt.testing import TestClient

from {package}.api import api


def test_hello():
    with TestClient(api) as client:
        response = client.get("/hello", params={{"name": "Ada"}})
    assert response.status_code == 200
    assert response.json() == {{"message": "Hello, Ada!"}}
'''

PYTEST_INI = """[pytest]
DJANGO_SETTINGS_MODULE = {settings}
python_files = tests.py test_*.py *_tests.py
"""

REQUIREMENTS = f"""Django>=5.2,<7
{PACKAGE}
"""

DOCKERFILE = """FROM python:3.13-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN python manage.py collectstatic --noinput
EXPOSE 8000
# One process per core; SIGTERM drains in-flight requests, SIGHUP reloads the code.
CMD ["python", "manage.py", "runbolt", "--host", "0.0.0.0", "--port", "8000", "--processes", "2"]
"""

SYSTEMD = """[Unit]
Description={package} (Django served by runbolt)
After=network.target

[Service]
Type=simple
User=www-data
WorkingDirectory=/srv/{package}
ExecStart=/srv/{package}/.venv/bin/python manage.py runbolt --host 127.0.0.1 --port 8000 --processes 2 --access-log
# SIGHUP starts new workers with the new code, then retires the old ones.
ExecReload=/bin/kill -HUP $MAINPID
KillSignal=SIGTERM
TimeoutStopSec=40
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""

NGINX = """# In the http context (e.g. /etc/nginx/sites-enabled/{package}).
map $http_upgrade $connection_upgrade {{
    default upgrade;
    ""      "";
}}

upstream {package}_bolt {{
    server 127.0.0.1:8000;
    keepalive 32;
}}

server {{
    listen 80;
    server_name example.com;
    client_max_body_size 10m;

    location / {{
        proxy_pass http://{package}_bolt;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        # Keep-alive to runbolt, and WebSocket upgrades.
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_read_timeout 75s;
    }}
}}
"""

SETTINGS_BLOCK = """

# django_bolt: `python manage.py runbolt` serves the site (see BOLT settings).
BOLT = {{
    # "PROCESSES": 2,
    # "ACCESS_LOG": True,
}}
{static_root}"""


class InitError(Exception):
    """The directory holds no project init can work with."""


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def add(self, verb: str, path: Path, root: Path, why: str = "") -> None:
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        self.lines.append(f"{verb:<8} {shown}{f'  ({why})' if why else ''}")


def _create(path: Path, text: str, root: Path, report: Report) -> bool:
    """Writes ``path`` unless it exists; True when it did."""
    if path.exists():
        report.add("kept", path, root, "exists")
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    report.add("created", path, root)
    return True


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def _rewrite(path: Path, text: str) -> None:
    """Replaces ``path`` at once (a temporary file renamed over it), keeping its line
    endings and permissions."""
    if "\r\n" in _read(path):
        text = re.sub(r"(?<!\r)\n", "\r\n", text)
    tmp = path.with_name(f".{path.name}.django_bolt-init")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.chmod(tmp, path.stat().st_mode)
    os.replace(tmp, path)


def _module_file(root: Path, module: str) -> Path:
    base = root.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


_INSTALLED = re.compile(r"^INSTALLED_APPS\s*=\s*[\[(]", re.MULTILINE)
_URLCONF = re.compile(r"""^ROOT_URLCONF\s*=\s*["']([\w.]+)["']""", re.MULTILINE)


def _settings(path: Path, root: Path, report: Report) -> str | None:
    """Adds django_bolt to INSTALLED_APPS and a BOLT block; returns ROOT_URLCONF."""
    text = _read(path)
    urlconf = _URLCONF.search(text)
    if re.search(r"""["']django_bolt["']""", text):
        report.add("kept", path, root, "django_bolt is already installed")
        return urlconf.group(1) if urlconf else None
    found = _INSTALLED.search(text)
    if found is None:
        report.add("todo", path, root, 'add "django_bolt" to INSTALLED_APPS')
        return urlconf.group(1) if urlconf else None
    text = text[: found.end()] + '\n    "django_bolt",' + text[found.end() :]
    static_root = ""
    # Settings that import others (``from .base import *``) may have it from there.
    star = re.search(r"^from\s+\S+\s+import\s+\*", text, re.MULTILINE)
    if not star and not re.search(r"^STATIC_ROOT\s*[:=]", text, re.MULTILINE):
        if re.search(r"^BASE_DIR\s*=", text, re.MULTILINE):
            static_root = (
                'STATIC_ROOT = BASE_DIR / "staticfiles"  # collectstatic; runbolt serves it\n'
            )
        else:
            static_root = (
                "from pathlib import Path as _Path  # noqa: E402\n\n"
                'STATIC_ROOT = _Path(__file__).resolve().parent.parent / "staticfiles"\n'
            )
    if not re.search(r"^BOLT\s*[:=]", text, re.MULTILINE):
        text = text.rstrip("\r\n") + SETTINGS_BLOCK.format(static_root=static_root)
    elif static_root:
        text = text.rstrip("\r\n") + "\n\n" + static_root
    _rewrite(path, text)
    report.add("changed", path, root, "django_bolt installed, BOLT settings added")
    return urlconf.group(1) if urlconf else None


def _urls(path: Path, package: str, root: Path, report: Report) -> None:
    text = _read(path)
    if "api.urls" in text:
        report.add("kept", path, root, "an API is already mounted")
        return
    if not re.search(r"^urlpatterns\s*=", text, re.MULTILINE):
        report.add("todo", path, root, 'mount it: path("api/", api.urls)')
        return
    text = text.rstrip("\n") + (
        "\n\n# The API (django_bolt): typed routes under /api/, documentation at /api/docs.\n"
        "from django.urls import path as _path  # noqa: E402\n\n"
        f"from {package}.api import api  # noqa: E402\n\n"
        'urlpatterns += [_path("api/", api.urls)]\n'
    )
    _rewrite(path, text)
    report.add("changed", path, root, "API mounted at /api/")


def add_to_project(root: Path) -> Report:
    """Makes the project at ``root`` (the directory of its manage.py) ready for runbolt."""
    root = root.resolve()
    settings_module = settings_module_of(root)
    if settings_module is None:
        raise InitError(
            f"no manage.py naming DJANGO_SETTINGS_MODULE in {root}; run init in the "
            "project's directory, or `python -m django_bolt init <name>` for a new project"
        )
    package = settings_module.split(".")[0]
    settings_file = _module_file(root, settings_module)
    if not settings_file.is_file():
        raise InitError(f"{settings_module} ({settings_file}) is not a file init can edit")
    report = Report()
    urlconf = _settings(settings_file, root, report)
    api_file = root / package / "api.py"
    mount = 'mount an API: path("api/", api.urls) in the root URLconf'
    if "." not in settings_module or (root / package / "api").is_dir():
        # No project package to put api.py in, or an ``api`` package already there.
        report.add("todo", api_file, root, "write your API module; then " + mount)
        usable = False
    else:
        usable = _create(api_file, API, root, report) or bool(
            re.search(r"^api\s*=\s*BoltAPI\(", _read(api_file), re.MULTILINE)
        )
        if not usable:
            report.add("todo", api_file, root, f"it defines no api = BoltAPI(); {mount}")
    if urlconf and usable:
        urls_file = _module_file(root, urlconf)
        if urls_file.is_file():
            _urls(urls_file, package, root, report)
        else:
            report.add("todo", urls_file, root, mount)
    _create(root / "tests" / "__init__.py", "", root, report)
    _create(root / "tests" / "test_api.py", TEST.format(package=package), root, report)
    configured = _pytest_configured_in(root)
    if not (root / "pytest.ini").exists() and configured:
        report.add("kept", root / "pytest.ini", root, f"pytest is configured in {configured}")
    else:
        _create(root / "pytest.ini", PYTEST_INI.format(settings=settings_module), root, report)
    _create(root / "requirements.txt", REQUIREMENTS, root, report)
    _create(root / "Dockerfile", DOCKERFILE, root, report)
    _create(root / "deploy" / f"{package}.service", SYSTEMD.format(package=package), root, report)
    _create(root / "deploy" / "nginx.conf", NGINX.format(package=package), root, report)
    return report


# The sections pytest reads its configuration from, file by file (pytest.ini aside).
PYTEST_SECTIONS = {
    "pyproject.toml": "[tool.pytest.ini_options]",
    "tox.ini": "[pytest]",
    "setup.cfg": "[tool:pytest]",
}


def _pytest_configured_in(root: Path) -> str | None:
    """The file that configures pytest for the project, if one does."""
    for name, section in PYTEST_SECTIONS.items():
        path = root / name
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        if any(line.strip() == section for line in lines):
            return name
    return None


def new_project(name: str, directory: Path | None) -> tuple[Path, Report]:
    """``django-admin startproject`` and then ``add_to_project``."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    if not name.isidentifier():
        raise InitError(f"{name!r} is not a valid project name (a Python identifier)")
    target = (directory or Path(name)).resolve()
    if target.exists() and any(target.iterdir()):
        if (target / "manage.py").exists():
            raise InitError(f"{target} already holds a project: run init inside it")
        raise InitError(f"{target} exists and is not empty")
    target.mkdir(parents=True, exist_ok=True)
    # startproject refuses a name that imports; the directory just made would, as a
    # namespace package, when its parent is on sys.path (``python -m`` puts the current
    # directory there). Only modules from elsewhere count.
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != target.parent]
    importlib.invalidate_caches()
    try:
        call_command("startproject", name, str(target))
    except CommandError as exc:
        target.rmdir() if not any(target.iterdir()) else None
        raise InitError(str(exc)) from None
    finally:
        sys.path[:] = saved
    return target, add_to_project(target)
