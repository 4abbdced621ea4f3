"""The process's shared store for rate limits and revocations: Redis when
``BOLT_REDIS_URL`` is set (so limits hold across processes and machines), else memory."""

from __future__ import annotations

import threading

from .._core import Backend
from ..conf import redis_prefix, redis_url

_lock = threading.Lock()
_store: Backend | None = None


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
