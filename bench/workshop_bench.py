"""The whole workshop: `python -m rfmkit run` on the default data, its wall time split into kernel
start-up, papermill overhead and in-cell compute, from the executed notebooks' own timestamps.

Per notebook: kernel start-up = first cell's start - papermill's notebook start; in-cell = the sum
of cell durations; papermill = the runner's time for the notebook minus both (parameter injection,
reading and writing the notebook, gaps between cells, kernel shutdown). What is left of the total
is the runner itself (Python start-up, imports, discovering notebooks).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

from bench.cases import ROOT
from bench.report import machine, write_section

BEGIN, END = "<!-- bench:workshop:begin -->", "<!-- bench:workshop:end -->"
TARGET_OVERHEAD = 0.15  # DESIGN.md: orchestration overhead under 15 % of compute


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def split_notebook(path: Path, runner_seconds: float) -> dict:
    notebook = json.loads(path.read_text())
    cells = [c["metadata"]["papermill"] for c in notebook["cells"]
             if c["cell_type"] == "code" and c["metadata"].get("papermill", {}).get("start_time")]
    started = _time(notebook["metadata"]["papermill"]["start_time"])
    kernel = (_time(cells[0]["start_time"]) - started).total_seconds() if cells else 0.0
    in_cells = sum(c.get("duration") or 0.0 for c in cells)
    return {"name": path.stem, "total": runner_seconds, "kernel": kernel, "cells": in_cells,
            "papermill": runner_seconds - kernel - in_cells}


def one_run(parameters: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="rfmkit-workshop-bench-") as folder:
        command = [sys.executable, "-m", "rfmkit", "run", "--run-dir", folder, "--no-progress"]
        for parameter in parameters:
            command += ["-p", parameter]
        t0 = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        total = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"rfmkit run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        summary = json.loads((Path(folder) / "summary.json").read_text())
        notebooks = [split_notebook(Path(folder) / "notebooks" / f"{n['name']}.ipynb", n["seconds"])
                     for n in summary["notebooks"]]
        dashboard = Path(folder) / "dashboard.html"
        dashboard_mb = dashboard.stat().st_size / 1e6 if dashboard.exists() else None
    parts = {key: sum(n[key] for n in notebooks) for key in ("kernel", "cells", "papermill")}
    return {"total": total, **parts, "runner": total - sum(n["total"] for n in notebooks),
            "notebooks": notebooks, "customers": summary.get("tables", {}).get("rfm_scores"),
            "dashboard_mb": dashboard_mb}


def run(*, repeat: int, parameters: list[str]) -> list[dict]:
    runs = []
    for i in range(repeat):
        result = one_run(parameters)
        runs.append(result)
        print(f"workshop run {i + 1}/{repeat}: {result['total']:.1f} s = kernels {result['kernel']:.1f} + "
              f"papermill {result['papermill']:.1f} + cells {result['cells']:.1f} + runner "
              f"{result['runner']:.1f}", flush=True)
    write_report(runs, parameters)
    return runs


def write_report(runs: list[dict], parameters: list[str]) -> None:
    median = {key: statistics.median(r[key] for r in runs)
              for key in ("total", "kernel", "papermill", "cells", "runner")}
    typical = min(runs, key=lambda r: abs(r["total"] - median["total"]))
    overhead = (median["total"] - median["cells"]) / median["cells"]
    verdict = "met" if overhead < TARGET_OVERHEAD else "missed"
    data = " ".join(f"`-p {p}`" for p in parameters) or "default parameters (generated data, scale 1)"
    lines = [f"Measured {date.today()} on {machine('papermill', 'ipykernel')}. `python -m rfmkit run` with "
             f"{data}, every notebook of the workshop; medians of {len(runs)} runs, each in a fresh run folder.", "",
             "| part | seconds | share of total |", "|---|---:|---:|"]
    for key, label in (("kernels", "kernel start-up (one kernel per notebook)"),
                       ("papermill", "papermill overhead (parameters, notebook I/O, gaps, shutdown)"),
                       ("runner", "runner (Python start-up, imports, discovery)"),
                       ("cells", "in-cell compute")):
        seconds = median["kernel" if key == "kernels" else key]
        lines.append(f"| {label} | {seconds:.1f} | {seconds / median['total']:.0%} |")
    lines += [f"| **total wall time** | **{median['total']:.1f}** | 100% |", "",
              f"Orchestration overhead (total − in-cell) is **{overhead:.0%} of in-cell compute**: "
              f"target < {TARGET_OVERHEAD:.0%}, **{verdict}**.", "",
              "Per notebook (the run closest to the median):", "",
              "| notebook | total s | kernel start-up s | papermill s | in-cell s |",
              "|---|---:|---:|---:|---:|"]
    for n in typical["notebooks"]:
        lines.append(f"| {n['name']} | {n['total']:.1f} | {n['kernel']:.1f} | {n['papermill']:.1f} | "
                     f"{n['cells']:.1f} |")
    if typical.get("customers"):
        lines += ["", f"Customers scored: {typical['customers']:,}."
                  + (f" The offline dashboard written by 07 is {typical['dashboard_mb']:.1f} MB."
                     if typical.get("dashboard_mb") else "")]
    write_section(BEGIN, END, "The whole workshop", lines)
