"""SIGHUP: new code without a failed request. Under the supervisor a new generation of
workers starts in fresh interpreters and serves before the old one drains; a new
generation that cannot start is dropped and the old one keeps serving; a single process
restarts in place, its socket's queue holding connections meanwhile."""

import signal
import threading
from pathlib import Path

import httpx
import pytest

from django_bolt.testing.process import free_port
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return set(int(p) for p in path.read_text().split()) if path.exists() else set()


class Load:
    """Clients asking for the code version until stopped; every answer and every failure
    is kept."""

    def __init__(self, url, clients=3):
        self.url = url
        self.answers = []
        self.failures = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(clients)]

    def run(self):
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                try:
                    response = client.get("/api/code-version")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    self.failures.append(response.status_code)
                else:
                    self.answers.append(response.json())

    def __enter__(self):
        for t in self.threads:
            t.start()
        wait_for(lambda: len(self.answers) > 20)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()

    def versions_since(self, index):
        return {a["version"] for a in self.answers[index:]}


def test_sighup_starts_new_workers_with_new_code_before_the_old_ones_leave(bolt, tmp_path):
    version = tmp_path / "version"
    version.write_text("1")
    env = {"BOLT_CODE_VERSION_FILE": str(version)}
    metrics_port = free_port()
    with bolt("--processes", "2", "--metrics-port", str(metrics_port), env=env) as server:
        old = wait_for(lambda: len(c := children(server.proc.pid)) == 2 and c)
        with Load(server.url) as load:
            assert load.versions_since(0) == {1}
            version.write_text("2")
            server.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reloaded: 2 new workers serve" in server.log, timeout=60)
            wait_for(lambda: not (children(server.proc.pid) & old), timeout=30)
            mark = len(load.answers)
            wait_for(lambda: len(load.answers) > mark + 50)
            assert load.versions_since(mark) == {2}
        assert load.failures == []
        new = children(server.proc.pid)
        assert len(new) == 2 and not (new & old)
        assert {a["pid"] for a in load.answers[mark:]} <= new
        # The new workers share the metrics: what the old ones counted is kept, and the
        # site is ready with two workers.
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        counted = next(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith('django_bolt_requests_total{method="GET",route="/api/code-version"')
        )
        assert counted >= len(load.answers)
        ready = httpx.get(f"http://127.0.0.1:{metrics_port}/readyz")
        assert (ready.status_code, ready.text) == (200, "2 workers serve\n")
        # The new generation is supervised like the first: SIGTERM stops everything.
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0


def test_a_new_generation_that_cannot_start_leaves_the_old_one_serving(bolt, tmp_path):
    version = tmp_path / "version"
    version.write_text("1")
    env = {"BOLT_CODE_VERSION_FILE": str(version)}
    with bolt("--processes", "2", env=env) as server:
        old = wait_for(lambda: len(c := children(server.proc.pid)) == 2 and c)
        with Load(server.url) as load:
            version.write_text("not a number")
            server.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload abandoned" in server.log, timeout=60)
            mark = len(load.answers)
            wait_for(lambda: len(load.answers) > mark + 20)
        assert load.failures == []
        assert load.versions_since(0) == {1}
        assert "ValueError" in server.log  # the new worker's own error
        # The other new worker is stopped too: the old ones are all that is left.
        wait_for(lambda: children(server.proc.pid) == old)
        # Fixed, the next reload goes through.
        version.write_text("3")
        server.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded: 2 new workers serve" in server.log, timeout=60)
        wait_for(lambda: httpx.get(f"{server.url}/api/code-version").json()["version"] == 3)


def test_sighup_restarts_a_single_process_in_place(bolt, tmp_path):
    version = tmp_path / "version"
    version.write_text("1")
    with bolt(env={"BOLT_CODE_VERSION_FILE": str(version)}) as server:
        with Load(server.url) as load:
            version.write_text("2")
            server.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: 2 in load.versions_since(0), timeout=60)
            mark = len(load.answers)
            wait_for(lambda: len(load.answers) > mark + 20)
            assert load.versions_since(mark) == {2}
        assert load.failures == []
        # The same process (a supervisor or systemd keeps tracking it), new code.
        assert {a["pid"] for a in load.answers} == {server.proc.pid}
        assert server.proc.poll() is None
