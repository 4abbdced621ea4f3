"""A worker's budget (``--max-requests`` with its jitter, ``--max-rss``): once spent, the
worker stops accepting, finishes what it has in flight and exits 0, and the supervisor
starts a fresh one in its place."""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("django_bolt")

CHECK_EVERY = 0.2  # seconds


def resident_mib() -> float:
    """This process's resident memory in MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def watch_budget(
    server: Any, config: Any, stop: Callable[[], None], stopped: threading.Event
) -> None:
    """Starts a thread that calls ``stop`` once the worker's budget is spent."""
    budget = config.max_requests
    if budget and config.max_requests_jitter:
        budget += random.randint(0, config.max_requests_jitter)
    if not budget and not config.max_rss:
        return

    def watch() -> None:
        while not stopped.wait(CHECK_EVERY):
            reason = None
            if budget and server.requests >= budget:
                reason = f"{server.requests} requests served (budget {budget})"
            elif config.max_rss and (rss := resident_mib()) > config.max_rss:
                reason = f"{rss:.0f} MiB resident (limit {config.max_rss})"
            if reason:
                logger.warning("worker pid %d is replaced: %s", os.getpid(), reason)
                stop()
                return

    threading.Thread(target=watch, name="bolt-budget", daemon=True).start()
