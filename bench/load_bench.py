"""Loading benchmark: CSV and Parquet into the embedded warehouse with rejects on, against plain
DuckDB reads (what the checks cost) and pandas reads (what a notebook does instead), same run.

The input is the generator's payments file with every 10,000th row damaged (a payment value of
"n/a"), so the rejects path does real work; the Parquet file is the same rows written with that
column as text, like a dirty export. Every kit load must reject exactly the damaged rows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bench.cases import median_of
from bench.report import machine, write_section
from bench.rfm_bench import CACHE, ensure_data

BEGIN, END = "<!-- bench:load:begin -->", "<!-- bench:load:end -->"
DAMAGE_EVERY = 10_000
LABELS = {
    "csv": "kit: CSV load (COPY semantics, rejects kept)",
    "parquet": "kit: Parquet load (COPY semantics, rejects kept)",
    "raw_csv": "DuckDB read_csv into a table, no checks",
    "raw_parquet": "DuckDB read_parquet into a table, no checks",
    "pandas_csv": "baseline: pandas.read_csv",
    "pandas_parquet": "baseline: pandas.read_parquet",
}


def damaged_inputs(rows: int) -> tuple[Path, Path, int]:
    """(CSV, Parquet, damaged row count) for `rows` payment rows, cached beside the RFM inputs."""
    import duckdb

    folder = CACHE / f"load-{rows}"
    csv, parquet = folder / "payments.csv", folder / "payments.parquet"
    marker = folder / "damaged.txt"
    if not marker.exists():
        source, _ = ensure_data(rows)
        folder.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect()
        con.execute("CREATE TEMP TABLE p AS SELECT *, row_number() OVER () AS n FROM read_csv($s, "
                    "header = true, all_varchar = true)",
                    {"s": str(source / "olist_order_payments_dataset.csv")})
        con.execute(f"UPDATE p SET payment_value = 'n/a' WHERE n % {DAMAGE_EVERY} = 0")
        damaged = con.execute("SELECT COUNT(*) FROM p WHERE payment_value = 'n/a'").fetchone()[0]
        as_text = "order_id, payment_sequential, payment_type, payment_installments, payment_value"
        typed = ("order_id, payment_sequential::SMALLINT AS payment_sequential, payment_type, "
                 "payment_installments::SMALLINT AS payment_installments, payment_value")
        con.execute(f"COPY (SELECT {as_text} FROM p ORDER BY n) TO '{csv}' (HEADER, FORMAT csv)")
        con.execute(f"COPY (SELECT {typed} FROM p ORDER BY n) TO '{parquet}' (FORMAT parquet)")
        marker.write_text(str(damaged))
    return csv, parquet, int(marker.read_text())


def run(rows: int, *, repeat: int, generator_rows: int) -> list[dict]:
    csv, parquet, damaged = damaged_inputs(rows)
    results = []
    for kind in LABELS:
        source = csv if "csv" in kind else parquet
        result = median_of("bench.load_case", kind, source, damaged, repeat=repeat)
        result["label"] = LABELS[kind]
        results.append(result)
        print(f"{LABELS[kind]:<50} {result['rows']:>12,} rows {result['seconds']:7.1f} s "
              f"{result['rows'] / result['seconds']:>12,.0f} rows/s  peak {result['peak_mb']:,.0f} MB", flush=True)
    generated = median_of("bench.load_case", "generate", generator_rows, 0, repeat=1)
    write_report(results, generated, damaged, csv.stat().st_size, parquet.stat().st_size)
    return results


def write_report(results: list[dict], generated: dict, damaged: int, csv_bytes: int,
                 parquet_bytes: int) -> None:
    by_kind = {r["kind"]: r for r in results}
    rows = results[0]["rows"]
    lines = [f"Measured {date.today()} on {machine('duckdb', 'pandas', 'pyarrow')}. Input: {rows:,} "
             f"payment rows from the generator, every {DAMAGE_EVERY:,}th with a payment value of "
             f"\"n/a\" ({damaged:,} rows), as CSV ({csv_bytes / 1e6:,.0f} MB) and Parquet "
             f"({parquet_bytes / 1e6:,.0f} MB, snappy). Both kit loads rejected exactly those rows "
             f"and balanced read = loaded + rejected. Seconds are medians of {results[0]['runs']} "
             f"runs, each in a fresh process; peak = max RSS of the process.", "",
             "| case | rows | seconds | rows/s | peak MB | kit load ÷ this (time) |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        ours = by_kind["csv" if "csv" in r["kind"] else "parquet"]
        ratio = "–" if r["kind"] in ("csv", "parquet") else f"{ours['seconds'] / r['seconds']:.1f}×"
        lines.append(f"| {r['label']} | {r['rows']:,} | {r['seconds']:.1f} | "
                     f"{r['rows'] / r['seconds']:,.0f} | {r['peak_mb']:,.0f} | {ratio} |")
    lines += ["", f"Generator (three CSVs, {generated['rows']:,} payment rows): "
                  f"{generated['seconds']:.1f} s, {generated['rows'] / generated['seconds']:,.0f} "
                  f"payment rows/s, peak {generated['peak_mb']:,.0f} MB."]
    write_section(BEGIN, END, "Data generation and loading", lines)
