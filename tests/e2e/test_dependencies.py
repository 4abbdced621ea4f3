"""Dependencies that hang: a database and a Redis that accept connections and never
answer. No request waits on them past a bound: the handler timeout answers 504 for the
database; Redis calls give up after half a second and rate limits fail open, and while
Redis stays hung only one request per second waits on it."""

import socket
import threading
import time

import httpx
import pytest

from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture
def silent_server():
    """A TCP server that accepts and never says a word (the connections stay open)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_hung_database_is_answered_504_within_the_timeout(bolt, silent_server):
    url = f"postgres://bolt@127.0.0.1:{silent_server}/bolt"
    with bolt("--timeout", "2", env={"BOLT_TEST_DATABASE_URL": url}) as server:
        started = time.monotonic()
        answer = httpx.get(f"{server.url}/api/users/1", timeout=30)
        took = time.monotonic() - started
        assert answer.status_code == 504
        assert 1.5 < took < 6, took
        # Routes that need no database keep answering meanwhile.
        assert httpx.get(f"{server.url}/api/items/1").status_code == 200


def test_a_hung_redis_costs_at_most_one_bounded_wait_per_second(bolt, silent_server):
    env = {"BOLT_REDIS_URL": f"redis://127.0.0.1:{silent_server}/0"}
    with bolt(env=env) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        timings = []
        for _ in range(8):
            started = time.monotonic()
            answer = client.get("/api/limited")
            timings.append(time.monotonic() - started)
            assert answer.status_code == 200  # the rate limit fails open
        assert timings[0] < 2.0, timings  # the first waits on Redis, boundedly
        assert all(t < 0.3 for t in timings[1:]), timings  # the next do not wait
        wait_for(lambda: "shared store error" in server.log)
        assert "did not answer in time" in server.log or "timed out" in server.log, server.log
