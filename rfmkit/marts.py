"""Marts: tables the dashboards or two notebooks read, built in SQL (sql/).

`write_mart` puts rows a model computed in Python into the warehouse (the table is (re)created
from its SQL file, the rows loaded with the audited COPY so a re-run replaces, the count
checked); `build` runs a SQL model; both export the result as CSV with the backend's exporter."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rfmkit.warehouse.base import Warehouse
from rfmkit.warehouse.loading import LoadReport

SEGMENT_SUMMARY = ("segment_summary", "095_segment_summary.sql")
CUSTOMER_SCORES = ("customer_scores", "090_customer_scores.sql")
# Churn risk comes from customer_value (P(alive), notebook 05) or churn_predictions (a classifier),
# alert status from churn_alerts; whichever a run has not written yet is created empty from its
# own DDL file.
RISK_INPUTS = {"churn_predictions": ("085_churn_predictions.sql",),
               "customer_value": ("110_customer_value.sql",),
               "churn_alerts": ("116_churn_alerts.sql",)}


def write_mart(warehouse: Warehouse, backend, table: str, ddl: str, rows: pd.DataFrame,
               *, area: str, key: str = "customer_id", export: bool = True
               ) -> tuple[LoadReport, list[Path]]:
    """(Re)create `table` from `ddl`, COPY `rows` in, check nothing was lost, export to CSV with
    the backend's exporter (unless export=False)."""
    folder = backend.cfg.run_dir / area
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f"{table}.csv"
    stage_csv(rows.sort_values(key), staged)
    warehouse.run_file(ddl)
    report = warehouse.load_csv(table, staged, max_errors=0)
    if report.rows_loaded != len(rows):
        raise RuntimeError(f"{table}: {len(rows):,} rows written but {report.rows_loaded:,} "
                           f"loaded; see load_rejects")
    return report, backend.exporter().export(warehouse, table, order_by=key) if export else []


def stage_csv(rows: pd.DataFrame, path: Path) -> Path:
    """`rows` as the CSV the audited COPY reads, written by Arrow: 0.3 s for customer_value's 95k
    rows where pandas' to_csv took 3.1 s. Nulls are empty fields (COPY's EMPTYASNULL), booleans
    true/false, dates ISO; timestamps are written to the second, as write_mart's COPY reads them."""
    import pyarrow
    import pyarrow.csv

    frame = rows.copy(deep=False)
    for column in frame.columns[[kind.kind == "M" for kind in frame.dtypes]]:
        frame[column] = frame[column].dt.strftime("%Y-%m-%d %H:%M:%S")
    pyarrow.csv.write_csv(pyarrow.Table.from_pandas(frame, preserve_index=False), path)
    return path


def create_missing(warehouse: Warehouse, inputs: dict[str, tuple[str, ...]]) -> None:
    """Create each input table an earlier notebook has not written yet, empty, from its own SQL
    files (so a model's LEFT JOIN yields NULLs); each table's DDL stays in one file."""
    for name, files in inputs.items():
        if not warehouse.table_exists(name):
            for sql_file in files:
                warehouse.run_file(sql_file)


def build(warehouse: Warehouse, backend, table: str, model: str, *, order_by: str,
          optional_inputs: dict[str, tuple[str, ...]] | None = None) -> tuple[pd.DataFrame, list[Path]]:
    """Run the SQL model that (re)builds `table`, export it, and return its rows.

    optional_inputs: table → the SQL files that create it (see create_missing)."""
    from rfmkit.warehouse.dialect import quote_ident, quote_table

    create_missing(warehouse, optional_inputs or {})
    warehouse.run_file(model)
    exported = backend.exporter().export(warehouse, table, order_by=order_by)
    return (warehouse.query(f"SELECT * FROM {quote_table(table)} ORDER BY {quote_ident(order_by)}"),
            exported)


def segment_summary(warehouse: Warehouse, backend) -> tuple[pd.DataFrame, list[Path]]:
    """The one per-segment summary (customers, revenue, churn risk), rebuilt and exported; rows in
    the kit's segment order, best first."""
    from rfmkit.rfm_segments import segment_order

    table, model = SEGMENT_SUMMARY
    frame, exported = build(warehouse, backend, table, model, order_by="segment",
                            optional_inputs=RISK_INPUTS)
    order = segment_order(frame["segment"])
    return frame.set_index("segment").loc[order].reset_index(), exported


class UnscoredCustomers(RuntimeError):
    """Customers of rfm_scores without a churn risk; the message gives the count and an example."""


def customer_scores(warehouse: Warehouse, backend) -> tuple[pd.DataFrame, list[Path]]:
    """Check every customer of rfm_scores has a churn risk (customer_value or churn_predictions),
    then build and export customer_scores and segment_summary."""
    create_missing(warehouse, {**RISK_INPUTS, "customer_segments": ("070_customer_segments.sql",)})
    unscored = warehouse.query(
        "SELECT COUNT(*) AS n, MIN(r.customer_id) AS example FROM rfm_scores AS r "
        "LEFT JOIN churn_predictions AS p ON p.customer_id = r.customer_id "
        "LEFT JOIN customer_value AS v ON v.customer_id = r.customer_id "
        "WHERE p.customer_id IS NULL AND v.customer_id IS NULL")
    if int(unscored["n"].iloc[0]):
        raise UnscoredCustomers(
            f"{int(unscored['n'].iloc[0]):,} of {warehouse.row_count('rfm_scores'):,} customers "
            f"have no churn risk (for example {unscored['example'].iloc[0]}); every customer in "
            f"rfm_scores needs one from customer_value (notebook 05) or a churn model")
    table, model = CUSTOMER_SCORES
    rows, exported = build(warehouse, backend, table, model, order_by="customer_id")
    _, summary = segment_summary(warehouse, backend)
    return rows, exported + summary
