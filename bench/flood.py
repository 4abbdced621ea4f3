"""API latency while Django's pages are flooded.

Each contender (one process, one Actix worker, pinned to CPU 0) is measured in two
states, round after round: a probe alone, then the same probe while `wrk -c200` (pinned
to CPU 1) loads Django's admin login page. The probe is one keep-alive client sending
`GET /hello` every 20 ms and timing each answer, so its latency is what an API caller
sees while the site's pages are busy, not a saturation figure. Writes FLOOD.json (the raw
latencies of every round, with the command, date and commit) and FLOOD.md from it.

    python bench/flood.py [--rounds 3 --duration 10 --only NAME --output FLOOD.md]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shlex
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402

import bench  # noqa: E402

PROBE_EVERY = 0.02
FLOOD_CONNECTIONS = 200
#: What is measured (the API endpoint the probe calls, the Django page flooded).
PROBE, PAGE = "/hello", "admin login page"


def probe(port: int, seconds: float) -> list[float]:
    """Milliseconds of each GET /hello sent every PROBE_EVERY seconds for ``seconds``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    next_at = time.monotonic()
    while next_at < deadline:
        started = time.monotonic()
        conn.request("GET", PROBE)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{PROBE}: status {resp.status}")
        latencies.append((time.monotonic() - started) * 1000)
        next_at += PROBE_EVERY
        time.sleep(max(0.0, next_at - time.monotonic()))
    conn.close()
    return latencies


def figures(latencies: list[float]) -> dict:
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(ordered),
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "max_ms": ordered[-1],
        "mean_ms": statistics.fmean(ordered),
    }


def flooded(contender: bench.Contender, seconds: int) -> dict:
    """The probe's figures while wrk floods the admin login page, and wrk's req/s."""
    result: dict = {}

    def flood() -> None:
        result["page"] = bench.run_wrk(contender.port, PAGE, seconds + 2, FLOOD_CONNECTIONS)

    loader = threading.Thread(target=flood)
    loader.start()
    time.sleep(1)  # the flood is at full strength before the probe starts
    latencies = probe(contender.port, seconds)
    loader.join()
    return {**figures(latencies), "page_rps": result["page"]["rps"]}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--only", action="append", help="contenders (substring match)")
    parser.add_argument("--output", default=str(HERE / "FLOOD.md"))
    args = parser.parse_args()
    names = [
        name
        for name in ("django_bolt (ours)", report.REFERENCE, "django_bolt (before)")
        if name in bench.contenders(0) and (not args.only or any(o in name for o in args.only))
    ]
    bench.OUT.mkdir(exist_ok=True)
    command = "python bench/flood.py " + shlex.join(sys.argv[1:])
    settings = {
        "rounds": args.rounds,
        "duration": args.duration,
        "probe_every_ms": PROBE_EVERY * 1000,
        "flood_connections": FLOOD_CONNECTIONS,
        "contenders": names,
    }
    data: dict = {"meta": report.meta(command.strip(), settings), "results": {}}
    servers = {}
    try:
        for name in names:
            port = bench.free_port()
            servers[name] = bench.Contender(name, bench.contenders(port)[name], port)
        for server in servers.values():
            bench.wait_listening(server.port, server.proc)
            bench.check_endpoint(server.port, "hello")
            bench.check_endpoint(server.port, PAGE)
            bench.run_wrk(server.port, PAGE, 2, FLOOD_CONNECTIONS)  # warm-up
        for round_no in range(args.rounds):
            order = names[round_no % len(names) :] + names[: round_no % len(names)]
            for name in order:
                server = servers[name]
                alone = figures(probe(server.port, args.duration))
                busy = flooded(server, args.duration)
                data["results"].setdefault(name, []).append({"alone": alone, "flooded": busy})
                print(
                    f"round {round_no + 1} {name}: p99 alone {alone['p99_ms']:.1f} ms, "
                    f"flooded {busy['p99_ms']:.1f} ms ({busy['page_rps']:.0f} pages/s)",
                    flush=True,
                )
    finally:
        for server in servers.values():
            server.stop()
    output = Path(args.output)
    raw = output.with_suffix(".json")
    raw.write_text(json.dumps(data, indent=1) + "\n")
    output.write_text(report.FloodRun(data).render(raw.name) + "\n")
    print(f"wrote {output} and {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
