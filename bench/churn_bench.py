"""Churn training benchmark: the kit's tuned training (notebook 04) on generated transaction
features against one untuned fit, same data and run; time and hold-out ROC-AUC for both."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench.cases import ROOT, median_of
from bench.report import machine, write_section
from bench.rfm_bench import CACHE

BEGIN, END = "<!-- bench:churn:begin -->", "<!-- bench:churn:end -->"
# Generated customers per churn row: customers who bought before the cutoff are the rows.
CUSTOMERS_PER_ROW = 1.6
BUILD = r"""
import pickle, sys
from rfmkit import rfm
from rfmkit.churn.transaction_labels import choose_window, transaction_dataset
from rfmkit.data.synthetic import generate, rows_at_scale
from rfmkit.warehouse.duckdb import DuckDBWarehouse
rows, folder, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
scale = rows * float(sys.argv[4]) / rows_at_scale(1.0)["people"]
generate(folder, scale=scale, seed=42, progress=False)
with DuckDBWarehouse(folder + "/w.duckdb") as wh:
    wh.run_file("000_load_audit.sql"); wh.run_file("010_raw_tables.sql")
    for table, name in (("olist_customers", "customers"), ("olist_orders", "orders"),
                        ("olist_order_payments", "order_payments")):
        wh.load_csv(table, f"{folder}/olist_{name}_dataset.csv", max_errors=0)
    rfm.use_olist(wh); rfm.score(wh, progress=None)
    data = transaction_dataset(wh, choose_window(wh, None, 180))
if len(data.label) < rows:
    raise SystemExit(f"only {len(data.label)} churn rows at scale {scale:.2f}; raise CUSTOMERS_PER_ROW")
keep = data.label.sample(rows, random_state=42).index
data.features, data.label, data.ids = data.features.loc[keep], data.label.loc[keep], data.ids.loc[keep]
with open(out, "wb") as fh:
    pickle.dump(data, fh)
"""


def dataset(rows: int) -> Path:
    path = CACHE / f"churn-{rows}.pkl"
    if not path.exists():
        print(f"building {rows:,} churn rows from generated transactions ...", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="rfmkit-churn-bench-") as folder:
            subprocess.run([sys.executable, "-c", BUILD, str(rows), folder, str(path),
                            str(CUSTOMERS_PER_ROW)], cwd=ROOT, check=True)
    return path


def run(rows: int, *, repeat: int) -> dict:
    data = dataset(rows)
    kit = median_of("bench.churn_case", "kit", data, repeat=repeat)
    baseline = median_of("bench.churn_case", "baseline", data, repeat=repeat)
    for r in (kit, baseline):
        print(f"churn {r['kind']:<8} {r['rows']:,} rows: {r['seconds']:.1f} s, test AUC "
              f"{r['test_auc']:.3f}, peak {r['peak_mb']:,.0f} MB", flush=True)
    write_report(kit, baseline)
    return {"kit": kit, "baseline": baseline}


def write_report(kit: dict, baseline: dict) -> None:
    lines = [f"Measured {date.today()} on {machine('scikit-learn')}. {kit['rows']:,} customers' "
             f"transaction features (generated data, 180-day churn window, 75/25 stratified split). "
             f"Seconds are medians of {kit['runs']} runs, each in a fresh process; peak = max RSS.", "",
             "| training | seconds | peak MB | hold-out ROC-AUC | time ratio (÷ baseline) |",
             "|---|---:|---:|---:|---:|",
             f"| kit (notebook 04): 2 models × 6 settings × 5-fold CV, evaluation, permutation "
             f"importance; chose {kit['model']} | {kit['seconds']:.1f} | {kit['peak_mb']:,.0f} | "
             f"{kit['test_auc']:.3f} | {kit['seconds'] / baseline['seconds']:.1f}× |",
             f"| baseline: one default HistGradientBoostingClassifier fit | {baseline['seconds']:.1f} | "
             f"{baseline['peak_mb']:,.0f} | {baseline['test_auc']:.3f} | 1.0× |"]
    write_section(BEGIN, END, "Churn training", lines)
