"""``runbolt --processes N`` (or with a recycling budget): the listening socket is opened
once, then N forked workers accept from it. A worker that has spent its budget
(``--max-requests``, ``--max-rss``) finishes what it has and exits 0, and a fresh one
takes its place at once: connections wait in the shared queue meanwhile, so none fails.
A worker that crashes is replaced after a pause; one that keeps failing at start makes
the supervisor back off, then give up with exit status 1. SIGTTIN / SIGTTOU add and
remove a worker; SIGTERM / SIGINT are passed on, and the supervisor exits 0 once every
worker has drained.

SIGHUP reloads: a new generation of workers starts in fresh interpreters (new code, new
settings, renewed certificates) and accepts beside the old one; once every new worker
serves, the old ones are told to finish their requests and exit. A new generation that
fails to start is stopped and the old one keeps serving."""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import signal
import sys
import time
from typing import Any, Protocol

from .listen import sd_notify, watchdog_interval

logger = logging.getLogger("django_bolt")

RESPAWN_BACKOFF = 1.0
#: A worker that exits with an error sooner than this after starting failed to start.
BOOT_WINDOW = 5.0
#: Failed starts in a row after which the supervisor gives up.
BOOT_ATTEMPTS = 5
#: Seconds a new generation gets to serve after SIGHUP before the reload is abandoned.
RELOAD_TIMEOUT = 60.0


class Workers(Protocol):
    """How the supervisor starts a worker in slot ``slot``. Either way the worker writes
    its pid and a newline to ``ready_fd`` once it serves."""

    def run(self, slot: int, ready_fd: int) -> int:
        """Serves in this (just forked) process; returns the exit status."""

    def command(self, slot: int, ready_fd: int) -> tuple[list[str], dict[str, str], list[int]]:
        """A fresh interpreter's argv, environment and the descriptors it inherits."""


@dataclasses.dataclass
class _Child:
    slot: int
    generation: int
    started: float
    ready: bool = False


def die_with(parent: int) -> None:
    """A worker drains and exits when its supervisor dies, however it dies (SIGKILL
    included): Linux sends it SIGTERM then (the setting survives exec). A supervisor
    already gone by now is noticed at once."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != parent:
        os._exit(0)


def _say(message: str) -> None:
    print(f"django_bolt supervisor: {message}", file=sys.stderr, flush=True)


def _kill(pid: int, signum: int = signal.SIGTERM) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def supervise(
    processes: int, workers: Workers, shutdown_timeout: float, metrics: Any = None
) -> int:
    """Runs the workers until stopped; returns the exit status. ``metrics`` (the shared
    metrics region) hears when the first workers all serve, when the server stops, and
    of every worker replaced."""
    return _Supervisor(processes, workers, shutdown_timeout, metrics).run()


class _Supervisor:
    def __init__(
        self, processes: int, workers: Workers, shutdown_timeout: float, metrics: Any
    ) -> None:
        self.workers = workers
        self.metrics = metrics
        self.started = False
        self.shutdown_timeout = shutdown_timeout
        self.children: dict[int, _Child] = {}
        self.wanted = processes
        self.stopping = False
        self.failed_starts = 0
        #: The generation that serves; a reload starts generation + 1.
        self.generation = 0
        #: Once a reload has succeeded, workers are fresh interpreters: a fork of this
        #: process would bring back the code it started with.
        self.fresh = False
        self.reload_asked = False
        #: +1 (SIGTTIN) / -1 (SIGTTOU) in arrival order, applied by the loop.
        self.resizes: collections.deque[int] = collections.deque()
        self.reload_deadline: float | None = None
        self.respawns: list[tuple[float, int]] = []  # (when, slot) of crashed workers
        self.code = 0
        self.ready_r, self.ready_w = os.pipe()
        os.set_blocking(self.ready_r, False)
        self.unread = b""

    # -- starting and stopping workers ----------------------------------------------------
    def spawn(self, slot: int, generation: int, fresh: bool) -> None:
        command = self.workers.command(slot, self.ready_w) if fresh else None
        supervisor = os.getpid()
        pid = os.fork()
        if pid == 0:  # child
            die_with(supervisor)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGTTIN, signal.SIGTTOU):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloading is the supervisor's
            code = 1
            try:
                os.close(self.ready_r)
                if command is not None:
                    argv, env, fds = command
                    for fd in fds:
                        os.set_inheritable(fd, True)
                    os.execve(argv[0], argv, env)
                code = self.workers.run(slot, self.ready_w)
            except BaseException:
                logger.exception("worker %d crashed", slot)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.children[pid] = _Child(slot, generation, time.monotonic())

    def terminate(self, which: object = None) -> None:
        for pid, child in list(self.children.items()):
            if which is None or which == child.generation:
                _kill(pid)

    # -- signals ------------------------------------------------------------------------
    def on_stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        if self.metrics is not None:
            self.metrics.set_stopping()
        self.terminate()

    # A handler only records the request: the loop acts on it. A handler that forked
    # itself could be interrupted by the next signal between the fork and the new child's
    # registration, and that signal would miss the child.
    def on_more(self, signum: int, frame: object) -> None:
        self.resizes.append(1)

    def on_fewer(self, signum: int, frame: object) -> None:
        self.resizes.append(-1)

    def resize(self) -> None:
        while self.resizes:
            if self.resizes.popleft() > 0:
                self.wanted += 1
                _say(f"SIGTTIN: {self.wanted} workers")
                self.spawn(self.wanted - 1, self.generation, self.fresh)
            elif self.wanted > 1:
                self.wanted -= 1
                _say(f"SIGTTOU: {self.wanted} workers")
                for pid, child in list(self.children.items()):
                    if child.generation == self.generation and child.slot >= self.wanted:
                        _kill(pid)

    def on_reload(self, signum: int, frame: object) -> None:
        self.reload_asked = True

    # -- reloading ------------------------------------------------------------------------
    def start_reload(self) -> None:
        self.reload_asked = False
        if self.reload_deadline is not None:
            _say("SIGHUP: a reload is already under way")
            return
        _say(f"SIGHUP: starting {self.wanted} new workers")
        self.respawns.clear()
        for slot in range(self.wanted):
            self.spawn(slot, self.generation + 1, fresh=True)
        self.reload_deadline = time.monotonic() + RELOAD_TIMEOUT

    def check_reload(self, now: float) -> None:
        new = [c for c in self.children.values() if c.generation > self.generation]
        if len(new) >= self.wanted and all(c.ready for c in new):
            old = self.generation
            self.generation += 1
            self.fresh = True
            self.failed_starts = 0
            self.reload_deadline = None
            self.terminate(old)
            _say(f"reloaded: {len(new)} new workers serve; the old ones finish and exit")
        elif self.reload_deadline is not None and now > self.reload_deadline:
            self.abandon_reload(f"the new workers did not serve within {RELOAD_TIMEOUT:.0f}s")

    def abandon_reload(self, why: str) -> None:
        self.terminate(self.generation + 1)
        self.reload_deadline = None
        _say(f"reload abandoned ({why}); the running workers keep serving")

    def read_ready(self) -> None:
        try:
            while chunk := os.read(self.ready_r, 4096):
                self.unread += chunk
        except BlockingIOError:
            pass
        *lines, self.unread = self.unread.split(b"\n")
        for line in lines:
            child = self.children.get(int(line or 0))
            if child is not None:
                child.ready = True
        if not self.started and self.metrics is not None:
            first = [c for c in self.children.values() if c.generation == 0]
            if len(first) >= self.wanted and all(c.ready for c in first):
                self.started = True
                self.metrics.set_started()

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.on_stop)
        signal.signal(signal.SIGINT, self.on_stop)
        signal.signal(signal.SIGTTIN, self.on_more)
        signal.signal(signal.SIGTTOU, self.on_fewer)
        signal.signal(signal.SIGHUP, self.on_reload)
        for slot in range(self.wanted):
            self.spawn(slot, self.generation, fresh=False)
        deadline: float | None = None
        watchdog = watchdog_interval()
        fed = 0.0
        # Polled rather than blocking, so that an exit is seen when it happens (a failed
        # start is told from a crash by how long the worker lived) while respawns wait
        # their turn.
        while self.children or (self.respawns and not self.stopping):
            if self.stopping and deadline is None:
                deadline = time.monotonic() + self.shutdown_timeout + 5
            self.read_ready()
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, status = 0, 0
            now = time.monotonic()
            if pid != 0:
                self.reaped(pid, status, now)
                continue
            if deadline is not None and now > deadline:
                for child in list(self.children):
                    logger.error("worker pid %d did not stop in time; killing it", child)
                    _kill(child, signal.SIGKILL)
                deadline = float("inf")
            if watchdog is not None and now - fed >= watchdog and self.children:
                sd_notify("WATCHDOG=1")  # this loop turns and has workers
                fed = now
            if not self.stopping:
                self.resize()
                if self.reload_asked:
                    self.start_reload()
                if self.reload_deadline is not None:
                    self.check_reload(now)
                for due, slot in [r for r in self.respawns if r[0] <= now]:
                    self.respawns.remove((due, slot))
                    self.replace(slot)
            time.sleep(0.05)
        return self.code

    def replace(self, slot: int) -> None:
        if self.metrics is not None:
            self.metrics.count_restart()
        self.spawn(slot, self.generation, self.fresh)

    def reaped(self, pid: int, status: int, now: float) -> None:
        if self.metrics is not None:
            self.metrics.release(pid)
        child = self.children.pop(pid, None)
        if child is None or self.stopping:
            return
        exit_code = os.waitstatus_to_exitcode(status)
        if child.generation > self.generation:
            if self.reload_deadline is not None:
                self.abandon_reload(
                    f"a new worker exited with status {exit_code}; its error is above"
                )
            return
        if child.generation < self.generation or child.slot >= self.wanted:
            return  # replaced by a reload, or removed by SIGTTOU
        if exit_code == 0:  # recycled: its budget was spent
            self.failed_starts = 0
            self.replace(child.slot)
            return
        if now - child.started < BOOT_WINDOW:
            self.failed_starts += 1
        else:
            self.failed_starts = 0
        failed = self.failed_starts
        if failed >= BOOT_ATTEMPTS:
            _say(
                f"worker {child.slot} failed to start {failed} times in a row (last exit "
                f"status {exit_code}; its error is above); stopping"
            )
            self.stopping = True
            self.terminate()
            self.code = 1
            return
        pause = min(RESPAWN_BACKOFF * 2 ** max(failed - 1, 0), 16.0)
        _say(f"worker {child.slot} (pid {pid}) exited with {exit_code}; a new one in {pause:.0f}s")
        self.respawns.append((now + pause, child.slot))
