"""Python logging for what the Rust side reports (``django_bolt.server``,
``django_bolt.store``...) and for access lines when the project's LOGGING configures
``django_bolt.access``: one thread takes the records Rust queued, in batches, and hands
them to the loggers."""

from __future__ import annotations

import logging
import threading

from .._core import attach_logging, detach_logging, take_log_records


class LogDrain:
    """While running, Rust's records go through Python logging instead of stderr."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bolt-logs", daemon=True)

    def start(self) -> LogDrain:
        attach_logging()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._emit(take_log_records(0.25))

    @staticmethod
    def _emit(records: list[tuple[str, int, str]]) -> None:
        for name, level, message in records:
            try:
                logging.getLogger(name).log(level, "%s", message)
            except Exception:  # a failing handler must not stop the others' records
                logging.getLogger("django_bolt").exception("a log handler failed")

    def stop(self) -> None:
        """Back to stderr; what is still queued is logged first."""
        self._stop.set()
        self._thread.join(2.0)
        detach_logging()
        while records := take_log_records(0.0):
            self._emit(records)


def set_log_level(level: str) -> None:
    """``--log-level``: the django_bolt loggers at that level, with a stderr handler when
    the project's LOGGING gives them none. Applied again once the project's ASGI
    application is loaded (its ``django.setup()`` configures logging anew)."""
    bolt = logging.getLogger("django_bolt")
    bolt.setLevel(level.upper())
    if not bolt.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        bolt.addHandler(handler)
        bolt.propagate = False
