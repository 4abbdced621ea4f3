"""End to end: a real `runbolt` subprocess on a free port, stopped with SIGTERM."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from django_bolt.testing import run_bolt
from django_bolt.testing.process import free_port
from tests.conftest import DJANGO_404, answer, django_error_page, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


def children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return sorted(int(p) for p in path.read_text().split()) if path.exists() else []


def raw_request(port, data, read_timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if (
                    b"\r\n\r\n" in b"".join(chunks)
                    and b"content-length: " in b"".join(chunks).lower()
                ):
                    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    if len(body) >= length:
                        break
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_serves_api_and_django_and_lists_routes(bolt):
    with bolt() as server:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/api/hello").json() == {"message": "Hello, World!"}
            assert client.get("/api/items/4", params={"q": "z"}).json() == {
                "item_id": 4,
                "q": "z",
                "limit": 10,
            }
            bad = client.get("/api/items/four")
            assert bad.status_code == 422
            assert bad.json()["detail"][0]["loc"] == ["path", "item_id"]
            assert client.get("/admin/login/").status_code == 200
            assert client.get("/django/stream/?n=2").text == "chunk 0\nchunk 1\n"
            assert client.get("/api/boom").json() == {"detail": "Internal Server Error"}
            assert client.get("/api/hello").status_code == 200
        assert "GET   /api/hello" in server.log
        assert "Every other path: Django" in server.log
    assert server.proc.returncode == 0


def test_admin_login_over_the_socket(bolt):
    import re

    with bolt() as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = client.post(
            "/admin/login/?next=/admin/",
            data={"username": "admin", "password": "pw-admin-123", "csrfmiddlewaretoken": token},
        )
        assert response.status_code == 302
        assert client.get("/admin/").status_code == 200
        assert "Site administration" in client.get("/admin/").text


def test_streaming_response_is_not_buffered(bolt):
    with bolt() as server, httpx.Client(base_url=server.url, timeout=10) as client:
        started = time.monotonic()
        with client.stream("GET", "/django/slow-stream/") as response:
            chunks = response.iter_text()
            first = next(chunks)
            first_at = time.monotonic() - started
            rest = "".join(chunks)
        total = time.monotonic() - started
    assert first == "part 0\n"
    assert rest == "part 1\npart 2\n"
    # The first part arrived while the rest was produced: the two later parts take 0.6 s
    # each to make, so a buffered answer would have come all at once.
    assert total - first_at > 1.0, (first_at, total)


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize(
    ("route", "marker"), [("/api/stream/forever", "agen"), ("/api/stream/forever-sync", "sgen")]
)
def test_client_disconnect_stops_the_generator(bolt, tmp_path, route, marker):
    with bolt(env={"BOLT_TEST_MARKER_DIR": str(tmp_path)}) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(f"GET {route}?marker={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert s.recv(4096).startswith(b"HTTP/1.1 200 OK")
            time.sleep(0.2)
        wait_for(lambda: (tmp_path / marker).exists(), timeout=10)
        assert httpx.get(f"{server.url}/api/hello").status_code == 200


def test_slow_reader_does_not_make_the_server_buffer(bolt):
    with bolt() as server:
        before = rss_kib(server.proc.pid)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            # 256 MiB offered to a client that reads nothing for two seconds.
            s.sendall(b"GET /api/stream/big?chunks=4096&size=65536 HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(2)
            grown = rss_kib(server.proc.pid) - before
            assert s.recv(100).startswith(b"HTTP/1.1 200 OK")
        assert grown < 32 * 1024, f"server grew by {grown} KiB"
        assert httpx.get(f"{server.url}/api/hello").status_code == 200


def test_uploads_files_and_events_over_the_socket(bolt):
    import hashlib

    payload = os.urandom(3 * 1024 * 1024)
    with bolt() as server, httpx.Client(base_url=server.url, timeout=30) as client:
        r = client.post("/api/upload", data={"title": "big"}, files={"file": ("big.bin", payload)})
        assert r.json() == {
            "title": "big",
            "filename": "big.bin",
            "size": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
            "spooled": True,
        }
        whole = client.get("/api/public/hello.txt")
        assert (whole.status_code, whole.text) == (200, "public hello\n")
        part = client.get("/api/public/hello.txt", headers={"range": "bytes=7-11"})
        assert (part.status_code, part.text) == (206, "hello")
        assert (
            client.get(
                "/api/public/hello.txt", headers={"if-none-match": whole.headers["etag"]}
            ).status_code
            == 304
        )
        events = client.get("/api/events", params={"count": 2})
        assert events.headers["content-type"] == "text/event-stream"
        assert (
            events.text
            == 'id: 0\nevent: tick\ndata: {"n":0}\n\nid: 1\nevent: tick\ndata: {"n":1}\n\n'
        )


def test_oversized_body_is_refused_before_it_is_sent(bolt):
    with bolt("--max-body-size", "1000") as server:
        head = (
            b"POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        reply = raw_request(server.port, head)
        assert reply.startswith(b"HTTP/1.1 413")
        assert b"limit of 1000 bytes" in reply
        with httpx.Client(base_url=server.url) as client:
            chunked = client.post("/api/items", content=iter([b"x" * 800, b"y" * 800]))
            assert chunked.status_code == 413
            assert client.get("/api/hello").status_code == 200


def test_slow_body_times_out_with_408(bolt):
    with bolt("--body-timeout", "1") as server:
        head = b'POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"name":'
        started = time.monotonic()
        reply = raw_request(server.port, head)
        assert reply.startswith(b"HTTP/1.1 408")
        assert b"not received in time" in reply
        assert time.monotonic() - started < 4
        assert httpx.get(f"{server.url}/api/hello").status_code == 200


@pytest.mark.parametrize(
    "partial",
    [
        b'Content-Length: 50\r\n\r\n{"name":',
        b'Transfer-Encoding: chunked\r\n\r\n20\r\n{"name":',
    ],
)
def test_a_408_for_a_slow_body_closes_the_connection(bolt, partial):
    with bolt("--body-timeout", "1") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
            s.sendall(partial)
            started = time.monotonic()
            received = b""
            while chunk := s.recv(65536):  # ends when the server closes the connection
                received += chunk
            assert received.startswith(b"HTTP/1.1 408"), received
            assert b"connection: close" in received.lower()
            assert time.monotonic() - started < 5


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_finishes_in_flight_requests_then_exits_zero(bolt, stop):
    metrics_port = free_port()
    with bolt("--metrics-port", str(metrics_port)) as server:
        results = {}

        def slow():
            with httpx.Client(base_url=server.url, timeout=10) as client:
                results["slow"] = client.get("/api/sleep", params={"ms": 1500})

        def in_flight():
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            return "\ndjango_bolt_requests_in_flight 1\n" in text

        t = threading.Thread(target=slow)
        t.start()
        wait_for(in_flight)  # the request is in the server, not on its way
        server.proc.send_signal(stop)
        t.join(10)
        assert results["slow"].status_code == 200
        assert results["slow"].json() == {"slept_ms": 1500}
        assert server.proc.wait(15) == 0
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_in_flight_work_past_the_shutdown_timeout_is_cut_off(bolt):
    metrics_port = free_port()
    with bolt("--shutdown-timeout", "1", "--metrics-port", str(metrics_port)) as server:
        results = {}

        def slow():
            with httpx.Client(base_url=server.url, timeout=30) as client:
                try:
                    results["slow"] = client.get("/api/hang", params={"seconds": 20})
                except httpx.HTTPError as exc:
                    results["slow"] = exc

        def in_flight():
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            return "\ndjango_bolt_requests_in_flight 1\n" in text

        t = threading.Thread(target=slow)
        t.start()
        wait_for(in_flight)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(15)
        assert time.monotonic() - started < 5  # one second of grace, not twenty
        t.join(10)
        assert isinstance(results["slow"], httpx.HTTPError)


def test_processes_share_the_port_and_a_killed_worker_is_respawned(bolt):
    with bolt("--processes", "2") as server:
        workers = wait_for(
            lambda: len(children(server.proc.pid)) == 2 and children(server.proc.pid)
        )
        with httpx.Client(base_url=server.url) as client:
            for _ in range(20):
                assert client.get("/api/hello").status_code == 200
        os.kill(workers[0], signal.SIGKILL)
        respawned = wait_for(
            lambda: (c := children(server.proc.pid)) and len(c) == 2 and workers[0] not in c and c
        )
        assert workers[1] in respawned
        with httpx.Client(base_url=server.url) as client:
            for _ in range(20):
                assert client.get("/api/hello").status_code == 200
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(20) == 0
    assert "exited with -9; a new one in" in server.log


def test_settings_provide_defaults_and_flags_override(bolt, tmp_path):
    settings_file = tmp_path / "bolt_settings.py"
    settings_file.write_text(
        "from testproject.settings import *\nBOLT = {'PROCESSES': 2, 'PORT': 1}\n"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "bolt_settings",
        "PYTHONPATH": f"{tmp_path}:{ROOT / 'testproject'}",
    }
    with bolt(env=env) as server:  # --port from the fixture overrides PORT=1
        assert "starting 2 processes" in wait_for(lambda: "starting" in server.log and server.log)
        assert httpx.get(f"{server.url}/api/hello").status_code == 200


def test_dev_mode_reloads_on_code_change(tmp_path, e2e_db):
    project = tmp_path / "project"
    shutil.copytree(
        ROOT / "testproject", project, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__")
    )
    api_file = project / "testproject" / "api.py"
    env = {"BOLT_SQLITE_PATH": str(e2e_db), "PYTHONPATH": str(ROOT)}
    with run_bolt(
        "--dev", manage_py=str(project / "manage.py"), cwd=str(project), env=env
    ) as server:
        url = f"{server.url}/api/added"
        assert answer(httpx.get(url)) == (404, django_error_page(*DJANGO_404))
        time.sleep(1.2)  # the reloader compares modification times
        api_file.write_text(
            api_file.read_text()
            + '\n\n@api.get("/added")\nasync def added():\n    return {"added": True}\n'
        )

        def reloaded():
            try:
                return httpx.get(url).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(reloaded, timeout=30)
        assert httpx.get(url).json() == {"added": True}


def test_bad_port_is_a_clear_error(e2e_db):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                str(ROOT / "testproject" / "manage.py"),
                "runbolt",
                "--port",
                str(busy),
            ],
            env={**os.environ, "BOLT_SQLITE_PATH": str(e2e_db)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{busy}" in proc.stderr


@pytest.mark.e2e
def test_auth_cors_and_compression_over_the_socket(bolt):
    import time

    from django_bolt.auth import encode_jwt

    secret = "testproject-jwt-secret-0123456789abcdef"

    def token(**extra):
        return encode_jwt({"sub": "5", "exp": int(time.time()) + 60, **extra}, secret=secret)

    with bolt() as server, httpx.Client(base_url=server.url) as client:
        r = client.get("/secure/me")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="api"'
        r = client.get(
            "/secure/me",
            headers={"Authorization": f"Bearer {token()}", "Origin": "https://app.example.com"},
        )
        assert r.status_code == 200
        assert r.json()["user_id"] == "5"
        assert r.headers["content-encoding"] in ("gzip", "br", "zstd")
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        assert r.num_bytes_downloaded < 400
        r = client.options(
            "/secure/reports",
            headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
        )
        assert r.status_code == 204
        assert r.headers["access-control-allow-credentials"] == "true"
        r = client.post("/secure/reports", headers={"Authorization": f"Bearer {token()}"})
        assert r.status_code == 403
        r = client.post(
            "/secure/reports",
            headers={"Authorization": f"Bearer {token(permissions=['reports.add'])}"},
        )
        assert r.json() == {"created": True}
        # The main API is untouched by the second API's guards.
        assert client.get("/api/hello").status_code == 200


@pytest.mark.e2e
def test_unloadable_asgi_application_is_a_clear_error(e2e_db):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "testproject" / "manage.py"), "runbolt", "--port", "0"],
        env={
            **os.environ,
            "BOLT_SQLITE_PATH": str(e2e_db),
            "BOLT_ASGI_APPLICATION": "testproject.nowhere.application",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "ASGI_APPLICATION 'testproject.nowhere.application' cannot be loaded" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_keep_alive_0_closes_every_connection_after_its_answer(bolt):
    with bolt("--keep-alive", "0") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while chunk := s.recv(65536):  # ends when the server closes
                received += chunk
        head = received.split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 200")
        assert b"connection: close" in head
    with bolt() as server:  # the default keeps it open for the next request
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            for _ in range(2):
                s.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = b""
                while b"Hello, World!" not in answer:
                    answer += s.recv(65536)
                assert b"connection: close" not in answer.lower()


def test_host_port_argument_as_runserver_takes_it(e2e_db):
    from django_bolt.testing.process import BoltProcess
    from tests.conftest import MANAGE_PY

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-u", str(MANAGE_PY), "runbolt", f"127.0.0.1:{port}"],
        env={**os.environ, "BOLT_SQLITE_PATH": str(e2e_db)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    server = BoltProcess(proc, "127.0.0.1", port)
    try:
        server.wait_ready(30)
        assert httpx.get(f"{server.url}/api/hello").json() == {"message": "Hello, World!"}
        assert f"serving http://127.0.0.1:{port}/" in server.log
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("batch", ["1", "0"])
def test_the_threads_that_hand_work_over_run_under_sched_batch(bolt, batch):
    """architecture.md: the Actix threads and the event loop's thread run under
    SCHED_BATCH; BOLT_BATCH_SCHED=0 leaves every thread as it was."""
    with bolt(env={"BOLT_BATCH_SCHED": batch}) as server:
        assert httpx.get(f"{server.url}/api/hello").status_code == 200
        tasks = Path(f"/proc/{server.proc.pid}/task")
        main = (tasks / str(server.proc.pid) / "comm").read_text().strip()
        policies = {}
        for task in tasks.iterdir():
            name = (task / "comm").read_text().strip()
            policies[name] = policies.get(name, set()) | {os.sched_getscheduler(int(task.name))}
    batched = {name for name, kinds in policies.items() if os.SCHED_BATCH in kinds}
    if batch == "1":
        assert main in batched  # the event loop runs on the main thread
        assert len(batched) >= 2, policies
    else:
        assert batched == set(), policies
