"""RFM scoring benchmark: the warehouse path against a pandas groupby reference, same run.

For each size: generate the three Olist CSVs once (cached), then in separate processes
  load   (COPY semantics into DuckDB), score (the RFM SQL), pandas (read + compute the same).
Reports medians of `repeat` runs and peak RSS, and rewrites docs/PERFORMANCE.md's RFM section.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path

from bench.report import machine, write_section

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
BEGIN, END = "<!-- bench:rfm:begin -->", "<!-- bench:rfm:end -->"


# Disk per payment row for one size: the three CSVs (~310 B), the loaded DuckDB file (~130 B),
# the scored tables and DuckDB's spill files (~300 B at 100M, measured 2026-11).
DISK_BYTES_PER_ROW = 750


def check_disk(rows: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    need, free = rows * DISK_BYTES_PER_ROW, shutil.disk_usage(folder).free
    if free < need:
        raise RuntimeError(f"{rows:,} payment rows need about {need / 1e9:.0f} GB free under {folder} "
                           f"(CSVs, warehouse file, spill space); {free / 1e9:.0f} GB are free")


def ensure_data(rows: int) -> Path:
    folder = CACHE / f"olist-{rows}"
    if (folder / "generation.json").exists():
        return folder
    check_disk(rows, folder)
    print(f"generating {rows:,} payment rows into {folder} (cached for later runs) ...", flush=True)
    code = ("import sys; from rfmkit.data.synthetic import generate, scale_for_payment_rows; "
            "generate(sys.argv[1], scale=scale_for_payment_rows(int(sys.argv[2])), seed=42, "
            "progress=True)")
    subprocess.run([sys.executable, "-c", code, str(folder), str(rows)], cwd=ROOT, check=True)
    return folder


def case(kind: str, data: Path, db: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.rfm_case", kind, str(data), str(db)],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"bench case {kind} on {data} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(kind: str, data: Path, db: Path, repeat: int) -> dict:
    runs = [case(kind, data, db) for _ in range(repeat)]
    out = dict(runs[-1])
    for key in ("seconds", "read_seconds", "compute_seconds", "peak_mb"):
        if key in out:
            out[key] = statistics.median(r[key] for r in runs)
    out["runs"] = repeat
    return out


def run(sizes: list[int], *, repeat: int, pandas_max_rows: int) -> list[dict]:
    rows_out = []
    for rows in sizes:
        data = ensure_data(rows)
        db = data / "bench.duckdb"
        runs = 1 if rows >= 50_000_000 else repeat
        loaded = median_of("load", data, db, 1)  # the file is then scored `runs` times
        scored = median_of("score", data, db, runs)
        entry = {"rows": rows, "load": loaded, "score": scored, "pandas": None}
        print(f"{rows:>12,} payment rows: load {loaded['seconds']:.1f} s "
              f"({loaded['peak_mb']:.0f} MB), score {scored['seconds']:.1f} s "
              f"({scored['peak_mb']:.0f} MB), {scored['customers']:,} customers", flush=True)
        if rows <= pandas_max_rows:
            baseline = median_of("pandas", data, db, runs)
            if baseline["customers"] != scored["customers"]:
                raise RuntimeError(f"pandas scored {baseline['customers']} customers, SQL "
                                   f"{scored['customers']}: the two paths disagree")
            entry["pandas"] = baseline
            print(f"{'':>12}  pandas: read {baseline['read_seconds']:.1f} s + compute "
                  f"{baseline['compute_seconds']:.1f} s ({baseline['peak_mb']:.0f} MB)", flush=True)
        rows_out.append(entry)
        db.unlink(missing_ok=True)
    write_report(rows_out, pandas_max_rows)
    return rows_out


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
            cells = (f"not run | – | – | – | {ld['seconds']:.1f} | – | – "
                     f"(pandas skipped above {pandas_max_rows:,} rows)")
        lines.append(f"| {r['rows']:,} | {s['customers']:,} | {s['seconds']:.1f} | "
                     f"{s['peak_mb']:,.0f} | {cells} | {s['runs']} |")
    write_section(BEGIN, END, "RFM scoring", lines)
