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
from pathlib import Path

from bench.cases import ROOT, median_of
from bench.report import machine, write_section

# Generated inputs and stored results; RFMKIT_BENCH_CACHE moves them (tests use a temporary folder).
CACHE = Path(os.environ.get("RFMKIT_BENCH_CACHE") or ROOT / "bench" / ".cache")
RESULTS = CACHE / "results"
BEGIN, END = "<!-- bench:rfm:begin -->", "<!-- bench:rfm:end -->"


# Disk per payment row for one size: the three CSVs (~310 B), the loaded DuckDB file (~130 B),
# the scored tables and DuckDB's spill files (~300 B at 100M, measured 2026-11). Sizes without the
# pandas reference delete their CSVs once loaded, so they need the larger of CSVs + warehouse and
# warehouse + scoring.
DISK_BYTES_PER_ROW = 750
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


def run(sizes: list[int], *, repeat: int, pandas_max_rows: int, report_sizes: list[int] | None = None
        ) -> list[dict]:
    rows_out = []
    for rows in sizes:
        with_pandas = rows <= pandas_max_rows
        data, generated = ensure_data(
            rows, DISK_BYTES_PER_ROW if with_pandas else DISK_BYTES_PER_ROW_WITHOUT_CSVS)
        db = data / "bench.duckdb"
        runs = 1 if rows >= 50_000_000 else repeat
        loaded = median_of("bench.rfm_case", "load", data, db, repeat=1)  # then scored `runs` times
        if not with_pandas:
            drop_csvs(data)
        scored = median_of("bench.rfm_case", "score", data, db, repeat=runs)
        entry = {"rows": rows, "load": loaded, "score": scored, "pandas": None,
                 "generate_seconds": generated, "measured": str(date.today())}
        print(f"{rows:>12,} payment rows: load {loaded['seconds']:.1f} s "
              f"({loaded['peak_mb']:.0f} MB), score {scored['seconds']:.1f} s "
              f"({scored['peak_mb']:.0f} MB), {scored['customers']:,} customers", flush=True)
        if with_pandas:
            baseline = median_of("bench.rfm_case", "pandas", data, db, repeat=runs)
            if baseline["customers"] != scored["customers"]:
                raise RuntimeError(f"pandas scored {baseline['customers']} customers, SQL "
                                   f"{scored['customers']}: the two paths disagree")
            entry["pandas"] = baseline
            print(f"{'':>12}  pandas: read {baseline['read_seconds']:.1f} s + compute "
                  f"{baseline['compute_seconds']:.1f} s ({baseline['peak_mb']:.0f} MB)", flush=True)
        store(entry)
        rows_out.append(entry)
        db.unlink(missing_ok=True)
    write_report(with_stored(rows_out, report_sizes or []), pandas_max_rows)
    return rows_out


def store(entry: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"rfm-{entry['rows']}.json").write_text(json.dumps(entry, indent=1))


def with_stored(measured: list[dict], sizes: list[int]) -> list[dict]:
    """This run's rows plus, for sizes asked for but not run now, the last stored measurement
    (the report says when it was made): 100M takes half an hour and 45 GB of disk by itself."""
    done = {e["rows"] for e in measured}
    extra = [{**json.loads((RESULTS / f"rfm-{rows}.json").read_text()), "separate_run": True}
             for rows in sizes if rows not in done and (RESULTS / f"rfm-{rows}.json").exists()]
    return sorted(measured + extra, key=lambda e: e["rows"])


def write_report(results: list[dict], pandas_max_rows: int) -> None:
    lines = [f"Measured {date.today()} on {machine('duckdb', 'pandas')}. Seconds are medians of the runs shown; "
             "peak = max RSS of the process.", "",
             "| payment rows | customers | SQL score s | SQL peak MB | pandas compute s | "
             "pandas peak MB | speed-up (score) | memory ratio | load s | pandas read s | "
             "speed-up (end to end) | runs |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s, ld, p = r["score"], r["load"], r["pandas"]
        if p:
            cells = (f"{p['compute_seconds']:.1f} | {p['peak_mb']:,.0f} | "
                     f"{p['compute_seconds'] / s['seconds']:.1f}× | "
                     f"{s['peak_mb'] / p['peak_mb']:.2f} | {ld['seconds']:.1f} | "
                     f"{p['read_seconds']:.1f} | "
                     f"{p['seconds'] / (ld['seconds'] + s['seconds']):.1f}×")
        else:
            cells = (f"not run: would exceed memory | – | – | – | {ld['seconds']:.1f} | – | – "
                     f"(pandas skipped above {pandas_max_rows:,} rows)")
        runs = f"{s['runs']} (separate run, {r['measured']})" if r.get("separate_run") \
            else str(s["runs"])
        lines.append(f"| {r['rows']:,} | {s['customers']:,} | {s['seconds']:.1f} | "
                     f"{s['peak_mb']:,.0f} | {cells} | {runs} |")
    write_section(BEGIN, END, "RFM scoring", lines)
