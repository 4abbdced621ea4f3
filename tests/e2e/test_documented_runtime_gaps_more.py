"""More documented behaviours of ``runbolt`` (docs/runbolt.md, docs/routing.md) over a real
socket that no other test covered:

- ``BOLT["CACHE_MAX_BYTES"]`` bounds the memory of ``cache_page`` answers, and when it is
  full expired answers are evicted first;
- ``--backlog`` is the listening socket's backlog, ``--workers`` the number of Actix
  worker threads, and a ``--uds`` socket is created with mode 660 by default;
- behind a trusted proxy API handlers see ``request.client`` with port 0;
- the JSON access log's ``query``, ``user_agent`` and ``referer``, and the request id as
  API handlers see it;
- the duration histogram ends at the answer's head: a stream's body is not included.

The probe site is the one of ``test_documented_runtime_gaps`` (``site_env``), with a
URLconf of its own."""

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from django_bolt.testing.process import free_port
from tests.conftest import MANAGE_PY, wait_for
from tests.e2e.test_documented_runtime_gaps import site_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PROBE_URLS = """
from django.urls import path

from django_bolt import BoltAPI, Request
from django_bolt.cache import cache_page
from testproject.urls import urlpatterns as project_patterns

gap = BoltAPI(openapi_url=None)
CALLS = {}
PAD = "p" * 3000


def called(name):
    CALLS[name] = CALLS.get(name, 0) + 1


@gap.get("/kept/{n}")
@cache_page(600)
async def kept(n: int):
    called(f"kept/{n}")
    return {"n": n, "pad": PAD}


@gap.get("/brief/{n}")
@cache_page(1)
async def brief(n: int):
    called(f"brief/{n}")
    return {"n": n, "pad": PAD}


@gap.get("/tiny/{n}")
@cache_page(600)
async def tiny(n: int):
    called(f"tiny/{n}")
    return {"n": n}


@gap.get("/calls")
async def calls():
    return CALLS


@gap.get("/client")
async def client(request: Request):
    return {"client": list(request.client), "request_id": request.headers.get("x-request-id")}


urlpatterns = [path("gap/", gap.urls), *project_patterns]
"""

#: 64 KiB of answers per process, and no Django cache behind them: a miss runs the handler.
SMALL_CACHE = """
BOLT = {**BOLT, "CACHE_MAX_BYTES": 65536}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
"""
PAD = "p" * 3000


def probe_env(tmp_path: Path, settings: str = "") -> dict[str, str]:
    return site_env(tmp_path, settings, urls=PROBE_URLS)


# -- CACHE_MAX_BYTES ----------------------------------------------------------------------


def kept_from_memory(client: httpx.Client, path: str, body: dict) -> bool:
    """Whether ``path`` was answered from the process's memory (a hit carries ``Age``)."""
    response = client.get(path)
    assert response.status_code == 200 and response.json() == body, path
    return "age" in response.headers


def test_cache_max_bytes_bounds_the_answers_kept_in_memory(bolt, tmp_path):
    """routing.md: "`BOLT = {"CACHE_MAX_BYTES": ...}` bounds that memory (64 MiB per
    process)." With 64 KiB: forty small answers are all kept, but of forty answers of
    more than 3,000 bytes each at most 65,536 / 3,000 are still kept once all were
    asked for; the others are computed again (the handler runs a second time)."""
    with (
        bolt(env=probe_env(tmp_path, SMALL_CACHE)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        assert not kept_from_memory(client, "/gap/tiny/0", {"n": 0})
        assert kept_from_memory(client, "/gap/tiny/0", {"n": 0})
        for n in range(1, 40):
            kept_from_memory(client, f"/gap/tiny/{n}", {"n": n})
        assert all(kept_from_memory(client, f"/gap/tiny/{n}", {"n": n}) for n in range(40))

        for n in range(40):
            assert not kept_from_memory(client, f"/gap/kept/{n}", {"n": n, "pad": PAD})
        hits = [
            n for n in range(40) if kept_from_memory(client, f"/gap/kept/{n}", {"n": n, "pad": PAD})
        ]
        assert 1 <= len(hits) <= 65536 // 3000, hits
        calls = client.get("/gap/calls").json()
        assert [calls[f"kept/{n}"] for n in range(40)] == [1 if n in hits else 2 for n in range(40)]


def test_expired_answers_are_evicted_first_when_the_cache_is_full(bolt, tmp_path):
    """runbolt.md, ``CACHE_MAX_BYTES``: "beyond it expired answers go first, then
    arbitrary ones". Six long-lived answers and nine one-second ones fill most of 64 KiB;
    once the short ones have expired, five more long-lived answers take the memory past
    its bound (each answer costs more than 3,500 bytes): the expired answers make room,
    and every long-lived answer is still kept."""
    with (
        bolt(env=probe_env(tmp_path, SMALL_CACHE)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        for n in range(6):
            assert not kept_from_memory(client, f"/gap/kept/{n}", {"n": n, "pad": PAD})
        for n in range(9):
            assert not kept_from_memory(client, f"/gap/brief/{n}", {"n": n, "pad": PAD})
        assert all(
            kept_from_memory(client, f"/gap/kept/{n}", {"n": n, "pad": PAD}) for n in range(6)
        )
        # The last one-second answer kept has expired, so have those kept before it.
        wait_for(lambda: not kept_from_memory(client, "/gap/brief/8", {"n": 8, "pad": PAD}))
        for n in range(6, 11):
            assert not kept_from_memory(client, f"/gap/kept/{n}", {"n": n, "pad": PAD})
        still = [
            n for n in range(11) if kept_from_memory(client, f"/gap/kept/{n}", {"n": n, "pad": PAD})
        ]
        assert still == list(range(11))
        calls = client.get("/gap/calls").json()
        assert [calls[f"kept/{n}"] for n in range(11)] == [1] * 11


# -- the listening socket, the worker threads, the Unix socket ----------------------------


def listen_backlog(port: int) -> int:
    """The backlog of the socket listening on ``port`` (``ss``'s Send-Q of a listener)."""
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "LISTEN", out
    return int(out[2])


def test_backlog_is_the_listen_backlog_of_the_socket(bolt):
    """runbolt.md: "`--backlog` | `BACKLOG` | `1024` | listen backlog"."""
    with bolt("--backlog", "37") as server:
        assert listen_backlog(server.port) == 37
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    with bolt() as server:
        assert listen_backlog(server.port) == min(1024, somaxconn)


def actix_workers(pid: int) -> int:
    """How many of ``pid``'s threads are Actix workers (named ``actix-rt|system:0|arbiter:N``;
    Linux keeps 15 characters of a thread's name)."""
    return sum(
        1
        for task in Path(f"/proc/{pid}/task").iterdir()
        if (task / "comm").read_text().strip() == "actix-rt|system"
    )


@pytest.mark.parametrize("workers, expected", [(None, 1), ("3", 3)])
def test_workers_is_the_number_of_actix_worker_threads_per_process(bolt, workers, expected):
    """runbolt.md: "`--workers` | `WORKERS` | `1` | Actix worker threads per process
    (HTTP parsing, routing, limits)"."""
    args = ("--workers", workers) if workers else ()
    with bolt(*args) as server:
        assert httpx.get(f"{server.url}/api/hello").status_code == 200
        wait_for(lambda: actix_workers(server.proc.pid) == expected)


def test_a_unix_socket_is_created_with_mode_660_by_default(e2e_db, tmp_path):
    """runbolt.md: "the Unix socket at `--uds` (created with `--uds-mode`, `660` by
    default [...])"."""
    path = tmp_path / "bolt.sock"
    proc = subprocess.Popen(
        [sys.executable, str(MANAGE_PY), "runbolt", "--uds", str(path)],
        env={**os.environ, "BOLT_SQLITE_PATH": str(e2e_db)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:

        def served():
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(path))
                except OSError:
                    return False
                return True

        wait_for(served, timeout=30)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, base_url="http://bolt") as client:
            assert client.get("/api/hello").json() == {"message": "Hello, World!"}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


# -- what API handlers see behind a proxy; request ids; the JSON access log ----------------


def raw_get(port: int, target: str, headers: str = "") -> tuple[int, dict]:
    """(local port, decoded JSON answer) of a GET on a connection of its own."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        local_port = sock.getsockname()[1]
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return local_port, json.loads(body)


def test_api_handlers_see_port_0_for_a_client_a_trusted_proxy_forwards(bolt, tmp_path):
    """runbolt.md: "API handlers see them as `request.client` (port 0) and
    `request.scheme`"; the peer itself is seen with its own port."""
    with bolt(env=probe_env(tmp_path)) as server:
        _, forwarded = raw_get(server.port, "/gap/client", "X-Forwarded-For: 203.0.113.9\r\n")
        assert forwarded["client"] == ["203.0.113.9", 0]
        _, rfc = raw_get(server.port, "/gap/client", 'Forwarded: for="203.0.113.10:4711"\r\n')
        assert rfc["client"] == ["203.0.113.10", 0]
        port, direct = raw_get(server.port, "/gap/client")
        assert direct["client"] == ["127.0.0.1", port]


def test_api_handlers_see_the_request_id_the_answer_carries(bolt, tmp_path):
    """runbolt.md: "With the access log on, every request gets an id: the `X-Request-ID`
    it came with when the peer is a trusted proxy (1 to 200 visible characters), else a
    new 32-hex-digit one. Handlers and Django views see it as the request's
    `X-Request-ID` header, and the answer carries it back." (Django views: see
    test_access_log.)"""
    with bolt("--access-log", env=probe_env(tmp_path)) as server:
        with httpx.Client(base_url=server.url) as client:
            made = client.get("/gap/client")
            assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
            assert made.json()["request_id"] == made.headers["x-request-id"]
            kept = client.get("/gap/client", headers={"X-Request-ID": "trace-42"})
            assert kept.headers["x-request-id"] == "trace-42"
            assert kept.json()["request_id"] == "trace-42"
    with bolt(
        "--access-log", "--forwarded-allow-ips", "10.0.0.1", env=probe_env(tmp_path / "b")
    ) as server:
        untrusted = httpx.get(f"{server.url}/gap/client", headers={"X-Request-ID": "trace-42"})
        new_id = untrusted.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", new_id)
        assert untrusted.json()["request_id"] == new_id


def test_the_json_access_log_has_the_query_user_agent_and_referer(bolt):
    """runbolt.md: "`--access-log-format json` writes one JSON object per line instead:
    `time` (ISO 8601, UTC), `remote_addr`, `method`, `path`, `query`, `protocol`,
    `status`, `bytes`, `duration_ms`, `user_agent`, `referer`, `request_id`." """
    headers = {"User-Agent": "probe/2.0 (gaps)", "Referer": "https://ref.example/from?page=1"}
    with bolt("--access-log", "--access-log-format", "json") as server:
        response = httpx.get(f"{server.url}/api/items/5?q=x%20y&limit=3", headers=headers)
        assert response.json() == {"item_id": 5, "q": "x y", "limit": 3}
        (line,) = wait_for(
            lambda: [
                x for x in server.log.splitlines() if x.startswith("{") and "/api/items/5" in x
            ]
        )
    record = json.loads(line)
    assert set(record) == {
        "time", "remote_addr", "method", "path", "query", "protocol", "status", "bytes",
        "duration_ms", "user_agent", "referer", "request_id",
    }  # fmt: skip
    assert (record["path"], record["query"]) == ("/api/items/5", "q=x%20y&limit=3")
    assert record["user_agent"] == "probe/2.0 (gaps)"
    assert record["referer"] == "https://ref.example/from?page=1"
    assert record["request_id"] == response.headers["x-request-id"]


# -- metrics: the duration histogram --------------------------------------------------------


def test_the_duration_histogram_does_not_include_a_streams_body(bolt):
    """runbolt.md: "`django_bolt_request_duration_seconds` | histogram | same | from the
    request to its answer's head (a stream's body is not included)". An event stream
    whose 150 events are 10 ms apart takes over 1.5 s to read; the histogram counts it
    in a bucket below one second."""
    from prometheus_client.parser import text_string_to_metric_families

    metrics_port = free_port()
    with bolt("--metrics-port", str(metrics_port)) as server:
        started = time.monotonic()
        response = httpx.get(f"{server.url}/api/events", params={"count": 150}, timeout=30)
        took = time.monotonic() - started
        assert response.status_code == 200 and response.text.count("event: tick") == 150
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    assert took >= 1.5
    labels = {"method": "GET", "route": "/api/events", "status": "200"}
    samples = {
        (s.name, float(s.labels["le"]) if "le" in s.labels else None): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("django_bolt_request_duration_seconds")
        and {k: v for k, v in s.labels.items() if k != "le"} == labels
    }
    assert samples[("django_bolt_request_duration_seconds_count", None)] == 1
    assert samples[("django_bolt_request_duration_seconds_sum", None)] < 1.0
    assert samples[("django_bolt_request_duration_seconds_bucket", 1.0)] == 1
