"""runbolt's worker processes: one listening socket shared by all, recycling without a
failed request, a second server on a served port refused, back-off on workers that keep
failing at start, and SIGTTIN / SIGTTOU."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return sorted(int(p) for p in path.read_text().split()) if path.exists() else []


def test_workers_are_recycled_after_their_budget_without_a_failed_request(bolt):
    with bolt("--max-requests", "150", "--max-requests-jitter", "20") as server:
        first = wait_for(lambda: children(server.proc.pid))
        statuses = []
        stop = threading.Event()

        def hammer():
            with httpx.Client(base_url=server.url, timeout=30) as client:
                while not stop.is_set():
                    statuses.append(client.get("/api/hello").status_code)

        clients = [threading.Thread(target=hammer) for _ in range(4)]
        for t in clients:
            t.start()
        # Two replacements at least: each worker serves 150 to 170 requests.
        wait_for(lambda: server.log.count("is replaced: ") >= 2 and len(statuses) > 400)
        stop.set()
        for t in clients:
            t.join()
        assert set(statuses) == {200}, {s for s in statuses if s != 200}
        assert children(server.proc.pid) != first
        assert "requests served (budget 1" in server.log
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(20) == 0


def test_a_worker_past_its_memory_limit_is_replaced(bolt):
    # Any Django process is well past 1 MiB: the first worker is replaced at once, and
    # so is each new one, while requests keep being answered.
    with bolt("--max-rss", "1") as server:
        wait_for(lambda: server.log.count("MiB resident (limit 1)") >= 2)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert all(client.get("/api/hello").status_code == 200 for _ in range(20))


def test_a_second_server_on_a_served_port_refuses_to_start(bolt, e2e_db):
    from tests.conftest import MANAGE_PY

    with bolt() as server:
        result = subprocess.run(
            [sys.executable, str(MANAGE_PY), "runbolt", "--port", str(server.port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "BOLT_SQLITE_PATH": str(e2e_db)},
        )
        assert result.returncode != 0
        assert result.stderr.strip().splitlines()[-1] == (
            f"CommandError: cannot listen on 127.0.0.1:{server.port}: the address is already "
            "in use (is another server running there?)"
        )
        # The first server keeps all the traffic.
        assert httpx.get(f"{server.url}/api/hello").status_code == 200


def test_a_worker_that_keeps_failing_at_start_stops_the_supervisor(e2e_db):
    from tests.conftest import MANAGE_PY

    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "runbolt", "--port", "0", "--processes", "2"],
        capture_output=True,
        text=True,
        timeout=90,
        env={
            **os.environ,
            "BOLT_SQLITE_PATH": str(e2e_db),
            # The supervisor starts; every worker fails as it loads the ASGI application.
            "BOLT_ASGI_APPLICATION": "testproject.nowhere.application",
        },
    )
    assert result.returncode == 1
    assert "failed to start 5 times in a row" in result.stderr
    assert "testproject.nowhere" in result.stderr  # the worker's own error
    # Backed off between attempts, doubling the pause each time.
    pauses = [
        line.rsplit(" ", 1)[1] for line in result.stderr.splitlines() if "a new one in" in line
    ]
    assert pauses == ["1s", "2s", "4s", "8s"], result.stderr
    assert time.monotonic() - started >= 4


def test_ttin_and_ttou_add_and_remove_a_worker(bolt):
    with bolt("--processes", "2") as server:
        wait_for(lambda: len(children(server.proc.pid)) == 2)
        server.proc.send_signal(signal.SIGTTIN)
        wait_for(lambda: len(children(server.proc.pid)) == 3)
        # One at a time: signals of one kind sent together may arrive as one.
        server.proc.send_signal(signal.SIGTTOU)
        wait_for(lambda: len(children(server.proc.pid)) == 2)
        server.proc.send_signal(signal.SIGTTOU)
        wait_for(lambda: len(children(server.proc.pid)) == 1)
        assert httpx.get(f"{server.url}/api/hello").status_code == 200
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(20) == 0
    assert "SIGTTIN: 3 workers" in server.log and "SIGTTOU: 1 workers" in server.log


def test_workers_leave_when_their_supervisor_is_killed(bolt):
    with bolt("--processes", "2") as server:
        workers = wait_for(lambda: len(c := children(server.proc.pid)) == 2 and c)
        server.proc.kill()  # SIGKILL: the supervisor cannot tell anyone
        server.proc.wait(10)

        def gone(pid):
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                return True
            return state == "Z"

        wait_for(lambda: all(gone(pid) for pid in workers), timeout=20)
        # Nobody serves the port any more.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/api/hello", timeout=2)


def test_cache_page_answers_are_shared_by_the_processes(bolt, tmp_path):
    """Two workers, one Django cache: the handler runs once; every answer, from either
    process (new connections spread over both), is that one."""
    log = tmp_path / "computed.log"
    env = {"BOLT_FILE_CACHE": str(tmp_path / "cache"), "BOLT_REPORT_LOG": str(log)}
    with bolt("--processes", "2", env=env) as server:
        wait_for(lambda: len(children(server.proc.pid)) == 2)
        answers = []
        for _ in range(40):
            with httpx.Client() as fresh:  # a new connection each time
                r = fresh.get(f"{server.url}/api/report?region=eu")
            assert r.status_code == 200
            assert "x-bolt-cache-ttl" not in r.headers
            answers.append(r.json())
        assert all(a == answers[0] for a in answers)
        assert log.read_text().splitlines() == [f"{answers[0]['computed_by']} eu"]
        other = httpx.get(f"{server.url}/api/report?region=us").json()
        assert other["region"] == "us"
        assert len(log.read_text().splitlines()) == 2


def test_a_stopped_test_server_leaves_no_process_behind(bolt):
    """run_bolt gives the server its own process group and stop() ends all of it, even
    when the supervisor is gone before its workers."""
    with bolt("--processes", "2") as server:
        workers = wait_for(lambda: (c := children(server.proc.pid)) and len(c) == 2 and c)
        assert os.getpgid(workers[0]) == server.proc.pid  # the group the server leads
        # Workers told to ignore SIGTERM would outlive a supervisor killed outright.
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        server.proc.kill()
        server.proc.wait(10)
    # stop() ran when the block ended: nothing of the group runs any more (a killed
    # process whose parent is gone may stay a zombie until init collects it).
    assert wait_for(lambda: all(state == "Z" for state in group(server.proc.pid).values()))


def group(pgid):
    """{pid: state} of the processes in a process group."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            found[int(stat.parent.name)] = fields[0]
    return found


def test_the_supervisor_kills_a_worker_that_outlives_the_shutdown_timeout(bolt):
    with bolt("--processes", "2", "--shutdown-timeout", "1") as server:
        workers = wait_for(lambda: (c := children(server.proc.pid)) and len(c) == 2 and c)
        os.kill(workers[0], signal.SIGSTOP)  # it cannot act on SIGTERM any more
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
        # Killed once the timeout (and the supervisor's grace of 5 s) had passed.
        assert time.monotonic() - started >= 1
    assert f"worker pid {workers[0]} did not stop in time; killing it" in server.log
    assert group(server.proc.pid).get(workers[0], "Z") == "Z"  # gone (or not yet reaped)


def test_a_draining_worker_says_connection_close_to_keep_alive_clients(bolt):
    """Past its budget (checked a few times a second) a worker drains: its answers say
    Connection: close and it closes the connection, so a keep-alive client (a proxy's
    upstream pool) moves to another worker instead of holding the old one alive."""
    import socket

    with bolt("--max-requests", "5") as server:
        heads = []
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            while len(heads) < 500:
                s.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = b""
                while b"Hello, World!" not in answer:
                    chunk = s.recv(65536)
                    assert chunk, "closed without an answer"
                    answer += chunk
                heads.append(answer.split(b"\r\n\r\n")[0].lower())
                if b"connection: close" in heads[-1]:
                    break
                time.sleep(0.01)
            assert b"connection: close" in heads[-1]
            assert s.recv(65536) == b""  # and the worker closes it
        assert all(h.startswith(b"http/1.1 200") for h in heads)
        assert len(heads) >= 5


def test_workers_ignore_sighup(bolt):
    with bolt("--processes", "2") as server:
        workers = wait_for(lambda: len(c := children(server.proc.pid)) == 2 and c)
        os.kill(workers[0], signal.SIGHUP)
        with httpx.Client(base_url=server.url) as client:
            for _ in range(20):
                assert client.get("/api/hello").status_code == 200
        assert children(server.proc.pid) == workers
        assert "reload" not in server.log.lower()
