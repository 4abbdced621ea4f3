"""Side-by-side HTTP benchmark: each server pinned to CPU 0, wrk pinned to CPU 1.

Every round starts each contender in turn (interleaved), runs every endpoint against it,
and stops it; the table reports the median of the rounds, p99 latency and the server's
CPU time per request, with each throughput as a ratio to django-bolt 0.13.0.

    python bench/bench.py --rounds 3 --duration 8
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "project"
OUT = HERE / "out"
ROOT = HERE.parent
OUR_PY = Path(os.environ.get("BENCH_OUR_PYTHON", ROOT / ".venv" / "bin" / "python"))
REF_PY = HERE / ".venv-ref" / "bin" / "python"
NINJA_BIN = HERE / ".venv-ninja" / "bin"
WHITENOISE_BIN = HERE / ".venv-whitenoise" / "bin"
REFERENCE = "django-bolt 0.13.0"

POST_BODY = '{"name":"pen","price":1.5,"tags":["a","b"]}'


def order_body(lines: int) -> str:
    """An order of ``lines`` nested objects (about 100 bytes each)."""
    return json.dumps(
        {
            "customer": "ACME Corporation",
            "lines": [
                {
                    "sku": f"SKU-{i:05d}",
                    "quantity": i % 7 + 1,
                    "price": 9.99 + i,
                    "note": "deliver before noon; leave at reception",
                }
                for i in range(lines)
            ],
        },
        separators=(",", ":"),
    )


ORDER_BODY = order_body(100)
BIG_ORDER_BODY = order_body(1000)
FORM_BODY = "name=Ann+Smith&email=ann%40example.com&message=" + "hello+there+" * 20
BOUNDARY = "boltbenchboundary"
MULTIPART_BODY = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nQuarterly report\r\n'
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="report.txt"\r\n'
    f"Content-Type: text/plain\r\n\r\n{'r' * 1024}\r\n--{BOUNDARY}--\r\n"
)
ENDPOINTS = {
    "hello": ("GET", "/hello", None, None),
    "path+query": ("GET", "/items/42?q=hello&limit=5", None, None),
    "POST small body": ("POST", "/items", POST_BODY, "application/json"),
    "POST 10 KB body (100 objects)": ("POST", "/orders", ORDER_BODY, "application/json"),
    "multipart form + 1 KB file": (
        "POST",
        "/upload",
        MULTIPART_BODY,
        f"multipart/form-data; boundary={BOUNDARY}",
    ),
    "admin login page": ("GET", "/admin/login/", None, None),
    "ModelViewSet list, 10 rows": ("GET", "/users?page_size=10", None, None),
    "ModelViewSet list, 100 rows": ("GET", "/users?page_size=100", None, None),
    "ModelViewSet retrieve": ("GET", "/users/7", None, None),
    "JWT-protected GET": ("GET", "/secure", None, None),
    "JWT missing (401)": ("GET", "/secure", None, None),
    "CORS preflight": ("OPTIONS", "/secure", None, None),
    "rate limited (429)": ("GET", "/limited", None, None),
    "cache_page hit": ("GET", "/report?region=eu", None, None),
}
# The handler shapes the seeds write, against the API both django_bolt packages document
# (bench/project/benchsite/api.py, "the seeds' own handler shapes").
SEED_SHAPES = {
    "POST returns its Struct": ("POST", "/items/echo", POST_BODY, "application/json"),
    "response_model list of 50 Structs": ("GET", "/catalogue", None, None),
    "POST 100 KB body (1,000 objects)": ("POST", "/orders", BIG_ORDER_BODY, "application/json"),
    "urlencoded form": ("POST", "/contact", FORM_BODY, "application/x-www-form-urlencoded"),
    "QuerySet under a declared type": ("GET", "/users-qs", None, None),
    "ORM read, 1 row": ("GET", "/users-one/7", None, None),
    "ORM read, 10 rows": ("GET", "/users-ten", None, None),
    "sync handler": ("GET", "/sync-hello", None, None),
    "Depends chain": ("GET", "/depends", None, None),
    "404 raised by the handler": ("GET", "/missing/9", None, None),
}
ENDPOINTS.update(SEED_SHAPES)
# Only the two django_bolt packages have these (Rust auth, CORS, rate limits).
SECURITY = ["JWT-protected GET", "JWT missing (401)", "CORS preflight", "rate limited (429)"]
# Only ours has these.
OURS_ONLY = ["cache_page hit"]


def _hashed(name: str) -> str:
    """The hashed name run.sh's collectstatic gave a static file (its manifest)."""
    try:
        manifest = json.loads((OUT / "static" / "staticfiles.json").read_text())
        return "/static/" + manifest["paths"][name]
    except (OSError, ValueError, KeyError):
        return "/static/" + name


# Static files: ours (Rust), nginx serving the same directory, WhiteNoise under gunicorn.
STATIC = {
    "static CSS 10 KB": ("GET", _hashed("bench/site.css"), None, None),
    "static JS 200 KB": ("GET", _hashed("bench/app.js"), None, None),
    "static JS 200 KB, gzip": ("GET", _hashed("bench/app.js"), None, None),
    "static JS 200 KB, br": ("GET", _hashed("bench/app.js"), None, None),
}
ENDPOINTS.update(STATIC)
BENCH_SECRET = "bench-secret-0123456789abcdef0123456789"


def hs256(claims: dict, secret: str) -> str:
    import base64
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


TOKEN = hs256({"sub": "7", "exp": int(time.time()) + 86400 * 30}, BENCH_SECRET)
HEADERS = {
    "JWT-protected GET": {"Authorization": f"Bearer {TOKEN}"},
    "static JS 200 KB, gzip": {"Accept-Encoding": "gzip"},
    "static JS 200 KB, br": {"Accept-Encoding": "br"},
    "CORS preflight": {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    },
}
EXPECT = {
    "JWT missing (401)": 401,
    "CORS preflight": (200, 204),
    "rate limited (429)": 429,
    "404 raised by the handler": 404,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def contenders(port: int) -> dict[str, dict]:
    manage = str(PROJECT / "manage.py")
    nginx_conf = OUT / f"nginx-{port}.conf"  # one per port: contenders() runs once per server
    nginx_conf.write_text(
        (HERE / "nginx.conf")
        .read_text()
        .replace("__OUT__", str(OUT))
        .replace("__PORT__", str(port))
    )
    (OUT / "nginx-body").mkdir(exist_ok=True)

    def runbolt(python: Path, *extra: str) -> list[str]:
        return [
            str(python),
            manage,
            "runbolt",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--processes",
            "1",
            "--workers",
            "1",
            *extra,
        ]

    return {
        "django_bolt (ours)": {
            "cmd": runbolt(OUR_PY, *os.environ.get("BENCH_OUR_ARGS", "").split()),
            "env": {},
            "endpoints": list(ENDPOINTS),
        },
        # The cost of the access log (written to the log file, as to stderr).
        "django_bolt (access log)": {
            "cmd": runbolt(OUR_PY, "--access-log"),
            "env": {},
            "endpoints": ["hello", "admin login page"],
        },
        # The cost of the metrics (each request counted in the shared region).
        "django_bolt (metrics)": {
            "cmd": runbolt(OUR_PY, "--metrics-port", str(free_port())),
            "env": {},
            "endpoints": ["hello", "admin login page"],
        },
        # Django's paths with fewer and more Python threads than the default 2.
        "django_bolt (1 thread)": {
            "cmd": runbolt(OUR_PY, "--threads", "1"),
            "env": {},
            "endpoints": ["admin login page"],
        },
        "django_bolt (4 threads)": {
            "cmd": runbolt(OUR_PY, "--threads", "4"),
            "env": {},
            "endpoints": ["admin login page"],
        },
        # HTTPS from runbolt itself (rustls), HTTP/1.1 by wrk and HTTP/2 by h2load.
        "django_bolt (TLS)": {
            "cmd": runbolt(OUR_PY, *tls_args()),
            "env": {},
            "endpoints": ["hello"],
            "scheme": "https",
        },
        "django_bolt (TLS, HTTP/2)": {
            "cmd": runbolt(OUR_PY, *tls_args()),
            "env": {},
            "endpoints": ["hello"],
            "scheme": "https",
            "client": "h2load",
        },
        # An earlier build of ours, side by side with the current one: BENCH_BEFORE_PATH
        # is a directory holding that build's django_bolt package (its _core included).
        **(
            {
                "django_bolt (before)": {
                    "cmd": runbolt(OUR_PY),
                    "env": {"PYTHONPATH": os.environ["BENCH_BEFORE_PATH"]},
                    # An earlier build may predate what only ours has (cache_page).
                    "endpoints": [e for e in ENDPOINTS if e not in OURS_ONLY],
                }
            }
            if os.environ.get("BENCH_BEFORE_PATH")
            else {}
        ),
        REFERENCE: {
            "cmd": runbolt(REF_PY),
            "env": {},
            "endpoints": [e for e in ENDPOINTS if e not in STATIC and e not in OURS_ONLY],
        },
        "django-ninja on granian (WSGI)": {
            "cmd": [
                str(NINJA_BIN / "granian"),
                "--interface",
                "wsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--no-ws",
                "benchsite.wsgi:application",
            ],
            "env": {"BENCH_BOLT": "0", "BENCH_URLCONF": "benchsite.ninja_urls"},
            "cwd": str(PROJECT),
            "endpoints": [
                e
                for e in ENDPOINTS
                if e not in SECURITY
                and e not in STATIC
                and e not in OURS_ONLY
                and e not in SEED_SHAPES
            ],
        },
        "nginx (fixed body)": {
            "cmd": ["nginx", "-c", str(nginx_conf), "-p", str(OUT)],
            "env": {},
            # nginx-light has gzip_static but no Brotli: the br row gets the plain file.
            "endpoints": ["hello", *STATIC],
        },
        "WhiteNoise on gunicorn (sync)": {
            "cmd": [
                str(WHITENOISE_BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "benchsite.wsgi:application",
            ],
            "env": {"BENCH_BOLT": "0", "BENCH_WHITENOISE": "1"},
            "cwd": str(PROJECT),
            "endpoints": list(STATIC),
        },
    }


def tls_args() -> list[str]:
    """A certificate for 127.0.0.1 (made once per run, from a throwaway authority)."""
    cert, key = OUT / "tls-cert.pem", OUT / "tls-key.pem"
    if not cert.exists():
        import trustme

        issued = trustme.CA().issue_cert("127.0.0.1", "localhost")
        issued.private_key_pem.write_to_path(str(key))
        issued.cert_chain_pems[0].write_to_path(str(cert))
        for extra in issued.cert_chain_pems[1:]:
            extra.write_to_path(str(cert), append=True)
    return ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("server did not start")


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and all its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo.extend(int(k) for k in kids)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def parse_latency(text: str) -> float:
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def lua_string(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    )
    return f'"{escaped}"'


def run_h2load(url: str, duration: int, connections: int) -> dict:
    """GETs over HTTP/2 (one stream at a time per connection, as wrk does for HTTP/1.1)."""
    cmd = ["taskset", "-c", "1", "h2load", "-t1", f"-c{connections}", "-m1"]
    cmd += [f"-D{duration}", "--warm-up-time=1", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    status = re.search(r"status codes: (\d+) 2xx", out)
    return {
        "rps": rps,
        "requests": int(done.group(1)),
        "p99_ms": float("nan"),  # h2load reports no percentiles
        "non_2xx": int(done.group(1)) - int(status.group(1)),
        "socket_errors": "" if done.group(1) == done.group(2) else out[-300:],
    }


def run_wrk(
    port: int,
    endpoint: str,
    duration: int,
    connections: int,
    scheme: str = "http",
    client: str = "wrk",
) -> dict:
    method, path, body, content_type = ENDPOINTS[endpoint]
    if client == "h2load":
        return run_h2load(f"{scheme}://127.0.0.1:{port}{path}", duration, connections)
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    headers = dict(HEADERS.get(endpoint, {}))
    if content_type:
        headers["Content-Type"] = content_type
    if method != "GET" or headers:
        script = OUT / f"req-{re.sub(r'[^a-z0-9]+', '-', endpoint.lower())}.lua"
        lines = [f"wrk.method = {lua_string(method)}"]
        if body:
            lines.append(f"wrk.body = {lua_string(body)}")
        lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
        script.write_text("\n".join(lines) + "\n")
        cmd += ["-s", str(script)]
    cmd.append(f"{scheme}://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "requests": total,
        "p99_ms": parse_latency(out),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def check_endpoint(port: int, endpoint: str, scheme: str = "http") -> None:
    import ssl
    import urllib.error
    import urllib.request

    context = ssl._create_unverified_context() if scheme == "https" else None

    method, path, body, content_type = ENDPOINTS[endpoint]
    headers = dict(HEADERS.get(endpoint, {}))
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(
        f"{scheme}://127.0.0.1:{port}{path}",
        method=method,
        data=body.encode() if body else None,
        headers=headers,
    )
    expected = EXPECT.get(endpoint, 200)
    expected = expected if isinstance(expected, tuple) else (expected,)
    if endpoint == "rate limited (429)":  # spend the bucket first
        for _ in range(5):
            try:
                urllib.request.urlopen(req, timeout=10, context=context).close()
            except urllib.error.HTTPError:
                pass
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status not in expected:
        raise RuntimeError(f"{endpoint}: status {status}, expected {expected}")


class Contender:
    """One server process, started once and measured in every round."""

    def __init__(self, name: str, spec: dict, port: int) -> None:
        self.name = name
        self.spec = spec
        self.port = port
        self.scheme = spec.get("scheme", "http")
        self.client = spec.get("client", "wrk")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **spec["env"]}
        self.log = open(OUT / f"{re.sub(r'[^a-z0-9]+', '_', name.lower())}.log", "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", *spec["cmd"]],
            cwd=spec.get("cwd", str(PROJECT)),
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self, warmup: int, connections: int) -> None:
        wait_listening(self.port, self.proc)
        for endpoint in self.spec["endpoints"]:
            check_endpoint(self.port, endpoint, self.scheme)
            run_wrk(self.port, endpoint, warmup, connections, self.scheme, self.client)

    def measure(self, endpoint: str, duration: int, connections: int) -> dict:
        cpu_before = tree_cpu_seconds(self.proc.pid)
        r = run_wrk(self.port, endpoint, duration, connections, self.scheme, self.client)
        cpu = tree_cpu_seconds(self.proc.pid) - cpu_before
        r["cpu_us_per_req"] = cpu / r["requests"] * 1e6 if r["requests"] else float("nan")
        if (r["non_2xx"] and endpoint not in EXPECT) or r["socket_errors"]:
            print(
                f"  warning: {self.name} {endpoint}: {r['non_2xx']} non-2xx, errors {r['socket_errors']}"
            )
        return r

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM to the server's process group; SIGKILL if it has not exited in time."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--only", action="append", help="run only these contenders (substring match)"
    )
    parser.add_argument(
        "--endpoint", action="append", help="measure only these endpoints (substring match)"
    )
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--title", default="Benchmark results")
    args = parser.parse_args()
    for tool in ("wrk", "taskset", "nginx"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (bench/run.sh installs it)", file=sys.stderr)
            return 2
    OUT.mkdir(exist_ok=True)
    command = (
        "make bench" if not sys.argv[1:] else "python bench/bench.py " + shlex.join(sys.argv[1:])
    )
    # What is measured is the tree as the servers start (they import it then).
    started = report.meta(
        command,
        {k: getattr(args, k) for k in ("rounds", "duration", "warmup", "connections", "title")},
    )
    ports = {name: free_port() for name in contenders(0)}
    specs = {name: contenders(ports[name])[name] for name in ports}
    if args.only:
        specs = {k: v for k, v in specs.items() if any(o.lower() in k.lower() for o in args.only)}
    # All contenders run side by side (idle while another is measured) so that each
    # endpoint is measured for every server within seconds of the others.
    running = {name: Contender(name, spec, ports[name]) for name, spec in specs.items()}
    results: dict[str, list[dict]] = {name: [] for name in specs}
    try:
        for c in running.values():
            c.start(args.warmup, args.connections)
        names = list(running)
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no}/{args.rounds}", flush=True)
            for name in names:
                results[name].append({})
            order = names[round_no - 1 :] + names[: round_no - 1]  # rotate who goes first
            for endpoint in ENDPOINTS:
                if args.endpoint and not any(e.lower() in endpoint.lower() for e in args.endpoint):
                    continue
                for name in order:
                    c = running[name]
                    if endpoint not in c.spec["endpoints"]:
                        continue
                    r = c.measure(endpoint, args.duration, args.connections)
                    results[name][-1][endpoint] = r
                    print(
                        f"  {name:32s} {endpoint:18s} {r['rps']:>10.0f} req/s  p99 {r['p99_ms']:.2f} ms"
                        f"  cpu {r['cpu_us_per_req']:.1f} us/req",
                        flush=True,
                    )
    finally:
        for c in running.values():
            c.stop()
    measured = [e for e in ENDPOINTS if any(e in r for runs in results.values() for r in runs)]
    started["settings"]["endpoints"] = measured
    data = {"meta": started, "results": results}
    output = Path(os.environ.get("BENCH_CALLER_DIR", ".")) / args.output
    output.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    if output.resolve() == (HERE / "RESULTS.md").resolve():
        report.write_results()
    else:
        output.write_text(report.HttpRun(data).render(output.with_suffix(".json").name) + "\n")
    print(output.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
