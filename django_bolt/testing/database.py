"""The test's database connection, shared with the server's threads.

Django's ``TestCase`` (and pytest-django's ``db`` fixture) run each test inside a
transaction on the test thread's connection, rolled back at the end. Handlers run on the
test server's threads, which would open connections of their own and see none of the
test's data. While a test client is open inside such a transaction, every thread uses the
test thread's connections instead (as Django's ``LiveServerTestCase`` does for in-memory
SQLite), and nothing closes them at the end of a request (as Django's test client keeps
``close_old_connections`` off). Requests through a client are answered one at a time, so
the connection is never used by two threads at once.
"""

from __future__ import annotations

from typing import Any

from ..server import connections as housekeeping


def in_test_transaction() -> bool:
    """True when the calling thread's connections are inside a test's atomic block."""
    from django.db import connections

    return any(conn.in_atomic_block for conn in connections.all(initialized_only=True))


class _Everyone:
    """Stands for ``connections._connections``: the same objects for every thread."""


class SharedConnections:
    def __init__(self) -> None:
        self._saved: Any = None
        self._shared: list[Any] = []

    def start(self) -> None:
        from django.core import signals
        from django.db import close_old_connections, connections

        everyone = _Everyone()
        for alias in connections:
            conn = connections[alias]
            conn.inc_thread_sharing()
            self._shared.append(conn)
            setattr(everyone, alias, conn)
        self._saved = connections._connections
        connections._connections = everyone
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        housekeeping.share(True)

    def stop(self) -> None:
        from django.core import signals
        from django.db import close_old_connections, connections

        if self._saved is None:
            return
        housekeeping.share(False)
        if not housekeeping.shared():
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        connections._connections = self._saved
        self._saved = None
        for conn in self._shared:
            conn.dec_thread_sharing()
        self._shared.clear()
