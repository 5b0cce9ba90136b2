"""The benchmark harness (not the figures): a small suite runs end to end into its own report,
the workshop timing split adds up, and quick runs never touch docs/PERFORMANCE.md."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.__main__ import QUICK_REPORT, parse_args
from bench.workshop_bench import split_notebook

ROOT = Path(__file__).resolve().parents[1]


def test_load_suite_runs_and_writes_only_its_report(tmp_path):
    documented = (ROOT / "docs" / "PERFORMANCE.md").read_text()
    out = tmp_path / "PERFORMANCE.md"
    env = {**os.environ, "RFMKIT_BENCH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--suite", "load",
                           "--load-rows", "30000", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    section = text.split("<!-- bench:load:begin -->")[1].split("<!-- bench:load:end -->")[0]
    assert " cores, " in section and " GB RAM" in section and "Measured " in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and "rows/s" not in line]
    assert len(rows) == 6  # two kit loads, two plain DuckDB reads, two pandas baselines
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert int(cells[1].replace(",", "")) > 29_000  # rows
        assert float(cells[4].replace(",", "")) > 0     # peak MB
    # exactly the damaged rows were rejected (the case fails otherwise), and the summary says so
    read = int(rows[0].strip("|").split("|")[1].replace(",", ""))
    assert "rejected exactly those rows" in section and f"({read // 10_000} rows)" in section
    assert (ROOT / "docs" / "PERFORMANCE.md").read_text() == documented


def test_rfm_suite_compares_the_kit_with_every_baseline_on_the_same_scores(tmp_path):
    """Kit, hand-written DuckDB, polars and pandas at a small size, each in its own process: the run
    fails unless all four score the same customers with the same score sum; the targets block is
    written from the same run."""
    out = tmp_path / "PERFORMANCE.md"
    env = {**os.environ, "RFMKIT_BENCH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--suite", "rfm", "--rfm-rows", "20000",
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    section = text.split("<!-- bench:rfm:begin -->")[1].split("<!-- bench:rfm:end -->")[0]
    row = next(line for line in section.splitlines() if line.startswith("| 20,000 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2].endswith("×") and cells[3].endswith("×") and cells[4].endswith("×")  # ratios first
    assert all(float(c.rstrip("×")) > 0 for c in cells[2:6])
    stored = json.loads((tmp_path / "cache" / "results" / "rfm-20000.json").read_text())
    sums = {kind: stored[kind]["scores_sum"] for kind in ("kit", "duckdb", "polars", "pandas")}
    assert len(set(sums.values())) == 1 and stored["kit"]["customers"] > 10_000
    targets = text.split("<!-- bench:targets:begin -->")[1].split("<!-- bench:targets:end -->")[0]
    assert "RFM at 20,000 payment rows: kit within 1.3×" in targets
    assert "not measured in this run" in targets  # serving and workshop did not run


def test_quick_mode_defaults_and_suite_names():
    quick = parse_args(["--quick"])
    assert quick.repeat == 1 and quick.load_rows == 1_000_000 and quick.rfm_rows == "1000000"
    assert quick.workshop_params == "scale=0.1" and "workshop" in quick.suites
    assert quick.clv_customers == "100000" and parse_args([]).clv_customers.endswith("1000000")
    full = parse_args([])
    assert full.repeat == 3 and full.rfm_rows.endswith("100000000") and full.churn_rows == 100_000
    assert parse_args(["--suite", "rfm,serving"]).suites == ("rfm", "serving")
    with pytest.raises(SystemExit):
        parse_args(["--suite", "nope"])
    assert QUICK_REPORT.parts[-3:] == ("runs", "bench", "PERFORMANCE-quick.md")


def test_workshop_split_adds_up(tmp_path):
    cell = {"cell_type": "code", "metadata": {"papermill": {}}, "source": "", "outputs": []}
    notebook = {"metadata": {"papermill": {"start_time": "2026-11-23T05:00:00+00:00"}}, "cells": [
        {**cell, "metadata": {"papermill": {"start_time": "2026-11-23T05:00:01.500000+00:00",
                                            "duration": 2.0}}},
        {"cell_type": "markdown", "metadata": {}, "source": ""},
        {**cell, "metadata": {"papermill": {"start_time": "2026-11-23T05:00:04+00:00",
                                            "duration": 3.0}}},
    ]}
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(notebook))
    split = split_notebook(path, runner_seconds=8.0)
    assert split == {"name": "01_x", "total": 8.0, "kernel": 1.5, "cells": 5.0, "papermill": 1.5}


def test_sections_are_replaced_in_place(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    target.write_text("# P\n\nintro\n<!-- x:begin -->\nold\n<!-- x:end -->\nafter\n")
    monkeypatch.setattr(report, "REPORT", target)
    report.write_section("<!-- x:begin -->", "<!-- x:end -->", "X", ["new"])
    report.write_section("<!-- y:begin -->", "<!-- y:end -->", "Y", ["added"])
    assert target.read_text() == ("# P\n\nintro\n<!-- x:begin -->\nnew\n<!-- x:end -->\nafter\n"
                                  "\n## Y\n\n<!-- y:begin -->\nadded\n<!-- y:end -->\n")

