"""pytest plugin (registered through the ``pytest11`` entry point): ``bolt_server``.

It imports nothing of the testing helpers until the fixture is used, so projects whose
test environment lacks their dependencies (httpx) still start pytest."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def bolt_server(transactional_db: Any) -> Callable[..., Any]:
    """Factory for a real ``runbolt`` subprocess on a free port, serving the test
    database: ``with bolt_server("--processes", "2") as server: httpx.get(server.url +
    "/api/x")``. The test's rows are committed (the fixture makes the test transactional,
    as pytest-django's ``transactional_db``) so the server's processes see them; the
    database is emptied after the test as usual. ``manage.py`` is taken from
    ``BOLT_MANAGE_PY`` or the current directory."""
    from .testing.process import run_bolt

    def start(*args: str, **kwargs: Any) -> Any:
        kwargs.setdefault("manage_py", os.environ.get("BOLT_MANAGE_PY", "manage.py"))
        kwargs.setdefault("test_database", True)
        return run_bolt(*args, **kwargs)

    return start
