"""Write rows computed in Python back into the warehouse as a mart: the table is (re)created from
its SQL file, the rows are loaded with the audited COPY (so a re-run replaces, never duplicates),
the count is checked, and the table is exported as CSV for the dashboards."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rfmkit.warehouse.base import Warehouse
from rfmkit.warehouse.loading import LoadReport


def write_mart(warehouse: Warehouse, backend, table: str, ddl: str, rows: pd.DataFrame,
               *, area: str, key: str = "customer_id") -> tuple[LoadReport, list[Path]]:
    """(Re)create `table` from `ddl`, COPY `rows` in, check nothing was lost, export to CSV with
    the backend's exporter."""
    folder = backend.cfg.run_dir / area
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f"{table}.csv"
    rows.sort_values(key).to_csv(staged, index=False)
    warehouse.run_file(ddl)
    report = warehouse.load_csv(table, staged, max_errors=0)
    if report.rows_loaded != len(rows):
        raise RuntimeError(f"{table}: {len(rows):,} rows written but {report.rows_loaded:,} "
                           f"loaded; see load_rejects")
    return report, backend.exporter().export(warehouse, table, order_by=key)
