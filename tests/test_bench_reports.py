"""Every published benchmark figure is its raw results rendered: each report in bench/ is
exactly what bench/report.py makes of the JSON kept beside it (the rounds, with the
command, date, commit and machine that produced them), so no table or summary can be
edited by hand or drift from its data."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def report_module():
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


report = report_module()


def raw(name: str) -> dict:
    data = json.loads((BENCH / name).read_text())
    assert set(data["meta"]) == {"command", "date", "commit", "machine", "python", "settings"}
    return data


def test_results_md_is_rendered_whole_from_its_raw_rounds():
    http = report.HttpRun(raw("RESULTS.json"))
    ws = report.WsRun(raw("WS_RESULTS.json"))
    assert (BENCH / "RESULTS.md").read_text() == report.render_results(http, ws) + "\n"


def test_the_websocket_report_is_its_raw_rounds():
    ws = report.WsRun(raw("WS_RESULTS.json"))
    assert (BENCH / "WS_RESULTS.md").read_text() == ws.render() + "\n"


@pytest.mark.parametrize("name", ["OPERATIONS", "CACHE", "REQUEST_PATH", "SHAPES"])
def test_each_report_measured_apart_is_its_raw_rounds(name):
    run = report.HttpRun(raw(f"{name}.json"))
    assert (BENCH / f"{name}.md").read_text() == run.render(f"{name}.json") + "\n"


def test_the_flood_report_is_its_raw_rounds():
    run = report.FloodRun(raw("FLOOD.json"))
    assert (BENCH / "FLOOD.md").read_text() == run.render("FLOOD.json") + "\n"


def test_a_range_includes_every_value():
    assert report.span([1.234, 0.9, 1.5]) == "0.90-1.50"
    assert report.span([2.0, 2.001]) == "2.00"
    assert report.span([float("nan")]) == "n/a"
