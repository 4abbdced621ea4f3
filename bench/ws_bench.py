"""Side-by-side WebSocket echo benchmark: django_bolt against django-bolt 0.13.0.

Each server runs pinned to CPU 0 (one process, one Actix worker). The load comes from
``wsload`` (bench/wsload, Rust) in several client processes pinned to CPU 1, each opening
its share of the connections from its own source addresses (127.0.0.2, 127.0.0.3, ...).
All connections open first, then echo together for the measured window: back to back
(each connection sends its next message when the previous one is echoed) or at a fixed
rate per connection (the shape of "10,000 clients, about one message a second each").

For every scenario and round each server starts fresh; the table shows the median over
rounds of echoed messages per second, the share of connections that opened, the echo
latency, the server's CPU time per message and its memory per open connection (RSS with
the connections open minus RSS before).

    python bench/ws_bench.py --rounds 3 --duration 10
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

from bench import (  # noqa: E402
    OUR_PY,
    OUT,
    PROJECT,
    REF_PY,
    REFERENCE,
    free_port,
    stop_process,
    tree_cpu_seconds,
    wait_listening,
)

HERE = Path(__file__).resolve().parent
WSLOAD = Path(
    os.environ.get(
        "BENCH_WSLOAD",
        Path.home() / ".cache" / "django_bolt" / "wsload-target" / "release" / "wsload",
    )
)
SCENARIOS = {
    "1,000 connections, back to back": (1_000, 0.0),
    "10,000 connections, back to back": (10_000, 0.0),
    "10,000 connections, 1 message/s each": (10_000, 1.0),
}
SERVERS = {"django_bolt (ours)": OUR_PY, REFERENCE: REF_PY}


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and its descendants."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(k) for k in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def raise_fd_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            want = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Server:
    def __init__(self, name: str, python: Path) -> None:
        self.name = name
        self.port = free_port()
        slug = "ours" if "ours" in name else "ref"
        self.log = open(OUT / f"ws_{slug}.log", "w")
        self.proc = subprocess.Popen(
            [
                "taskset",
                "-c",
                "0",
                str(python),
                str(PROJECT / "manage.py"),
                "runbolt",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--processes",
                "1",
                "--workers",
                "1",
            ],
            cwd=str(PROJECT),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=raise_fd_limit,
        )
        wait_listening(self.port, self.proc)

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def run_scenario(server: Server, connections: int, rate: float, args: argparse.Namespace) -> dict:
    url = f"ws://127.0.0.1:{server.port}/ws/echo"
    # A few connections first, so start-up allocations are not counted per connection.
    warm = subprocess.run(
        [str(WSLOAD), "--url", url, "--connections", "20", "--duration", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(warm.stdout)["connected"] == 20, warm.stdout
    time.sleep(0.5)
    rss_before = tree_rss_kb(server.proc.pid)
    clients = args.clients
    connect_budget = max(4.0, connections / 1000 * 2.0)
    start_at = time.time() + connect_budget
    procs = []
    for c in range(clients):
        share = connections // clients + (1 if c < connections % clients else 0)
        sources = []
        for s in range(args.sources_per_client):
            sources += ["--source", f"127.0.0.{2 + c * args.sources_per_client + s}"]
        procs.append(
            subprocess.Popen(
                [
                    "taskset",
                    "-c",
                    "1",
                    str(WSLOAD),
                    "--url",
                    url,
                    "--connections",
                    str(share),
                    *sources,
                    "--start-at",
                    f"{start_at:.3f}",
                    "--duration",
                    str(args.duration),
                    "--rate",
                    str(rate),
                    "--payload",
                    str(args.payload),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=raise_fd_limit,
            )
        )
    time.sleep(max(0.0, start_at - time.time()))
    cpu_start = tree_cpu_seconds(server.proc.pid)
    time.sleep(args.duration / 2)
    rss_open = tree_rss_kb(server.proc.pid)
    time.sleep(max(0.0, start_at + args.duration - time.time()))
    cpu = tree_cpu_seconds(server.proc.pid) - cpu_start
    parts = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"wsload failed: {err.strip()}")
        parts.append(json.loads(out))
    connected = sum(p["connected"] for p in parts)
    messages = sum(p["messages"] for p in parts)
    late = any(p["late_start"] for p in parts)
    failures: dict[str, int] = {}
    for p in parts:
        for f in p["failures"]:
            failures[f["error"]] = failures.get(f["error"], 0) + f["count"]
    return {
        "msgs_per_s": messages / args.duration,
        "connected_pct": 100.0 * connected / connections,
        "p50_ms": statistics.median(p["p50_ms"] for p in parts),
        "p99_ms": max(p["p99_ms"] for p in parts),
        "cpu_us_per_msg": cpu / messages * 1e6 if messages else float("nan"),
        "cpu_pct": 100.0 * cpu / args.duration,
        "rss_kb_per_conn": (rss_open - rss_before) / connected if connected else float("nan"),
        "errors": sum(p["errors"] for p in parts),
        "late_start": late,
        "failures": failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sources-per-client", type=int, default=2)
    parser.add_argument("--payload", type=int, default=32)
    parser.add_argument("--only", action="append")
    parser.add_argument("--scenario", action="append")
    parser.add_argument("--output", default=str(HERE / "WS_RESULTS.md"))
    args = parser.parse_args()
    if not WSLOAD.exists():
        print(f"{WSLOAD} is missing (bench/ws.sh builds it)", file=sys.stderr)
        return 2
    OUT.mkdir(exist_ok=True)
    servers = {k: v for k, v in SERVERS.items() if not args.only or any(o in k for o in args.only)}
    scenarios = {
        k: v
        for k, v in SCENARIOS.items()
        if not args.scenario or any(s in k for s in args.scenario)
    }
    command = ("python bench/ws_bench.py " + shlex.join(sys.argv[1:])).strip()
    # What is measured is the tree as the first server starts.
    started = report.meta(
        command,
        {k: getattr(args, k) for k in ("rounds", "duration", "clients", "sources_per_client")}
        | {"payload": args.payload, "scenarios": list(scenarios)},
    )
    results: dict[str, dict[str, list]] = {name: {} for name in servers}
    names = list(servers)
    for round_no in range(1, args.rounds + 1):
        order = names[(round_no - 1) % len(names) :] + names[: (round_no - 1) % len(names)]
        for scenario, (connections, rate) in scenarios.items():
            for name in order:
                server = Server(name, servers[name])
                try:
                    r = run_scenario(server, connections, rate, args)
                finally:
                    server.stop()
                results[name].setdefault(scenario, []).append(r)
                print(
                    f"round {round_no} {scenario} {name}: {r['msgs_per_s']:,.0f} msg/s, "
                    f"{r['connected_pct']:.1f}% connected, p99 {r['p99_ms']:.1f} ms, "
                    f"{r['cpu_us_per_msg']:.1f} us/msg, {r['rss_kb_per_conn']:.1f} KB/conn"
                    + (" (late start)" if r["late_start"] else ""),
                    flush=True,
                )
    data = {"meta": started, "results": results}
    output = Path(args.output)
    output.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    output.write_text(report.WsRun(data).render() + "\n")
    print(f"wrote {output}")
    if output.resolve() == (HERE / "WS_RESULTS.md").resolve() and report.write_results():
        print("rendered RESULTS.md again with these WebSocket figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
