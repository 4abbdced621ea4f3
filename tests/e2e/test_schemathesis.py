"""Schemathesis against our own OpenAPI documents, through a real runbolt: every
documented operation with generated valid and invalid requests; no 500s, every status
code, content type and body as documented, invalid requests refused."""

import subprocess
import sys

import pytest

from tests.conftest import requires_module

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(600),
    requires_module("schemathesis"),
]

# Multipart values are all text: "an integer where a string is documented" is still a
# string there, so those operations get valid data only.
MULTIPART = ["/api/upload", "/api/documents"]


@pytest.fixture(scope="module")
def server(e2e_db):
    from django_bolt.testing import run_bolt
    from tests.conftest import MANAGE_PY

    # Fuzzed queries run long: lift gunicorn's request-line limit, which is not part of
    # any operation's document.
    with run_bolt(
        "--limit-request-line",
        "1000000",
        manage_py=str(MANAGE_PY),
        env={"BOLT_SQLITE_PATH": str(e2e_db)},
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Where schemathesis keeps its cache: outside the repository."""
    return tmp_path_factory.mktemp("schemathesis")


def schemathesis(url: str, *options: str, cwd) -> None:
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        url,
        "--checks",
        "all",
        "--max-examples",
        "30",
        "--seed",
        "20261122",
        "--workers",
        "1",
        "--no-color",
        *options,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=540, cwd=cwd)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]


def test_api_document_holds_for_every_operation(server, workdir):
    excluded = [arg for path in MULTIPART for arg in ("--exclude-path", path)]
    schemathesis(f"{server.url}/api/openapi.json", "--mode", "all", *excluded, cwd=workdir)


def test_multipart_operations_with_valid_data(server, workdir):
    included = [arg for path in MULTIPART for arg in ("--include-path", path)]
    schemathesis(f"{server.url}/api/openapi.json", "--mode", "positive", *included, cwd=workdir)


def test_protected_api_document(server, workdir):
    schemathesis(f"{server.url}/secure/openapi.json", "--mode", "all", cwd=workdir)
