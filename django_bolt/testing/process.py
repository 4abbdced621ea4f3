"""A real ``manage.py runbolt`` subprocess on a free port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from .databases import ENV


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class BoltProcess:
    """A running ``manage.py runbolt`` subprocess."""

    def __init__(
        self, proc: subprocess.Popen[str], host: str, port: int, scheme: str = "http"
    ) -> None:
        self.proc = proc
        self.host = host
        self.port = port
        self.url = f"{scheme}://{host}:{port}"
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    @property
    def log(self) -> str:
        return "".join(self.output)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.1)
                raise RuntimeError(f"runbolt exited with {self.proc.returncode}:\n{self.log}")
            # The socket is opened before the site is compiled: it accepts connections
            # from then on, but the server serves once its banner is out.
            if " serving " in self.log:
                try:
                    with socket.create_connection((self.host, self.port), timeout=0.5):
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise TimeoutError(f"runbolt did not listen on {self.port} within {timeout}s:\n{self.log}")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``; then whatever is
        left of its process group (workers, a reloaded generation) is killed too."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._reader.join(5)
        if self.proc.stdout is not None and not self._reader.is_alive():
            self.proc.stdout.close()
        return self.proc.returncode


def served_databases_env() -> dict[str, str]:
    """The environment that makes a runbolt subprocess use this process's databases as
    they are now: the test databases once pytest-django or Django's runner made them.
    An in-memory SQLite database cannot be reached from another process: refused with
    what to set instead."""
    import json

    from django.db import connections

    chosen: dict[str, dict[str, object]] = {}
    for alias in connections:
        conn = connections[alias]
        name = conn.settings_dict.get("NAME")
        if conn.vendor == "sqlite" and conn.is_in_memory_db():
            raise RuntimeError(
                f"the {alias!r} test database is SQLite in memory, which a runbolt process "
                "cannot open: give it a file, e.g. DATABASES['" + alias + "']['TEST'] = "
                "{'NAME': BASE_DIR / 'test_db.sqlite3'}"
            )
        chosen[alias] = {"NAME": str(name) if name is not None else None}
    return {ENV: json.dumps(chosen)}


@contextlib.contextmanager
def run_bolt(
    *args: str,
    manage_py: str | None = None,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    cwd: str | None = None,
    timeout: float = 30.0,
    test_database: bool = False,
) -> Iterator[BoltProcess]:
    """Starts ``manage.py runbolt`` on a free port, waits until it serves, and stops it
    with SIGTERM on exit. With ``test_database`` it serves this process's databases (the
    test databases), not the ones its settings name."""
    port = port or free_port(host)
    if test_database:
        env = {**served_databases_env(), **(env or {})}
    manage_py = manage_py or os.environ.get("BOLT_MANAGE_PY") or "manage.py"
    cmd = [sys.executable, "-u", manage_py, "runbolt", "--host", host, "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stop() leaves nothing behind
    )
    server = BoltProcess(proc, host, port, "https" if "--ssl-certfile" in args else "http")
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()
