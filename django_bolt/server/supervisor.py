"""``runbolt --processes N`` (or with a recycling budget): the listening socket is opened
once, then N forked workers accept from it. A worker that has spent its budget
(``--max-requests``, ``--max-rss``) finishes what it has and exits 0, and a fresh one
takes its place at once: connections wait in the shared queue meanwhile, so none fails.
A worker that crashes is replaced after a pause; one that keeps failing at start makes
the supervisor back off, then give up with exit status 1. SIGTTIN / SIGTTOU add and
remove a worker; SIGTERM / SIGINT are passed on, and the supervisor exits 0 once every
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
#: A worker that exits with an error sooner than this after starting failed to start.
BOOT_WINDOW = 5.0
#: Failed starts in a row after which the supervisor gives up.
BOOT_ATTEMPTS = 5


def _say(message: str) -> None:
    print(f"django_bolt supervisor: {message}", file=sys.stderr, flush=True)


def supervise(processes: int, run_worker: Callable[[int], int], shutdown_timeout: float) -> int:
    children: dict[int, tuple[int, float]] = {}  # pid -> (slot, started)
    state = {"stopping": False, "wanted": processes, "failed_starts": 0}

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # child
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGTTIN, signal.SIGTTOU):
                signal.signal(signum, signal.SIG_DFL)
            code = 1
            try:
                code = run_worker(slot)
            except BaseException:
                logger.exception("worker %d crashed", slot)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = (slot, time.monotonic())

    def terminate_all() -> None:
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def on_stop(signum: int, frame: object) -> None:
        state["stopping"] = True
        terminate_all()

    def on_more(signum: int, frame: object) -> None:
        if state["stopping"]:
            return
        state["wanted"] += 1
        _say(f"SIGTTIN: {state['wanted']} workers")
        spawn(state["wanted"] - 1)

    def on_fewer(signum: int, frame: object) -> None:
        if state["stopping"] or state["wanted"] <= 1:
            return
        state["wanted"] -= 1
        _say(f"SIGTTOU: {state['wanted']} workers")
        for pid, (slot, _) in list(children.items()):
            if slot >= state["wanted"]:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGTTIN, on_more)
    signal.signal(signal.SIGTTOU, on_fewer)
    for slot in range(processes):
        spawn(slot)
    deadline: float | None = None
    respawns: list[tuple[float, int]] = []  # (when, slot) of crashed workers
    code = 0
    # Polled rather than blocking, so that an exit is seen when it happens (a failed start
    # is told from a crash by how long the worker lived) while respawns wait their turn.
    while children or (respawns and not state["stopping"]):
        if state["stopping"] and deadline is None:
            deadline = time.monotonic() + shutdown_timeout + 5
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid, status = 0, 0
        now = time.monotonic()
        if pid == 0:
            if deadline is not None and now > deadline:
                for child in list(children):
                    logger.error("worker pid %d did not stop in time; killing it", child)
                    try:
                        os.kill(child, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                deadline = float("inf")
            if not state["stopping"]:
                for due, slot in [r for r in respawns if r[0] <= now]:
                    respawns.remove((due, slot))
                    spawn(slot)
            time.sleep(0.05)
            continue
        slot, started = children.pop(pid, (None, 0.0))
        if slot is None or state["stopping"] or slot >= state["wanted"]:
            continue
        exit_code = os.waitstatus_to_exitcode(status)
        if exit_code == 0:  # recycled: its budget was spent
            state["failed_starts"] = 0
            spawn(slot)
            continue
        if now - started < BOOT_WINDOW:
            state["failed_starts"] += 1
        else:
            state["failed_starts"] = 0
        failed = state["failed_starts"]
        if failed >= BOOT_ATTEMPTS:
            _say(
                f"worker {slot} failed to start {failed} times in a row (last exit status "
                f"{exit_code}; its error is above); stopping"
            )
            state["stopping"] = True
            terminate_all()
            code = 1
            continue
        pause = min(RESPAWN_BACKOFF * 2 ** max(failed - 1, 0), 16.0)
        _say(f"worker {slot} (pid {pid}) exited with {exit_code}; a new one in {pause:.0f}s")
        respawns.append((now + pause, slot))
    return code
