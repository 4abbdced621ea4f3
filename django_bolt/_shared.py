"""The process's shared store for rate limits and revocations: Redis when
``BOLT_REDIS_URL`` is set (so limits hold across processes and machines), else memory."""

from __future__ import annotations

import threading
from typing import Any

from ._core import Backend

_lock = threading.Lock()
_store: Any = None


def redis_url() -> str | None:
    from django.conf import settings

    return getattr(settings, "BOLT_REDIS_URL", None) or None


def redis_prefix() -> str:
    from django.conf import settings

    return getattr(settings, "BOLT_REDIS_PREFIX", "bolt:")


def shared_backend() -> Backend:
    """The store every route of this process uses (created once)."""
    global _store
    with _lock:
        if _store is None:
            url = redis_url()
            _store = Backend.redis(url, redis_prefix()) if url else Backend.local()
        return _store


def reset_shared_backend() -> None:
    """Forgets the store (tests switch BOLT_REDIS_URL between cases)."""
    global _store
    with _lock:
        _store = None
