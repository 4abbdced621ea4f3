"""The access log and logging of a real runbolt: one line per request (gunicorn's atoms
or JSON), request ids, Python logging when LOGGING asks for it, ``--log-level``."""

import json
import re
import socket
import subprocess
import sys

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

DEFAULT_LINE = re.compile(
    r"^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "
    r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/1\.1" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)" (?P<seconds>\d+\.\d{6}) (?P<id>\S+)$'
)


def lines_for(server, target):
    return [
        m
        for line in server.log.splitlines()
        if (m := DEFAULT_LINE.match(line))
        if m["target"] == target
    ]


def test_one_line_per_request_with_its_request_id(bolt):
    with bolt("--access-log") as server, httpx.Client(base_url=server.url) as client:
        api = client.get("/api/hello?x=1", headers={"User-Agent": "probe/1.0", "Referer": "r"})
        page = client.get("/django/plain/")
        missing = client.get("/api/nowhere")
        (line,) = wait_for(lambda: lines_for(server, "/api/hello?x=1"))
        assert (line["method"], line["status"], line["agent"]) == ("GET", "200", "probe/1.0")
        assert line["referer"] == "r"
        assert int(line["bytes"]) == len(api.content)
        assert re.fullmatch(r"[0-9a-f]{32}", line["id"])
        assert api.headers["x-request-id"] == line["id"]
        assert float(line["seconds"]) < 5

        (line,) = wait_for(lambda: lines_for(server, "/django/plain/"))
        assert line["status"] == "200" and int(line["bytes"]) == len(page.content)
        (line,) = wait_for(lambda: lines_for(server, "/api/nowhere"))
        assert line["status"] == str(missing.status_code)
        ids = {api.headers["x-request-id"], page.headers["x-request-id"]}
        assert len(ids) == 2


def test_django_sees_the_request_id_and_only_trusted_proxies_choose_it(bolt):
    with bolt("--access-log", "--forwarded-allow-ips", "10.0.0.1") as server:
        response = httpx.get(f"{server.url}/django/request-id/", headers={"X-Request-ID": "abc"})
        assert response.text == response.headers["x-request-id"] != "abc"
    # The local host is a trusted proxy by default.
    with bolt("--access-log") as server:
        response = httpx.get(f"{server.url}/django/request-id/", headers={"X-Request-ID": "abc"})
        assert response.text == response.headers["x-request-id"] == "abc"


def test_gunicorn_atoms_and_json(bolt):
    fmt = "%(m)s %(U)s q=%(q)s %(s)s %(B)s %(M)sms %({x-trace}i)s %({content-type}o)s %%"
    with bolt("--access-log", "--access-log-format", fmt) as server:
        httpx.get(f"{server.url}/api/hello?a=b", headers={"X-Trace": "t-1"})
        line = wait_for(lambda: [x for x in server.log.splitlines() if x.startswith("GET /api")])
        assert re.fullmatch(r"GET /api/hello q=a=b 200 \d+ \d+ms t-1 application/json %", line[0])
    with bolt("--access-log", "--access-log-format", "json") as server:
        response = httpx.post(f"{server.url}/api/items", json={"name": "x", "price": 1.5})
        found = wait_for(lambda: [x for x in server.log.splitlines() if x.startswith('{"time"')])
        record = json.loads(found[0])
        assert record["method"] == "POST" and record["path"] == "/api/items"
        assert record["status"] == response.status_code
        assert record["bytes"] == len(response.content)
        assert record["request_id"] == response.headers["x-request-id"]
        assert record["remote_addr"] == "127.0.0.1" and record["protocol"] == "HTTP/1.1"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
        assert record["duration_ms"] >= 0


def test_the_other_atoms_escaping_and_a_stream_logged_at_its_end(bolt, e2e_static):
    fmt = "%(h)s %(l)s %(u)s %(H)s %(r)s b=%(b)s T=%(T)s D=%(D)s L=%(L)s p=%(p)s a=%(a)s"
    env = {"BOLT_STATIC_ROOT": str(e2e_static)}
    with bolt("--access-log", "--access-log-format", fmt, env=env) as server:
        # A 304 has no body: %(b)s is "-". A header cannot forge fields: quotes and
        # bytes outside printable ASCII come out escaped.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(
                b"GET /api/hello HTTP/1.1\r\nHost: x\r\n"
                b'User-Agent: a" 200 x\xe9\r\nConnection: close\r\n\r\n'
            )
            while s.recv(65536):
                pass
        line = wait_for(lambda: [x for x in server.log.splitlines() if " a=a" in x])[0]
        assert re.fullmatch(
            r"127\.0\.0\.1 - - HTTP/1\.1 GET /api/hello HTTP/1\.1 b=\d+ T=\d+ D=\d+ "
            r"L=\d+\.\d+ p=\d+ " + re.escape('a=a\\" 200 x\\xe9'),
            line,
        ), line
        assert int(line.split(" p=")[1].split()[0]) == server.proc.pid
        etag = httpx.get(f"{server.url}/static/admin/css/base.css").headers["etag"]
        not_modified = httpx.get(
            f"{server.url}/static/admin/css/base.css", headers={"If-None-Match": etag}
        )
        assert not_modified.status_code == 304
        assert wait_for(
            lambda: [x for x in server.log.splitlines() if "base.css" in x and " b=- " in x]
        )
        # A streamed answer is logged once its last byte is out: its duration covers the
        # whole stream (the slow stream takes over a second).
        httpx.get(f"{server.url}/django/slow-stream/", timeout=30)
        streamed = wait_for(
            lambda: [x for x in server.log.splitlines() if "/django/slow-stream/" in x]
        )[0]
        assert int(streamed.split(" D=")[1].split()[0]) >= 1_000_000


def test_through_python_logging_when_logging_configures_it(bolt, tmp_path):
    log_file = tmp_path / "bolt.log"
    env = {"BOLT_LOG_FILE": str(log_file), "BOLT_ASGI_APPLICATION": ""}
    with bolt("--access-log", env=env) as server:
        response = httpx.get(f"{server.url}/api/hello")
        # What the Rust side reports goes through Python logging too (here: a handshake
        # refused for want of a route, as no ASGI application takes WebSockets).
        with pytest.raises(InvalidStatus):
            connect(f"ws://127.0.0.1:{server.port}/api/hello", open_timeout=10)

        def logged():
            text = log_file.read_text() if log_file.exists() else ""
            return text if "django_bolt.server WARNING" in text else None

        text = wait_for(logged)
    access = [x for x in text.splitlines() if x.startswith("django_bolt.access INFO ")]
    assert any('"GET /api/hello HTTP/1.1" 200' in x for x in access), text
    assert any(response.headers["x-request-id"] in x for x in access)
    assert "django_bolt.server WARNING WebSocket handshake refused (404)" in text
    # Nothing of it on stderr.
    assert '"GET /api/hello HTTP/1.1"' not in server.log


def test_no_access_log_by_default(bolt):
    with bolt() as server:
        response = httpx.get(f"{server.url}/api/hello")
        assert "x-request-id" not in response.headers
        assert httpx.get(f"{server.url}/django/plain/").status_code == 200
    assert '"GET /api/hello' not in server.log


def test_bad_formats_and_levels_are_one_line_errors(e2e_db):
    from tests.conftest import MANAGE_PY

    for args, message in [
        (["--access-log-format", "%(z)s"], "access log format: unknown atom %(z)s"),
        (["--access-log-format", "50% off"], "a '%' outside an atom"),
        (["--log-level", "loud"], "invalid choice: 'loud'"),
        (["--forwarded-allow-ips", "10.0.0.1,nonsense"], "invalid trusted proxy address"),
        (["--uds-mode", "rw"], "'rw' is not an octal mode such as 660"),
    ]:
        result = subprocess.run(
            [sys.executable, str(MANAGE_PY), "runbolt", "--port", "0", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**__import__("os").environ, "BOLT_SQLITE_PATH": str(e2e_db)},
        )
        output = result.stdout + result.stderr
        assert result.returncode != 0 and "Traceback" not in output, output
        assert message in output, output


def test_log_level_overrides_logging_only_when_given(bolt):
    # The testproject's LOGGING puts django_bolt at INFO: its SIGTERM note shows...
    with bolt() as server:
        pass
    assert "received SIGTERM: finishing in-flight requests" in server.log
    # ...unless --log-level says otherwise.
    with bolt("--log-level", "warning") as server:
        pass
    assert "received SIGTERM" not in server.log
