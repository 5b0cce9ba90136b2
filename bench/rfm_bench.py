"""RFM scoring benchmark: the warehouse path against a pandas groupby reference, same run.

For each size: generate the three Olist CSVs once (cached), then in separate processes
  load   (COPY semantics into DuckDB), score (the RFM SQL), pandas (read + compute the same).
Reports medians of `repeat` runs and peak RSS, and rewrites docs/PERFORMANCE.md's RFM section.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from functools import partial
from pathlib import Path

from bench.cases import ROOT, median_of
from bench.report import machine, write_section

# Generated inputs and stored results; RFMKIT_BENCH_CACHE moves them (tests use a temporary folder).
CACHE = Path(os.environ.get("RFMKIT_BENCH_CACHE") or ROOT / "bench" / ".cache")
RESULTS = CACHE / "results"
BEGIN, END = "<!-- bench:rfm:begin -->", "<!-- bench:rfm:end -->"


# Disk per payment row for one size: the three CSVs (~310 B) and the warehouse file with every scored
# table: ~830 B without text compression (the kit's default; 10M, 2026-12). Sizes without the
# baselines keep DuckDB's text compression (~130 B loaded, ~300 B more scoring and spilling at 100M,
# 2026-11) and delete their CSVs once loaded, so they need the larger of CSVs + warehouse and
# warehouse + scoring.
DISK_BYTES_PER_ROW = 1_200
DISK_BYTES_PER_ROW_WITHOUT_CSVS = 450


def check_disk(rows: int, folder: Path, per_row: int = DISK_BYTES_PER_ROW) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    need, free = rows * per_row, shutil.disk_usage(folder).free
    if free < need:
        raise RuntimeError(f"{rows:,} payment rows need about {need / 1e9:.0f} GB free under {folder} "
                           f"(CSVs, warehouse file, spill space); {free / 1e9:.0f} GB are free")


def ensure_data(rows: int, per_row: int = DISK_BYTES_PER_ROW) -> tuple[Path, float | None]:
    """The generated CSVs for `rows` payment rows (cached) and the generator's seconds if it ran."""
    folder = CACHE / f"olist-{rows}"
    if (folder / "generation.json").exists():
        return folder, None
    check_disk(rows, folder, per_row)
    print(f"generating {rows:,} payment rows into {folder} ...", flush=True)
    code = ("import sys; from rfmkit.data.synthetic import generate, scale_for_payment_rows; "
            "generate(sys.argv[1], scale=scale_for_payment_rows(int(sys.argv[2])), seed=42, "
            "progress=True)")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(folder), str(rows)], cwd=ROOT, check=True)
    return folder, time.perf_counter() - t0


def drop_csvs(folder: Path) -> None:
    """Free the disk the scoring needs for spilling; the next run regenerates (same seed)."""
    for path in folder.glob("*.csv"):
        path.unlink()
    (folder / "generation.json").unlink(missing_ok=True)


# (case kind, label): the hand-written baselines, each from the same CSVs in its own process
BASELINES = (("duckdb", "hand-written DuckDB query"), ("polars", "polars (lazy)"), ("pandas", "pandas"))


def run(sizes: list[int], *, repeat: int, pandas_max_rows: int, report_sizes: list[int] | None = None
        ) -> list[dict]:
    """Kit end to end (load + score in one process) against the baselines, per size. Above
    pandas_max_rows only the kit runs, loading and scoring in two processes so that the CSVs can be
    deleted in between (the 100M inputs and warehouse do not fit on disk together)."""
    rows_out = []
    for rows in sizes:
        with_baselines = rows <= pandas_max_rows
        data, generated = ensure_data(
            rows, DISK_BYTES_PER_ROW if with_baselines else DISK_BYTES_PER_ROW_WITHOUT_CSVS)
        db = data / "bench.duckdb"
        runs = 1 if rows >= 50_000_000 else repeat
        entry = {"rows": rows, "generate_seconds": generated, "measured": str(date.today())}
        if with_baselines:
            entry["kit"] = median_of("bench.rfm_case", "kit", data, db, repeat=runs)
            entry["engine_load"] = median_of("bench.rfm_case", "engine_load", data, db, repeat=runs)
            for kind, label in BASELINES:
                entry[kind] = median_of("bench.rfm_case", kind, data, db, repeat=runs)
                check_agreement(entry["kit"], entry[kind], label)
        else:
            entry["kit"] = kit_in_two_steps(data, db, runs)
        store(entry)
        rows_out.append(entry)
        print(summary_line(entry), flush=True)
        db.unlink(missing_ok=True)
    write_report(with_stored(rows_out, report_sizes or []), pandas_max_rows)
    return rows_out


def kit_in_two_steps(data: Path, db: Path, runs: int) -> dict:
    """100M: with DuckDB's text compression (the uncompressed warehouse would need about 83 GB)."""
    os.environ["RFMKIT_DUCKDB_COMPRESS_TEXT"] = "1"  # inherited by the case processes
    try:
        loaded = median_of("bench.rfm_case", "load", data, db, repeat=1)  # then scored `runs` times
        drop_csvs(data)
        scored = median_of("bench.rfm_case", "score", data, db, repeat=runs)
    finally:
        os.environ.pop("RFMKIT_DUCKDB_COMPRESS_TEXT", None)
    return {"seconds": loaded["seconds"] + scored["seconds"], "load_seconds": loaded["seconds"],
            "score_seconds": scored["seconds"], "peak_mb": max(loaded["peak_mb"], scored["peak_mb"]),
            "customers": scored["customers"], "scores_sum": scored["scores_sum"], "runs": runs,
            "text_compression": True}


def check_agreement(kit: dict, baseline: dict, label: str) -> None:
    """Same customers and the same scores, or the comparison means nothing."""
    for key in ("customers", "scores_sum"):
        if baseline[key] != kit[key]:
            raise RuntimeError(f"{label} gives {key} = {baseline[key]:,}, the kit {kit[key]:,}: "
                               f"the two paths disagree")


def summary_line(entry: dict) -> str:
    kit = entry["kit"]
    text = (f"{entry['rows']:>12,} payment rows: kit {kit['seconds']:.1f} s (load "
            f"{kit['load_seconds']:.1f} + score {kit['score_seconds']:.1f}, {kit['peak_mb']:.0f} MB), "
            f"{kit['customers']:,} customers")
    for kind, label in BASELINES:
        if entry.get(kind):
            text += f"; {label} {entry[kind]['seconds']:.1f} s ({entry[kind]['peak_mb']:.0f} MB)"
    return text


def store(entry: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"rfm-{entry['rows']}.json").write_text(json.dumps(entry, indent=1))


def with_stored(measured: list[dict], sizes: list[int]) -> list[dict]:
    """This run's rows plus, for sizes asked for but not run now, the last stored measurement
    (the report says when it was made): 100M takes half an hour and 60 GB of disk by itself."""
    done = {e["rows"] for e in measured}
    extra = [{**upgraded(json.loads((RESULTS / f"rfm-{rows}.json").read_text())), "separate_run": True}
             for rows in sizes if rows not in done and (RESULTS / f"rfm-{rows}.json").exists()]
    return sorted(measured + extra, key=lambda e: e["rows"])


def upgraded(entry: dict) -> dict:
    """A result stored before the kit's end-to-end case (load and score measured apart)."""
    if "kit" in entry:
        return entry
    load, score = entry["load"], entry["score"]
    return {**entry, "kit": {"seconds": load["seconds"] + score["seconds"], "load_seconds": load["seconds"],
                             "score_seconds": score["seconds"], "peak_mb": max(load["peak_mb"], score["peak_mb"]),
                             "customers": score["customers"], "runs": score["runs"]}}


def ratios(entry: dict) -> dict[str, float | None]:
    """The end-to-end ratios the targets are stated in (None where a baseline did not run)."""
    kit, duck, polars, pandas = (entry.get(k) for k in ("kit", "duckdb", "polars", "pandas"))
    return {"kit_vs_duckdb": kit["seconds"] / duck["seconds"] if duck else None,
            "pandas_vs_kit": pandas["seconds"] / kit["seconds"] if pandas else None,
            "polars_vs_kit": polars["seconds"] / kit["seconds"] if polars else None,
            "memory_vs_pandas": kit["peak_mb"] / pandas["peak_mb"] if pandas else None}


def _ratio_cell(ratio: dict, key: str, fmt: str = "{:.2f}×") -> str:
    return fmt.format(ratio[key]) if ratio[key] is not None else "–"


def _seconds_cell(entry: dict, kind: str) -> str:
    return f"{entry[kind]['seconds']:.1f}" if entry.get(kind) else "–"


def write_report(results: list[dict], pandas_max_rows: int) -> None:
    lines = [f"Measured {date.today()} on {machine('duckdb', 'polars', 'pandas')}. Each case in its own "
             f"process from the same CSVs; seconds are medians of the runs shown; peak = max RSS. Targets "
             f"(issue 21): kit ÷ DuckDB ≤ 1.3, pandas ÷ kit and polars ÷ kit ≥ 1.5, kit ÷ pandas peak ≤ 0.5. "
             f"Every baseline scored the same customers with the same scores as the kit "
             f"(checked by the benchmark).", "",
             "| payment rows | customers | kit ÷ hand-written DuckDB | pandas ÷ kit | polars ÷ kit | "
             "kit ÷ pandas peak memory | kit s (load + score) | DuckDB query s | polars s | pandas s | "
             "kit peak MB | pandas peak MB | DuckDB storing the CSVs alone s | runs |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        kit, ratio = r["kit"], ratios(r)
        cell = partial(_ratio_cell, ratio)
        seconds = partial(_seconds_cell, r)
        runs = f"{kit['runs']} (separate run, {r['measured']})" if r.get("separate_run") else str(kit["runs"])
        pandas_peak = f"{r['pandas']['peak_mb']:,.0f}" if r.get("pandas") else \
            f"not run above {pandas_max_rows:,} rows"
        lines.append(
            f"| {r['rows']:,} | {kit['customers']:,} | {cell('kit_vs_duckdb')} | {cell('pandas_vs_kit')} | "
            f"{cell('polars_vs_kit')} | {cell('memory_vs_pandas', '{:.2f}')} | {kit['seconds']:.1f} "
            f"({kit['load_seconds']:.1f} + {kit['score_seconds']:.1f}) | {seconds('duckdb')} | "
            f"{seconds('polars')} | {seconds('pandas')} | {kit['peak_mb']:,.0f} | {pandas_peak} | "
            f"{seconds('engine_load')} | {runs} |")
    write_section(BEGIN, END, "RFM scoring", lines)
