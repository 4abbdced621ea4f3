"""Renders the benchmark reports from their raw results.

Every run of ``bench.py`` and ``ws_bench.py`` keeps its raw rounds in a JSON file beside its
table, with the command, date, commit and machine that produced them. RESULTS.md is
rendered whole from RESULTS.json (the HTTP run of ``make bench``) and WS_RESULTS.json (the
WebSocket run of ``make bench-ws``): every figure in it, the summaries included, is computed
here from those rounds. ``python bench/report.py`` renders it again without measuring.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REFERENCE = "django-bolt 0.13.0"
OURS = "django_bolt (ours)"
NGINX = "nginx (fixed body)"
WHITENOISE = "WhiteNoise on gunicorn (sync)"
NINJA = "django-ninja on granian (WSGI)"
NAN = float("nan")


def commit() -> str:
    """The commit measured, marked when the package or the bench project had local changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git(
            "status", "--porcelain", "--", "django_bolt", "rust", "Cargo.toml", "bench/project"
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} with uncommitted changes" if dirty else head


def meta(command: str, settings: dict) -> dict:
    """What a run records about itself beside its raw rounds."""
    return {
        "command": command,
        "date": datetime.date.today().isoformat(),
        "commit": commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}",
        "python": platform.python_version(),
        "settings": settings,
    }


def load(name: str) -> dict | None:
    path = HERE / name
    if not path.exists():
        return None
    return json.loads(path.read_text())


def median_of(runs: list[dict], endpoint: str, key: str) -> float:
    values = [r[endpoint][key] for r in runs if endpoint in r]
    return statistics.median(values) if values else NAN


def paired(runs: list[dict], base_runs: list[dict], endpoint: str) -> list[float]:
    """Throughput over the base's, round by round (the two measured seconds apart)."""
    return [
        r[endpoint]["rps"] / b[endpoint]["rps"]
        for r, b in zip(runs, base_runs, strict=True)
        if endpoint in r and endpoint in b and b[endpoint]["rps"]
    ]


def span(values: list[float], fmt: str = "{:.2f}") -> str:
    """A range that includes every value given ("1.10-1.32", or one value)."""
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return low if low == high else f"{low}-{high}"


class HttpRun:
    """One run of bench.py: per contender, a list of rounds of {endpoint: figures}."""

    def __init__(self, data: dict) -> None:
        self.meta = data["meta"]
        self.results: dict[str, list[dict]] = data["results"]
        self.endpoints: list[str] = self.meta["settings"]["endpoints"]

    def has(self, name: str, endpoint: str) -> bool:
        return self.rps(name, endpoint) > 0

    def rps(self, name: str, endpoint: str) -> float:
        return median_of(self.results.get(name, []), endpoint, "rps")

    def cpu(self, name: str, endpoint: str) -> float:
        return median_of(self.results.get(name, []), endpoint, "cpu_us_per_req")

    def p99(self, name: str, endpoint: str) -> float:
        return median_of(self.results.get(name, []), endpoint, "p99_ms")

    def ratio(self, name: str, base: str, endpoint: str) -> float:
        """Median throughput over the base's median, as in the tables' `x ref`."""
        if not (self.has(name, endpoint) and self.has(base, endpoint)):
            return NAN
        return self.rps(name, endpoint) / self.rps(base, endpoint)

    def cpu_ratio(self, name: str, base: str, endpoint: str) -> float:
        """How many times the base's CPU per request the contender spends."""
        if not (self.has(name, endpoint) and self.has(base, endpoint)):
            return NAN
        return self.cpu(name, endpoint) / self.cpu(base, endpoint)

    def base_of(self, endpoint: str) -> str:
        """The base of `x ref`: the reference when it serves the endpoint, else nginx
        (static files), else ours (a run of our own variants)."""
        measured = [n for n in self.results if self.has(n, endpoint)]
        return next((b for b in (REFERENCE, NGINX, OURS) if b in measured), measured[0])

    def header(self, title: str, json_name: str) -> list[str]:
        s = self.meta["settings"]
        return [
            f"# {title}",
            "",
            f"Produced by `{self.meta['command']}` on {self.meta['date']} at commit "
            f"{self.meta['commit']}; the raw results of every round are in "
            f"[{json_name}]({json_name}).",
            "",
            f"Machine: {self.meta['machine']}, Python {self.meta['python']} for ours. Each "
            f"server pinned to CPU 0 (`taskset -c 0`), `wrk -t1 -c{s['connections']} "
            f"-d{s['duration']}s` pinned to CPU 1, {s['warmup']}s warm-up per endpoint, one "
            "process and one Actix worker each, no access log unless named. All servers run side "
            "by side and each endpoint is measured on every server in turn (the first server "
            f"rotating per round); median of {s['rounds']} rounds. `x ref` is throughput "
            f"relative to {REFERENCE} measured in the same run; CPU is the server's CPU time "
            "(user+system, all its threads and children) per request.",
            "",
        ]

    def table(self, endpoint: str, level: str = "##") -> list[str]:
        measured = [n for n in self.results if self.has(n, endpoint)]
        if not measured:
            return []
        base = self.base_of(endpoint)
        lines = [f"{level} {endpoint}", ""]
        if base != REFERENCE:
            lines += [f"`x ref` here is relative to {base}.", ""]
        lines += ["| server | req/s | x ref | p99 ms | CPU us/req |", "|---|---:|---:|---:|---:|"]
        for name in measured:
            lines.append(
                f"| {name} | {self.rps(name, endpoint):,.0f} | "
                f"{self.ratio(name, base, endpoint):.2f} | {self.p99(name, endpoint):.2f} | "
                f"{self.cpu(name, endpoint):.1f} |"
            )
        lines.append("")
        spreads = [
            f"{name} {span(p)} (median {statistics.median(p):.2f})"
            for name in measured
            if name != base and (p := paired(self.results[name], self.results[base], endpoint))
        ]
        if len(self.results[base]) > 1 and spreads:
            lines += [f"`x ref` paired round by round: {'; '.join(spreads)}.", ""]
        return lines

    def render(self, json_name: str) -> str:
        """A report of its own (OPERATIONS.md, CACHE.md...): its tables under its title."""
        lines = self.header(self.meta["settings"]["title"], json_name)
        for endpoint in self.endpoints:
            lines += self.table(endpoint)
        return "\n".join(lines)


def summary(run: HttpRun) -> list[str]:
    lines = [
        "## Summary",
        "",
        f"Ours against the base of each row ({REFERENCE} where it serves the endpoint, nginx "
        "for static files): the median throughput ratio, the range of the per-round ratios "
        "(each round's two figures measured seconds apart), and the CPU time per request of "
        "both.",
        "",
        "| endpoint | base | ours req/s | x base | per-round range | CPU us/req ours / base |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for endpoint in run.endpoints:
        if not run.has(OURS, endpoint):
            continue
        base = run.base_of(endpoint)
        if base == OURS:
            lines.append(
                f"| {endpoint} | (ours only) | {run.rps(OURS, endpoint):,.0f} | | | "
                f"{run.cpu(OURS, endpoint):.1f} |"
            )
            continue
        rounds = paired(run.results[OURS], run.results[base], endpoint)
        lines.append(
            f"| {endpoint} | {base} | {run.rps(OURS, endpoint):,.0f} | "
            f"{run.ratio(OURS, base, endpoint):.2f} | {span(rounds)} | "
            f"{run.cpu(OURS, endpoint):.1f} / {run.cpu(base, endpoint):.1f} |"
        )
    return [*lines, ""]


def before_after(run: HttpRun) -> list[str]:
    before = "django_bolt (before)"
    if before not in run.results:
        return []
    lines = [
        "## This build against the one before",
        "",
        '"django_bolt (before)" is an earlier build of ours (`BENCH_BEFORE_PATH`), measured '
        "side by side: each endpoint's throughput now over before, round by round, and the CPU "
        "time per request of both.",
        "",
        "| endpoint | now / before, median of rounds | range | CPU us/req now / before |",
        "|---|---:|---:|---:|",
    ]
    for endpoint in run.endpoints:
        rounds = paired(run.results[OURS], run.results[before], endpoint)
        if rounds:
            lines.append(
                f"| {endpoint} | {statistics.median(rounds):.2f} | {span(rounds)} | "
                f"{run.cpu(OURS, endpoint):.1f} / {run.cpu(before, endpoint):.1f} |"
            )
    return [*lines, ""]


def _times(values: list[float]) -> str:
    return span(values, "{:.1f}") + "x"


def static_section(run: HttpRun) -> list[str]:
    rows = [e for e in run.endpoints if e.startswith("static ") and run.has(OURS, e)]
    if not rows:
        return []
    lines = [
        "## Static files",
        "",
        "`run.sh` generates a 10 KB stylesheet and a 200 KB script and collects them with "
        "`CompressedManifestStaticFilesStorage`; every row fetches them by their hashed names, "
        "from ours (Rust), from nginx serving the same directory, and from WhiteNoise under one "
        "sync gunicorn worker. nginx-light has no Brotli module, so its `br` row sends the plain "
        "file; the generated script compresses about 10x, more than typical code. Ours answers "
        "files up to 256 KiB from memory after their first read.",
        "",
        "| file | ours / nginx | ours / WhiteNoise | WhiteNoise CPU per request / ours |",
        "|---|---:|---:|---:|",
    ]
    for e in rows:
        lines.append(
            f"| {e.removeprefix('static ')} | {run.ratio(OURS, NGINX, e):.2f} | "
            f"{run.ratio(OURS, WHITENOISE, e):.1f} | {run.cpu_ratio(WHITENOISE, OURS, e):.1f} |"
        )
    big = [e for e in rows if e == "static JS 200 KB"]
    if big:
        e = big[0]
        used = run.rps(OURS, e) * run.cpu(OURS, e) / 1e6
        lines += [
            "",
            f"The plain 200 KB row moves {run.rps(OURS, e) * 200 * 1024 / 1e9:.1f} GB/s of "
            f"responses from ours; the server used {used:.0%} of its core there "
            "(throughput x CPU per request), so where that is well under 100% the load "
            "generator's one core, not the server, set the pace.",
        ]
    return [*lines, ""]


def viewsets_section(run: HttpRun) -> list[str]:
    rows = [e for e in run.endpoints if e.startswith("ModelViewSet") and run.has(OURS, e)]
    if not rows:
        return []
    lines = [
        "## Model ViewSets",
        "",
        "Each package's documented model ViewSet over `django.contrib.auth`'s `User` (200 rows "
        "seeded by `run.sh`) with page-number pagination: ours a `ModelViewSet` with a "
        "`ModelSerializer` generated from the model; the reference a `ModelViewSet` with a "
        "`Serializer` Struct; django-ninja a `ModelSchema` with `@paginate(PageNumberPagination)` "
        "and `get_object_or_404`, on granian. Seven fields per user; `GET /users?page_size=10`, "
        "`?page_size=100` and `GET /users/7`.",
        "",
        "| endpoint | ours / reference | ours / django-ninja | CPU us/req ours, reference, "
        "django-ninja |",
        "|---|---:|---:|---:|",
    ]
    for e in rows:
        lines.append(
            f"| {e.removeprefix('ModelViewSet ')} | {run.ratio(OURS, REFERENCE, e):.2f} | "
            f"{run.ratio(OURS, NINJA, e):.2f} | {run.cpu(OURS, e):.0f}, {run.cpu(REFERENCE, e):.0f}, "
            f"{run.cpu(NINJA, e):.0f} |"
        )
    return [*lines, ""]


def security_section(run: HttpRun) -> list[str]:
    rust_only = ["JWT missing (401)", "CORS preflight", "rate limited (429)"]
    rows = [e for e in rust_only if run.has(OURS, e)]
    if not rows or not run.has(OURS, "hello"):
        return []
    hello = run.cpu(OURS, "hello")
    below = all(run.cpu(OURS, e) < hello for e in rows)
    return [
        "## The security endpoints",
        "",
        "The routes are in `bench/project/benchsite/api.py`, declared the same way for both "
        "packages: `/secure` is `auth=[JWTAuthentication(secret=...)], "
        "guards=[IsAuthenticated()]` with `@cors(...)` (a valid HS256 token; the handler reads "
        '`request.get("context")`), and `/limited` is `@rate_limit(rps=1, burst=1)`, so nearly '
        "every request of that row is a 429. Ours answers the 401, the preflight and the 429 in "
        "Rust (`TestClient.handed_over` shows in the test suite that none reaches Python).",
        "",
        f"CPU time per request, ours: {', '.join(f'{e} {run.cpu(OURS, e):.1f} us' for e in rows)}"
        f", against hello's {hello:.1f} us (which enters Python once per request)"
        + ("" if below else "; not every one of them is below hello's in this run")
        + f". {REFERENCE}: "
        + ", ".join(f"{e} {run.cpu(REFERENCE, e):.1f} us" for e in rows if run.has(REFERENCE, e))
        + ".",
        "",
    ]


def threads_section(run: HttpRun) -> list[str]:
    endpoint = "admin login page"
    names = {
        1: "django_bolt (1 thread)",
        2: OURS,
        4: "django_bolt (4 threads)",
    }
    present = {n: name for n, name in names.items() if run.has(name, endpoint)}
    if len(present) < 2:
        return []
    cells = "; ".join(
        f"{n} thread{'s' if n > 1 else ''}: {run.rps(name, endpoint):,.0f} req/s, p99 "
        f"{run.p99(name, endpoint):.0f} ms, {run.cpu(name, endpoint):,.0f} us of CPU per request"
        for n, name in present.items()
    )
    return [
        "## Python threads",
        "",
        "Django's admin login page (CPU-bound, no I/O wait) served with `--threads 1`, 2 (the "
        f"default) and 4, at {run.meta['settings']['connections']} concurrent clients: {cells}.",
        "",
    ]


def operators_section(run: HttpRun) -> list[str]:
    rows = []
    for name in (
        "django_bolt (access log)",
        "django_bolt (metrics)",
        "django_bolt (TLS)",
        "django_bolt (TLS, HTTP/2)",
    ):
        for e in run.endpoints:
            if run.has(name, e):
                rows.append(
                    f"| {name.removeprefix('django_bolt (').rstrip(')')} | {e} | "
                    f"{run.ratio(name, OURS, e):.2f} | {run.cpu_ratio(name, OURS, e):.2f} |"
                )
    if not rows:
        return []
    return [
        "## Operator features",
        "",
        "Ours with `--access-log`, `--metrics-port` and TLS (HTTP/1.1 by wrk, HTTP/2 by "
        "h2load), against ours without them in the same run. [OPERATIONS.md](OPERATIONS.md) "
        "measures the same at hello with more rounds.",
        "",
        "| feature | endpoint | throughput / plain | CPU per request / plain |",
        "|---|---|---:|---:|",
        *rows,
        "",
    ]


class WsRun:
    """One run of ws_bench.py: per server, per scenario, a list of rounds."""

    def __init__(self, data: dict) -> None:
        self.meta = data["meta"]
        self.results: dict[str, dict[str, list[dict]]] = data["results"]
        self.scenarios: list[str] = self.meta["settings"]["scenarios"]

    def med(self, name: str, scenario: str, key: str) -> float:
        runs = self.results.get(name, {}).get(scenario, [])
        return statistics.median(r[key] for r in runs) if runs else NAN

    def tables(self, level: str = "##") -> list[str]:
        lines: list[str] = []
        for scenario in self.scenarios:
            lines += [
                f"{level} {scenario}",
                "",
                "| server | messages/s | x ref | connected | p50 ms | p99 ms | CPU us/msg | "
                "server CPU | KB/conn |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            ref = self.med(REFERENCE, scenario, "msgs_per_s")
            for name, by_scenario in self.results.items():
                runs = by_scenario.get(scenario, [])
                if not runs:
                    continue
                rate = self.med(name, scenario, "msgs_per_s")
                ratio = rate / ref if ref == ref and ref else NAN
                connected = min(r["connected_pct"] for r in runs)
                lines.append(
                    f"| {name} | {rate:,.0f} | {ratio:.2f} | {connected:.1f}% | "
                    f"{self.med(name, scenario, 'p50_ms'):.2f} | "
                    f"{self.med(name, scenario, 'p99_ms'):.1f} | "
                    f"{self.med(name, scenario, 'cpu_us_per_msg'):.1f} | "
                    f"{self.med(name, scenario, 'cpu_pct'):.0f}% | "
                    f"{self.med(name, scenario, 'rss_kb_per_conn'):.1f} |"
                )
                notes = [r["failures"] for r in runs if r["failures"]]
                if notes:
                    lines.append(f"|  | failures: {notes} | | | | | | | |")
            lines.append("")
        return lines

    def describe(self) -> str:
        s = self.meta["settings"]
        return (
            f"Machine: {self.meta['machine']}. Each server pinned to CPU 0 (one process, one "
            f"Actix worker); {s['clients']} `wsload` client processes pinned to CPU 1, "
            f"{s['sources_per_client']} source addresses each; {s['payload']}-byte text messages "
            f"echoed for {s['duration']}s after every connection has opened; each server started "
            f"fresh per scenario and round; median of {s['rounds']} rounds. `x ref` is throughput "
            f"relative to {REFERENCE} in the same run; CPU is the server's CPU time per echoed "
            "message; memory is the server's RSS growth per open connection."
        )

    def render(self) -> str:
        return "\n".join(
            [
                "# WebSocket benchmark results",
                "",
                f"Produced by `{self.meta['command']}` on {self.meta['date']} at commit "
                f"{self.meta['commit']}; the raw results of every round are in "
                "[WS_RESULTS.json](WS_RESULTS.json).",
                "",
                self.describe(),
                "",
                *self.tables(),
            ]
        )

    def summary(self) -> str:
        def across(name: str, key: str) -> list[float]:
            return [self.med(name, s, key) for s in self.scenarios]

        ours_cpu, ref_cpu = across(OURS, "cpu_us_per_msg"), across(REFERENCE, "cpu_us_per_msg")
        memory = [
            (o / r - 1) * 100
            for o, r in zip(
                across(OURS, "rss_kb_per_conn"), across(REFERENCE, "rss_kb_per_conn"), strict=True
            )
            if r == r and r
        ]
        more = all(m > 0 for m in memory)
        less = all(m < 0 for m in memory)
        word = "above" if more else "below" if less else "against"
        return (
            f"Across the {len(self.scenarios)} scenarios ours spends {span(ours_cpu, '{:.1f}')} us "
            f"of CPU per echoed message ({REFERENCE}: {span(ref_cpu, '{:.1f}')} us), and its "
            f"memory per open connection is {span([abs(m) for m in memory], '{:.0f}')}% {word} "
            "the reference's"
            + ("" if more or less else f" (signed: {span(memory, '{:+.0f}')}%)")
            + "."
        )


def ws_section(ws: WsRun | None) -> list[str]:
    if ws is None:
        return []
    return [
        "## WebSockets",
        "",
        f"Echo over WebSockets, produced by `{ws.meta['command']}` (`make bench-ws`) on "
        f"{ws.meta['date']} at commit {ws.meta['commit']}; raw rounds in "
        "[WS_RESULTS.json](WS_RESULTS.json). " + ws.describe(),
        "",
        ws.summary(),
        "",
        *ws.tables("###"),
    ]


def render_results(run: HttpRun, ws: WsRun | None) -> str:
    lines = run.header("Benchmark results", "RESULTS.json")
    lines += summary(run)
    lines += before_after(run)
    lines += static_section(run)
    lines += viewsets_section(run)
    lines += security_section(run)
    lines += threads_section(run)
    lines += operators_section(run)
    lines += ws_section(ws)
    lines += ["## Every endpoint", ""]
    for endpoint in run.endpoints:
        lines += run.table(endpoint, "###")
    lines += [
        "## Measured apart",
        "",
        "Each generated by its own command, named at its top, with its raw rounds beside it: "
        "[OPERATIONS.md](OPERATIONS.md) (the operator features at hello, more rounds), "
        "[CACHE.md](CACHE.md) (a `cache_page` hit beside hello) and "
        "[REQUEST_PATH.md](REQUEST_PATH.md) (a change's request path against the build "
        "before it).",
        "",
    ]
    return "\n".join(lines)


def write_results() -> Path | None:
    """RESULTS.md from the raw results at hand; None when the HTTP run has not been made."""
    http = load("RESULTS.json")
    if http is None or "meta" not in http:
        return None
    ws = load("WS_RESULTS.json")
    out = HERE / "RESULTS.md"
    out.write_text(render_results(HttpRun(http), WsRun(ws) if ws and "meta" in ws else None) + "\n")
    return out


def main() -> int:
    out = write_results()
    if out is None:
        print("bench/RESULTS.json is missing: run `make bench` first", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


class FloodRun:
    """One run of flood.py: per contender, a list of rounds of the probe's figures alone
    and while Django's pages are flooded."""

    def __init__(self, data: dict) -> None:
        self.meta = data["meta"]
        self.results: dict[str, list[dict]] = data["results"]

    def med(self, name: str, state: str, key: str) -> float:
        runs = self.results.get(name, [])
        return statistics.median(r[state][key] for r in runs) if runs else NAN

    def render(self, json_name: str) -> str:
        s = self.meta["settings"]
        lines = [
            "# API latency while Django's pages are flooded",
            "",
            f"Produced by `{self.meta['command']}` on {self.meta['date']} at commit "
            f"{self.meta['commit']}; the raw results of every round are in "
            f"[{json_name}]({json_name}).",
            "",
            f"Machine: {self.meta['machine']}, Python {self.meta['python']}. Each server "
            "pinned to CPU 0 (one process, one Actix worker, its default threads); a probe "
            f"sends `GET /hello` every {s['probe_every_ms']:g} ms over one keep-alive "
            f"connection for {s['duration']}s, alone, then while `wrk -c"
            f"{s['flood_connections']}` (pinned to CPU 1) loads Django's admin login page; "
            f"median of {s['rounds']} rounds (the p99 of each round's probe, then the median "
            "over rounds; `worst` is the largest p99 of any round).",
            "",
            "| server | alone p50 ms | alone p99 ms | flooded p50 ms | flooded p99 ms | "
            "worst p99 ms | pages/s |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, runs in self.results.items():
            worst = max(r["flooded"]["p99_ms"] for r in runs)
            lines.append(
                f"| {name} | {self.med(name, 'alone', 'p50_ms'):.2f} | "
                f"{self.med(name, 'alone', 'p99_ms'):.2f} | "
                f"{self.med(name, 'flooded', 'p50_ms'):.1f} | "
                f"{self.med(name, 'flooded', 'p99_ms'):.1f} | {worst:.1f} | "
                f"{self.med(name, 'flooded', 'page_rps'):,.0f} |"
            )
        return "\n".join(lines)
