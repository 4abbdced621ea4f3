"""The package as users get it: a wheel built by maturin, installed into a clean
virtualenv, serving a project ``init`` made; and an sdist that carries everything a build
needs (the documentation UIs included)."""

import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import httpx
import pytest

from django_bolt.testing.process import free_port
from tests.conftest import user_env, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


def maturin(*args, out):
    done = subprocess.run(
        [sys.executable, "-m", "maturin", *args, "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    return maturin("build", "--release", "-q", out=tmp_path_factory.mktemp("dist"))


def test_the_wheel_installs_and_serves_a_new_project(dist, tmp_path):
    (wheel,) = dist.glob("*.whl")
    assert wheel.stat().st_size < 12 * 1024 * 1024  # no debug info
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    clean = user_env()

    def run(*args, cwd=tmp_path):
        done = subprocess.run([py, *args], cwd=cwd, env=clean, capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        return done.stdout

    run("-m", "pip", "install", "-q", str(wheel), "pytest", "pytest-django", "httpx")
    # The installed package, not this checkout.
    where = run("-c", "import django_bolt, django_bolt._core; print(django_bolt.__file__)")
    assert where.strip().startswith(str(env_dir))
    assert run("-m", "django_bolt.openapi.assets", "--check").startswith("documentation UI")
    run(
        "-c",
        "import importlib.resources as r; assert r.files('django_bolt').joinpath('py.typed').is_file()",
    )
    run("-m", "django_bolt", "init", "webshop")
    project = tmp_path / "webshop"
    assert "1 passed" in run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    run("manage.py", "migrate", "-v0", cwd=project)
    run("manage.py", "collectstatic", "--noinput", "-v0", cwd=project)
    settings = project / "webshop" / "settings.py"
    settings.write_text(
        settings.read_text().replace("DEBUG = True", "DEBUG = False")
        + '\nALLOWED_HOSTS = ["127.0.0.1"]\n'
    )
    port = free_port("127.0.0.1")
    server = subprocess.Popen(
        [py, "manage.py", "runbolt", "--port", str(port)],
        cwd=project,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up():
            try:
                return httpx.get(f"{url}/api/hello").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout=30)
        assert httpx.get(f"{url}/api/hello?name=Wheel").json() == {"message": "Hello, Wheel!"}
        docs = httpx.get(f"{url}/api/docs")
        assert docs.status_code == 200
        bundle = httpx.get(f"{url}/api/docs/assets/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and len(bundle.content) > 1_000_000
        login = httpx.get(f"{url}/admin/login/")
        assert login.status_code == 200
        css = httpx.get(f"{url}/static/admin/css/base.css")
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output


def test_the_sdist_carries_the_documentation_uis(tmp_path):
    maturin("sdist", out=tmp_path)
    (sdist,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {Path(n).relative_to(Path(n).parts[0]).as_posix() for n in tar.getnames()}
    for needed in (
        "django_bolt/openapi/static/swagger-ui-bundle.js",
        "django_bolt/openapi/static/THIRD_PARTY.md",
        "django_bolt/py.typed",
        "Cargo.toml",
        "Cargo.lock",
        "rust/lib.rs",
    ):
        assert needed in names, needed
