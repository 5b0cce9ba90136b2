"""Run the benchmarks and write docs/PERFORMANCE.md's generated sections.

Usage: python -m bench [--suite all|generate|rfm|kmeans|serving] [--payment-rows 10000000]
                       [--rfm-rows 1000000,10000000,100000000]
                       [--kmeans-customers 100000,1000000,10000000] [--repeat 3]
Each case runs in a fresh Python process that reports its wall time and peak RSS (ru_maxrss).
Generated RFM inputs are cached in bench/.cache (git-ignored) so re-runs skip the generator.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench.report import write_section

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bench:generate:begin -->", "<!-- bench:generate:end -->"

CASE = r"""
import json, resource, sys, time
from rfmkit.data.synthetic import generate, scale_for_payment_rows
from rfmkit.warehouse.duckdb import DuckDBWarehouse
kind, rows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
if kind == "generate":
    result = generate(out, scale=scale_for_payment_rows(rows), seed=42, progress=False)
    count = result.rows["olist_order_payments"]
elif kind == "load":
    wh = DuckDBWarehouse(out + "/bench.duckdb")
    wh.run_file("010_raw_tables.sql")
    count = wh.load_csv("olist_order_payments", out + "/olist_order_payments_dataset.csv", max_errors=0).rows_loaded
elif kind == "pandas_read":  # baseline: what a notebook typically does instead of a warehouse load
    import pandas as pd
    count = len(pd.read_csv(out + "/olist_order_payments_dataset.csv", dtype={"order_id": str}))
print(json.dumps({"kind": kind, "rows": count, "seconds": time.perf_counter() - t0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(kind: str, rows: int, folder: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CASE, kind, str(rows), folder], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite", choices=("all", "generate", "rfm", "kmeans", "serving"), default="all")
    parser.add_argument("--payment-rows", type=int, default=10_000_000)
    parser.add_argument("--rfm-rows", default="1000000,10000000,100000000",
                        help="comma-separated payment-row counts for the RFM benchmark")
    parser.add_argument("--kmeans-customers", default="100000,1000000,10000000",
                        help="comma-separated customer counts for the k-means benchmark")
    parser.add_argument("--serving-rate", type=float, default=200.0,
                        help="requests per second of the steady single-row load")
    parser.add_argument("--batch-customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median reported)")
    parser.add_argument("--pandas-max-rows", type=int, default=30_000_000,
                        help="skip the pandas baseline above this size (it would exceed memory)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the report here instead of docs/PERFORMANCE.md")
    args = parser.parse_args()
    if args.out:
        from bench.report import use_report

        use_report(args.out)
    if args.suite in ("all", "generate"):
        run_generate(args)
    if args.suite in ("all", "rfm"):
        from bench import rfm_bench

        sizes = [int(x) for x in args.rfm_rows.split(",") if x]
        rfm_bench.run(sizes, repeat=args.repeat, pandas_max_rows=args.pandas_max_rows)
    if args.suite in ("all", "kmeans"):
        from bench import kmeans_bench

        kmeans_bench.run([int(x) for x in args.kmeans_customers.split(",") if x], repeat=args.repeat)
    if args.suite in ("all", "serving"):
        from bench import serving_bench

        serving_bench.run(rate=args.serving_rate, batch_customers=args.batch_customers)
    return 0


def run_generate(args) -> None:
    results = []
    with tempfile.TemporaryDirectory(prefix="rfmkit-bench-") as folder:
        for rows in (103_886, args.payment_rows):
            sub = os.path.join(folder, str(rows))
            for kind in ("generate", "load", "pandas_read"):
                result = measure(kind, rows, sub)
                results.append(result)
                print(f"{kind:12} {result['rows']:>12,} rows  {result['seconds']:7.1f} s  "
                      f"peak {result['peak_mb']:8.0f} MB", flush=True)
    write_report(results)


def write_report(results: list[dict]) -> None:
    cpu = platform.processor() or platform.machine()
    machine = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
    labels = {"generate": "synthetic generator (3 CSVs)", "load": "DuckDB COPY load of payments (with accounting)",
              "pandas_read": "baseline: pandas.read_csv of payments"}
    lines = [f"Measured {date.today()} on {machine}. Peak = max RSS of the process.", "",
             "| case | payment rows | seconds | rows/s | peak memory |", "|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {labels[r['kind']]} | {r['rows']:,} | {r['seconds']:.1f} | "
                     f"{r['rows'] / r['seconds']:,.0f} | {r['peak_mb']:,.0f} MB |")
    write_section(BEGIN, END, "Data generation and loading", lines)


if __name__ == "__main__":
    raise SystemExit(main())
