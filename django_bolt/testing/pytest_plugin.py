"""pytest plugin (registered through the ``pytest11`` entry point): ``bolt_server``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from .process import run_bolt


@pytest.fixture
def bolt_server() -> Callable[..., Any]:
    """Factory for a real ``runbolt`` subprocess on a free port:
    ``with bolt_server("--processes", "2") as server: httpx.get(server.url + "/api/x")``.
    ``manage.py`` is taken from ``BOLT_MANAGE_PY`` or the current directory."""

    def start(*args: str, **kwargs: Any) -> Any:
        kwargs.setdefault("manage_py", os.environ.get("BOLT_MANAGE_PY", "manage.py"))
        return run_bolt(*args, **kwargs)

    return start
