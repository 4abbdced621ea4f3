"""``/readyz`` needs the database to answer: with ``--metrics-port`` each worker checks
every configured database on a thread of its own every few seconds and records the last
time all answered. A database that hangs leaves that time behind, and the worker stops
counting as ready without any request waiting on it."""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger("django_bolt")

#: Seconds between two checks (/readyz allows 15 since the last one that answered).
EVERY = 5.0


def check_databases() -> None:
    """Runs ``SELECT 1`` on every configured database (raises if one does not answer)."""
    from django.db import connections

    try:
        for alias in connections:
            connection = connections[alias]
            if connection.settings_dict.get("ENGINE") == "django.db.backends.dummy":
                continue
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
    finally:
        connections.close_all()


def probe_database(metrics: Any, slot: int, stopped: threading.Event) -> threading.Thread:
    """Starts the checking thread of this worker; it ends once ``stopped`` is set."""

    def run() -> None:
        failing = False
        while True:
            try:
                check_databases()
            except Exception as exc:
                if not failing:
                    logger.warning("readiness: the database does not answer: %s", exc)
                failing = True
            else:
                if failing:
                    logger.info("readiness: the database answers again")
                failing = False
                metrics.database_answered(slot)
            if stopped.wait(EVERY):
                return

    thread = threading.Thread(target=run, name="bolt-readiness", daemon=True)
    thread.start()
    return thread
