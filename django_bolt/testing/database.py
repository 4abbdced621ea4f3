"""The test's database connection, shared with the server's threads.

Django's ``TestCase`` (and pytest-django's ``db`` fixture) run each test inside a
transaction on the test thread's connection, rolled back at the end. Handlers run on the
test server's threads, which would open connections of their own and see none of the
test's data. While a test client is open inside such a transaction, every thread uses the
test thread's connections instead (as Django's ``LiveServerTestCase`` does for in-memory
SQLite), and nothing closes them at the end of a request (as Django's test client keeps
``close_old_connections`` off). Requests through a client are answered one at a time, so
the connection is never used by two threads at once (requests of sharing clients are
serialized; a WebSocket handler still runs beside the test while its connection is open).
"""

from __future__ import annotations

import threading
from typing import Any

from ..server import connections as housekeeping


def in_test_transaction() -> bool:
    """True when the calling thread's connections are inside a test's atomic block."""
    from django.db import connections

    return any(conn.in_atomic_block for conn in connections.all(initialized_only=True))


class _Everyone:
    """Stands for ``connections._connections``: the same objects for every thread."""


#: One swap for the whole process, however many clients share and in whatever order
#: they close: the first to start makes it, the last to stop undoes it.
_swap_lock = threading.Lock()
_users = 0
_saved: Any = None
_shared: list[Any] = []

#: Requests of sharing clients, one at a time: two handlers never use the one connection
#: together (an ``AsyncTestClient`` under ``asyncio.gather``, say).
REQUESTS = threading.Lock()


class SharedConnections:
    def __init__(self) -> None:
        self.started = False

    def start(self) -> None:
        global _users, _saved
        from django.core import signals
        from django.db import close_old_connections, connections

        with _swap_lock:
            if _users == 0:
                everyone = _Everyone()
                for alias in connections:
                    conn = connections[alias]
                    conn.inc_thread_sharing()
                    _shared.append(conn)
                    setattr(everyone, alias, conn)
                _saved = connections._connections
                connections._connections = everyone
                signals.request_started.disconnect(close_old_connections)
                signals.request_finished.disconnect(close_old_connections)
                housekeeping.share(True)
            _users += 1
            self.started = True

    def stop(self) -> None:
        global _users, _saved
        from django.core import signals
        from django.db import close_old_connections, connections

        with _swap_lock:
            if not self.started:
                return
            self.started = False
            _users -= 1
            if _users > 0:
                return
            housekeeping.share(False)
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
            connections._connections = _saved
            _saved = None
            for conn in _shared:
                conn.dec_thread_sharing()
            _shared.clear()
