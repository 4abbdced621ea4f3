"""``runbolt --processes N``: N forked workers share the port (SO_REUSEPORT); a worker
that dies is replaced; SIGTERM/SIGINT is passed on and the supervisor exits 0 once every
worker has drained."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable

logger = logging.getLogger("django_bolt")

RESPAWN_BACKOFF = 1.0


def supervise(processes: int, run_worker: Callable[[int], int], shutdown_timeout: float) -> int:
    children: dict[int, int] = {}  # pid -> slot
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # child
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                code = run_worker(slot)
            except BaseException:
                logger.exception("worker %d crashed", slot)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = slot

    def on_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    for slot in range(processes):
        spawn(slot)
    deadline: float | None = None
    while children:
        if stopping and deadline is None:
            deadline = time.monotonic() + shutdown_timeout + 5
        try:
            pid, status = os.waitpid(-1, os.WNOHANG if stopping else 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == 0:  # stopping, nobody exited yet
            if deadline is not None and time.monotonic() > deadline:
                for child in list(children):
                    logger.error("worker pid %d did not stop in time; killing it", child)
                    try:
                        os.kill(child, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                deadline = float("inf")
            time.sleep(0.05)
            continue
        slot = children.pop(pid, None)
        if slot is None or stopping:
            continue
        code = os.waitstatus_to_exitcode(status)
        logger.warning("worker %d (pid %d) exited with %s; starting a new one", slot, pid, code)
        print(
            f"worker {slot} (pid {pid}) exited with {code}; respawning", file=sys.stderr, flush=True
        )
        time.sleep(RESPAWN_BACKOFF)
        if not stopping:
            spawn(slot)
    return 0
