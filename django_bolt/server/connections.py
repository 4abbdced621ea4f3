"""Django's database housekeeping in the server's threads: connections past their
CONN_MAX_AGE closed at the end of a request (``close_old_connections``, as Django's
handlers do), a worker thread's connections closed when it ends.

A test client running inside a test's transaction shares that test's connection with
the server's threads (``django_bolt.testing.database``); while it does, nothing here
closes a connection, as Django's own test client keeps ``close_old_connections`` off."""

from __future__ import annotations

import logging
from typing import Any

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


def take_thread_connections() -> dict[str, Any]:
    """Takes the calling thread's database connections out of it (the thread opens new
    ones when it needs them): a parked stream carries them to whichever thread resumes
    it. None are taken while a test client shares one connection set between threads."""
    if _shared:
        return {}
    from django.db import connections

    storage = connections._connections
    taken = {}
    for alias in connections:
        conn = getattr(storage, alias, None)
        if conn is not None:
            delattr(storage, alias)
            taken[alias] = conn
    return taken


def install_connections(carried: dict[str, Any]) -> dict[str, Any]:
    """Makes ``carried`` the calling thread's connections; returns the thread's own."""
    own = take_thread_connections()
    if carried:
        from django.db import connections

        for alias, conn in carried.items():
            setattr(connections._connections, alias, conn)
    return own


def release_connections(carried: dict[str, Any]) -> None:
    """Connections a stream carried, once it has ended: closed (no thread owns them)."""
    for conn in carried.values():
        try:
            conn.close()
        except Exception:
            logger.exception("closing a streamed response's database connection failed")
        finally:
            if conn._thread_sharing_count > 0:
                conn.dec_thread_sharing()
