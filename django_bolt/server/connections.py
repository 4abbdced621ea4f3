"""Django's database housekeeping in the server's threads: connections past their
CONN_MAX_AGE closed at the end of a request (``close_old_connections``, as Django's
handlers do), a worker thread's connections closed when it ends.

A test client running inside a test's transaction shares that test's connection with
the server's threads (``django_bolt.testing.database``); while it does, nothing here
closes a connection, as Django's own test client keeps ``close_old_connections`` off."""

from __future__ import annotations

import logging

logger = logging.getLogger("django_bolt")

_shared = 0
_closing = False


def share(on: bool) -> None:
    """Counts the test clients sharing a test's connection (closing waits for none)."""
    global _shared
    _shared = max(0, _shared + (1 if on else -1))


def shared() -> bool:
    return _shared > 0


def close_old() -> None:
    if _shared:
        return
    from django.db import close_old_connections

    close_old_connections()


async def aclose_old() -> None:
    """``close_old`` in the thread async handlers use for the database. Handlers that end
    while one such call is on its way share it, so thousands of WebSocket handlers ending
    together cost a few thread hops, not thousands."""
    global _closing
    if _closing or _shared:
        return
    from asgiref.sync import sync_to_async

    _closing = True
    try:
        await sync_to_async(close_old)()
    except Exception:
        logger.exception("closing old database connections failed")
    finally:
        _closing = False


def close_thread() -> None:
    """A worker thread that ends closes its database connections (they are its own).
    Django never closes a connection to an in-memory SQLite database (that would drop the
    database); a thread's own one is closed here all the same, since the database lives
    on in the connections of other threads (a test's)."""
    if _shared:
        return
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    try:
        for conn in connections.all(initialized_only=True):
            if conn.vendor == "sqlite" and conn.is_in_memory_db() and conn.connection:
                BaseDatabaseWrapper.close(conn)
        connections.close_all()
    except Exception:
        logger.exception("closing a worker thread's database connections failed")
