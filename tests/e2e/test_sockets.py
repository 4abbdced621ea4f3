"""runbolt on other sockets: a Unix socket (--uds), an inherited descriptor (--fd),
systemd socket activation (LISTEN_FDS) and readiness notification (NOTIFY_SOCKET)."""

import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def start(args, e2e_db, prefix=(), **kwargs):
    from tests.conftest import MANAGE_PY

    env = {**os.environ, "BOLT_SQLITE_PATH": str(e2e_db), **kwargs.pop("env", {})}
    return subprocess.Popen(
        [*prefix, sys.executable, str(MANAGE_PY), "runbolt", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def wait_serving(client, path="/api/hello", timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.get(path)
        except httpx.TransportError:
            assert time.monotonic() < deadline, "not serving in time"
            time.sleep(0.05)


def wait_unix(path, timeout=30.0):
    """Until something accepts on the Unix socket at ``path`` (each probe closed)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(path))
                return
            except OSError:
                assert time.monotonic() < deadline, "not serving in time"
        time.sleep(0.05)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def test_a_unix_socket(e2e_db, tmp_path):
    path = tmp_path / "bolt.sock"
    proc = start(["--uds", str(path), "--uds-mode", "600"], e2e_db)
    wait_unix(path)
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, base_url="http://bolt") as client:
        assert client.get("/api/hello").json() == {"message": "Hello, World!"}
        assert client.get("/django/plain/").text == "django view: GET /django/plain/"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = start(["--uds", str(path)], e2e_db)
    out, _ = second.communicate(timeout=60)
    assert second.returncode != 0
    assert f"cannot listen on {path}: another server is serving it" in out
    assert f"serving unix:{path}" in stop(proc)


def test_an_inherited_descriptor(e2e_db):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    fd = listener.fileno()
    proc = start(["--fd", str(fd)], e2e_db, pass_fds=(fd,))
    listener.close()  # runbolt holds its own copy
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        assert wait_serving(client).status_code == 200
    assert f"serving http://127.0.0.1:{port}/" in stop(proc)


def test_systemd_socket_activation_and_notification(e2e_db, tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    notify_path = str(tmp_path / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(30)

    def as_descriptor_3():
        os.dup2(listener.fileno(), 3)

    # As systemd does: the socket as descriptor 3, LISTEN_PID naming the process that
    # execs runbolt (the shell's own pid, kept by exec).
    proc = start(
        [],
        e2e_db,
        prefix=("sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"'),
        env={"LISTEN_FDS": "1", "NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "400000"},
        preexec_fn=as_descriptor_3,
        close_fds=False,
    )
    listener.close()
    assert notify.recv(100) == b"READY=1"
    # WatchdogSec=0.4: pinged every 0.2 s while the event loop turns.
    assert [notify.recv(100) for _ in range(3)] == [b"WATCHDOG=1"] * 3
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        assert client.get("/api/hello").status_code == 200
    proc.send_signal(signal.SIGTERM)
    while (message := notify.recv(100)) == b"WATCHDOG=1":
        pass
    assert message == b"STOPPING=1"
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    notify.close()


def test_the_supervisor_feeds_systemds_watchdog(e2e_db, tmp_path):
    notify_path = str(tmp_path / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    notify.settimeout(30)
    # WATCHDOG_PID names the supervisor (the main process): it pings, the workers do not.
    proc = start(
        ["--port", "0", "--processes", "2"],
        e2e_db,
        prefix=("sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"'),
        env={"NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "400000"},
    )
    senders = {}
    credentials = struct.calcsize("3i")
    while len(senders.get(b"WATCHDOG=1", ())) < 3 or len(senders.get(b"READY=1", ())) < 2:
        data, ancillary, _, _ = notify.recvmsg(100, socket.CMSG_SPACE(credentials))
        pid = next(
            struct.unpack("3i", payload)[0]
            for level, kind, payload in ancillary
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS
        )
        senders.setdefault(data, []).append(pid)
    assert set(senders[b"WATCHDOG=1"]) == {proc.pid}
    assert proc.pid not in senders[b"READY=1"]  # each worker says it serves
    stop(proc)
    notify.close()


def test_a_stale_socket_file_is_replaced_and_fd_comes_before_uds(e2e_db, tmp_path):
    # A socket file left behind by a server that is gone (bound, never served).
    path = tmp_path / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(path))
    leftover.close()
    assert path.exists()
    # --fd and --uds together: the descriptor is served, the Unix socket left alone.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    fd = listener.fileno()
    both = start(["--fd", str(fd), "--uds", str(path)], e2e_db, pass_fds=(fd,))
    listener.close()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        assert wait_serving(client).status_code == 200
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        with pytest.raises(OSError):
            probe.connect(str(path))
    assert f"serving http://127.0.0.1:{port}/" in stop(both)
    # Alone, --uds replaces the stale file and serves on it.
    proc = start(["--uds", str(path)], e2e_db)
    wait_unix(path)
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, base_url="http://bolt") as client:
        assert client.get("/api/hello").json() == {"message": "Hello, World!"}
    stop(proc)


def test_listen_fds_for_another_process_is_not_taken(e2e_db):
    """LISTEN_FDS whose LISTEN_PID names another process (a variable inherited by a
    child) is left alone: runbolt binds its own --port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = start(["--port", str(port)], e2e_db, env={"LISTEN_FDS": "1", "LISTEN_PID": "1"})
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        assert wait_serving(client).status_code == 200
    assert f"serving http://127.0.0.1:{port}/" in stop(proc)


BLOCKING_SITE = """
import time

from django.urls import path

from django_bolt import BoltAPI
from testproject.urls import urlpatterns as project_urls

api = BoltAPI()


@api.get("/block-loop")
async def block_loop(seconds: float):
    time.sleep(seconds)  # blocks the event loop itself, as a mistaken handler would
    return {"blocked": seconds}


urlpatterns = [path("stall/", api.urls), *project_urls]
"""


def test_a_stalled_event_loop_stops_the_watchdog_pings(e2e_db, tmp_path):
    """runbolt.md: the single process sends WATCHDOG=1 "from its event loop (a loop that
    stops turning stops the pings)": while a handler blocks the loop for 1.5 s no ping is
    sent, so systemd would see the hang; once the loop turns again they resume."""
    from tests.conftest import wait_for
    from tests.e2e.test_documented_runbolt import site_env

    env = site_env(tmp_path, urls=BLOCKING_SITE)
    notify_path = str(tmp_path / "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(30)
    port = free_tcp_port()
    proc = start(
        ["--port", str(port)],
        e2e_db,
        env={**env, "NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "400000"},
    )
    pings: list[float] = []

    def collect() -> None:
        while True:
            try:
                message = notify.recv(100)
            except OSError:
                return
            if message == b"WATCHDOG=1":
                pings.append(time.monotonic())

    try:
        assert notify.recv(100) == b"READY=1"
        collector = threading.Thread(target=collect, daemon=True)
        collector.start()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_for(lambda: len(pings) >= 2)
            sent = time.monotonic()
            answer = client.get("/stall/block-loop", params={"seconds": 1.5})
            assert answer.json() == {"blocked": 1.5}
            answered = time.monotonic()
        wait_for(lambda: pings[-1] > answered)  # they resume
        around = [t for t in pings if t >= sent - 0.5]
        gaps = [b - a for a, b in zip(around, around[1:], strict=False)]
        # Every 0.2 s while the loop turns; none for as long as it was blocked.
        assert max(gaps) >= 1.2, gaps
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        notify.close()


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
