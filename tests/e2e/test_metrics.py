"""``--metrics-port``: Prometheus text summed over every worker process, /healthz and
/readyz, on a listener of its own. Read with prometheus_client's parser, as a scraper
would."""

import os
import signal
import socket
import threading

import httpx
import pytest
from websockets.sync.client import connect

from django_bolt.testing.process import free_port
from tests.conftest import DJANGO_404, answer, django_error_page, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def scrape(port):
    from prometheus_client.parser import text_string_to_metric_families

    response = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def requests_of(samples, route, status, method="GET"):
    return value(
        samples, "django_bolt_requests_total", method=method, route=route, status=str(status)
    )


@pytest.fixture(scope="module")
def metered(bolt):
    metrics_port = free_port()
    with bolt("--processes", "2", "--metrics-port", str(metrics_port)) as server:
        server.metrics_port = metrics_port
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{metrics_port}/readyz").status_code == 200)
        yield server


def test_counts_are_summed_over_every_worker(metered):
    before = scrape(metered.metrics_port)
    pids, made = set(), 0
    # New connections, so both workers answer.
    while len(pids) < 2 or made < 40:
        with httpx.Client(base_url=metered.url) as client:
            pids.add(client.get("/api/code-version").json()["pid"])
        made += 1
        assert made < 2000
    with httpx.Client(base_url=metered.url) as client:
        for _ in range(5):
            assert client.get("/django/plain/").status_code == 200
        assert client.delete("/api/code-version").status_code == 405
    after = scrape(metered.metrics_port)
    route = "/api/code-version"
    assert requests_of(after, route, 200) - requests_of(before, route, 200) == made
    assert requests_of(after, "django", 200) - requests_of(before, "django", 200) == 5
    assert (
        requests_of(after, "unrouted", 405, "DELETE")
        - requests_of(before, "unrouted", 405, "DELETE")
        == 1
    )
    # The histogram agrees with the counter, its buckets only grow, +Inf is the count.
    labels = {"method": "GET", "route": route, "status": "200"}
    count = value(after, "django_bolt_request_duration_seconds_count", **labels)
    assert count == requests_of(after, route, 200)
    buckets = sorted(
        (float(dict(k[1])["le"]), v)
        for k, v in after.items()
        if k[0] == "django_bolt_request_duration_seconds_bucket"
        and {n: x for n, x in k[1] if n != "le"} == labels
    )
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert buckets[-1] == (float("inf"), count)
    assert 0 < value(after, "django_bolt_request_duration_seconds_sum", **labels) < count
    # Python saw every request but the 405, which Rust answered alone.
    python = value(after, "django_bolt_requests_python_total") - value(
        before, "django_bolt_requests_python_total"
    )
    without = value(after, "django_bolt_requests_without_python_total") - value(
        before, "django_bolt_requests_without_python_total"
    )
    assert (python, without) == (made + 5, 1)
    # Both processes' resident memory, and the workers gauge.
    rss = {dict(k[1])["pid"]: v for k, v in after.items() if k[0].endswith("memory_bytes")}
    assert set(map(int, rss)) == pids and all(v > 10_000_000 for v in rss.values())
    assert value(after, "django_bolt_workers") == 2


def test_refusals_in_rust_are_counted(metered):
    before = scrape(metered.metrics_port)
    with httpx.Client(base_url=metered.url) as client:
        assert client.get("/secure/me").status_code == 401
        statuses = [client.get("/api/limited").status_code for _ in range(8)]
    after = scrape(metered.metrics_port)
    assert 429 in statuses
    limited = value(after, "django_bolt_rate_limited_total") - value(
        before, "django_bolt_rate_limited_total"
    )
    assert limited == statuses.count(429)
    refused = value(after, "django_bolt_auth_refused_total") - value(
        before, "django_bolt_auth_refused_total"
    )
    assert refused == 1


def test_websocket_connections_and_messages(metered):
    before = scrape(metered.metrics_port)
    with connect(f"ws://127.0.0.1:{metered.port}/api/ws/echo", open_timeout=10) as ws:
        for n in range(3):
            ws.send(f"m{n}")
            assert ws.recv(timeout=10) == f"Echo: m{n}"
        during = scrape(metered.metrics_port)
        assert value(during, "django_bolt_websocket_connections") == 1
    wait_for(lambda: value(scrape(metered.metrics_port), "django_bolt_websocket_connections") == 0)
    after = scrape(metered.metrics_port)
    for name, delta in (
        ("django_bolt_websocket_connections_total", 1),
        ("django_bolt_websocket_messages_received_total", 3),
        ("django_bolt_websocket_messages_sent_total", 3),
    ):
        assert value(after, name) - value(before, name) == delta, name


def test_health_and_the_public_port(metered):
    health = httpx.get(f"http://127.0.0.1:{metered.metrics_port}/healthz")
    assert (health.status_code, health.text) == (200, "ok\n")
    ready = httpx.get(f"http://127.0.0.1:{metered.metrics_port}/readyz")
    assert (ready.status_code, ready.text) == (200, "2 workers serve\n")
    assert answer(httpx.get(f"http://127.0.0.1:{metered.metrics_port}/nothing")) == (
        404,
        b"not found: /metrics, /healthz, /readyz\n",
    )
    # The public port does not serve them: they are Django's paths there.
    assert answer(httpx.get(f"{metered.url}/metrics")) == (404, django_error_page(*DJANGO_404))


def test_a_replaced_worker_is_counted_and_its_counts_kept(metered):
    before = scrape(metered.metrics_port)
    pid = httpx.get(f"{metered.url}/api/code-version").json()["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: (
            value(scrape(metered.metrics_port), "django_bolt_worker_restarts_total")
            == value(before, "django_bolt_worker_restarts_total") + 1
        )
    )
    wait_for(
        lambda: httpx.get(f"http://127.0.0.1:{metered.metrics_port}/readyz").status_code == 200
    )
    after = scrape(metered.metrics_port)
    route = "/api/code-version"
    # What the killed worker counted is still in the sums.
    assert requests_of(after, route, 200) >= requests_of(before, route, 200) + 1


def test_readyz_says_503_while_draining(bolt):
    metrics_port = free_port()
    with bolt("--metrics-port", str(metrics_port)) as server:
        readyz = f"http://127.0.0.1:{metrics_port}/readyz"
        wait_for(lambda: httpx.get(readyz).status_code == 200)
        slow = threading.Thread(target=httpx.get, args=(f"{server.url}/api/hang?seconds=3",))
        slow.start()
        wait_for(lambda: value(scrape(metrics_port), "django_bolt_requests_in_flight") == 1)
        server.proc.send_signal(signal.SIGTERM)
        draining = wait_for(lambda: (r := httpx.get(readyz)).status_code == 503 and r)
        assert draining.text == "draining\n"
        slow.join()
        assert server.proc.wait(20) == 0


def test_readyz_waits_for_a_database_that_does_not_answer(bolt):
    # A server that accepts connections and never says anything: PostgreSQL's client
    # waits on it (until its connect_timeout, which the settings leave unset).
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    url = f"postgres://bolt@127.0.0.1:{silent.getsockname()[1]}/bolt"
    metrics_port = free_port()
    try:
        with bolt(
            "--metrics-port", str(metrics_port), env={"BOLT_TEST_DATABASE_URL": url}
        ) as server:
            # Serving routes that need no database, but not ready.
            assert httpx.get(f"{server.url}/api/items/1").status_code == 200
            readyz = f"http://127.0.0.1:{metrics_port}/readyz"
            ready = wait_for(lambda: (r := httpx.get(readyz)).text != "starting\n" and r)
            assert ready.status_code == 503
            assert ready.text == "the database has not answered 1 of 1 workers\n"
            assert httpx.get(f"http://127.0.0.1:{metrics_port}/healthz").status_code == 200
    finally:
        silent.close()


def test_metrics_host_and_the_static_label(bolt, e2e_static):
    port = free_port()
    env = {"BOLT_STATIC_ROOT": str(e2e_static)}
    with bolt("--metrics-port", str(port), "--metrics-host", "127.0.0.2", env=env) as server:
        health = httpx.get(f"http://127.0.0.2:{port}/healthz")
        assert health.text == "ok\n"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert httpx.get(f"{server.url}/static/admin/css/base.css").status_code == 200
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"http://127.0.0.2:{port}/metrics").text
        routes = {
            s.labels.get("route")
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "django_bolt_requests_total"
        }
        assert "static" in routes, routes
