"""One loading benchmark case in a fresh process: python -m bench.load_case KIND FILE EXPECTED_REJECTS.

KIND:
  csv, parquet      the kit's load (COPY semantics: accounting, rejects kept with reasons) of the
                    payments file into a fresh DuckDB warehouse; fails unless it rejected exactly
                    the rows the benchmark damaged
  raw_csv, raw_parquet   DuckDB reading the same file into a table with no checks (what the
                    accounting and rejects cost)
  pandas_csv, pandas_parquet   the notebook baseline: read into a DataFrame (no accounting)
  generate          the kit's generator writing the three CSVs (FILE = payment rows to make)
Prints one JSON line: rows, seconds, peak_mb.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

# Imported before the clock starts: every case times its work, not Python's start-up.
import duckdb
import pandas as pd
import pyarrow.parquet  # noqa: F401 - used by pandas.read_parquet and the Parquet load

from bench.cases import report
from rfmkit.data.synthetic import generate as make
from rfmkit.data.synthetic import scale_for_payment_rows
from rfmkit.warehouse.duckdb import DuckDBWarehouse

COLUMNS = ("{'order_id': 'VARCHAR', 'payment_sequential': 'SMALLINT', 'payment_type': 'VARCHAR', "
           "'payment_installments': 'SMALLINT', 'payment_value': 'DECIMAL(12,2)'}")


def kit_load(kind: str, path: Path, expected_rejects: int) -> int:
    with tempfile.TemporaryDirectory() as folder, DuckDBWarehouse(Path(folder) / "b.duckdb") as wh:
        wh.run_file("000_load_audit.sql")
        wh.run_file("010_raw_tables.sql")
        load = wh.load_csv if kind == "csv" else wh.load_parquet
        result = load("olist_order_payments", path, max_errors=expected_rejects)
        if result.rows_rejected != expected_rejects or not result.balanced:
            raise SystemExit(f"{path}: rejected {result.rows_rejected}, expected {expected_rejects}")
        return result.rows_read


def raw_load(kind: str, path: Path) -> int:
    with tempfile.TemporaryDirectory() as folder:
        con = duckdb.connect(str(Path(folder) / "b.duckdb"))
        con.execute("SET memory_limit = '2GB'")
        con.execute("SET preserve_insertion_order = false")
        reader = (f"read_csv($p, header = true, ignore_errors = true, columns = {COLUMNS})"
                  if kind == "raw_csv" else "read_parquet($p)")
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}", {"p": str(path)})
        return con.execute("SELECT COUNT(*) FROM t").fetchone()[0]


def pandas_read(kind: str, path: Path) -> int:
    if kind == "pandas_csv":
        return len(pd.read_csv(path, dtype={"order_id": str}))
    return len(pd.read_parquet(path))


def generate(rows: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        return make(folder, scale=scale_for_payment_rows(rows), seed=42, progress=False
                    ).rows["olist_order_payments"]


def main() -> None:
    kind, target, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    if kind in ("csv", "parquet"):
        rows = kit_load(kind, Path(target), expected)
    elif kind.startswith("raw_"):
        rows = raw_load(kind, Path(target))
    elif kind.startswith("pandas_"):
        rows = pandas_read(kind, Path(target))
    elif kind == "generate":
        rows = generate(int(target))
    else:
        raise SystemExit(f"unknown case {kind!r}")
    report(kind=kind, rows=rows, seconds=time.perf_counter() - t0)


if __name__ == "__main__":
    main()
