"""RFM scoring: runs the SQL models in sql/ in order and reports what they did.

The heavy lifting is SQL (staging → fct_orders → rfm_values → rfm_scores), identical on Redshift
and DuckDB. This module fills the parameter tables, picks the default snapshot date, times each
model and summarises the result for the notebook and the dashboards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from rfmkit import rfm_segments
from rfmkit.transaction_log import SOURCE_VIEW
from rfmkit.warehouse.base import Warehouse
from rfmkit.warehouse.dialect import quote_literal

# Olist statuses that count as purchases: everything except canceled and unavailable.
OLIST_COUNTED_STATUSES = ("delivered", "shipped", "invoiced", "processing", "approved", "created")

PARAMETERS_SQL = "015_rfm_parameters.sql"
OLIST_SOURCE_SQL = "020_src_olist_transactions.sql"
MODELS = ("030_stg_transactions.sql", "040_fct_orders.sql", "050_rfm_values.sql",
          "060_rfm_scores.sql")


class RfmError(ValueError):
    """A parameter or the pipeline's input is not usable; the message says which and why."""


@dataclass
class RfmResult:
    snapshot_date: date
    customers: int
    timings: pd.DataFrame = field(repr=False)

    @property
    def seconds(self) -> float:
        return float(self.timings["seconds"].sum())

    def __str__(self) -> str:
        return (f"rfm_scores: {self.customers:,} customers scored at snapshot {self.snapshot_date} "
                f"in {self.seconds:.2f} s")


def check_statuses(order_statuses: Iterable[str] | str) -> list[str]:
    """The parameter as a clean list; a comma-separated string is accepted (handy on the CLI)."""
    if isinstance(order_statuses, str):
        order_statuses = order_statuses.split(",")
    statuses = list(dict.fromkeys(str(s).strip() for s in order_statuses if str(s).strip()))
    if not statuses:
        raise RfmError("parameter order_statuses is empty: no order would count as a purchase")
    return statuses


def check_snapshot_date(value: date | str | None) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RfmError(f"parameter snapshot_date={value!r}: use YYYY-MM-DD, or leave it empty "
                       f"for the day after the last purchase") from None


def use_olist(warehouse: Warehouse) -> None:
    """Point the pipeline at the loaded Olist tables (notebook 01)."""
    missing = [t for t in ("olist_orders", "olist_customers", "olist_order_payments")
               if not warehouse.table_exists(t)]
    if missing:
        raise RfmError(f"table(s) {missing} not found: run notebook 01_load_data first")
    warehouse.run_file(OLIST_SOURCE_SQL)


def fill_parameters(warehouse: Warehouse, order_statuses: Iterable[str] | str) -> None:
    """(Re)fill rfm_counted_statuses and rfm_segment_map; idempotent."""
    warehouse.run_file(PARAMETERS_SQL)
    warehouse.execute("DELETE FROM rfm_counted_statuses")
    for status in check_statuses(order_statuses):  # user values: bound, never spliced
        warehouse.execute("INSERT INTO rfm_counted_statuses (order_status) VALUES (:status)",
                          {"status": status})
    table = rfm_segments.segment_map()
    # The map is the kit's own constants, so one multi-row INSERT with literals is safe and
    # saves 125 round trips on the Redshift Data API.
    values = ",\n".join(
        f"({quote_literal(row.rfm_code)}, {int(row.r_score)}, {int(row.f_score)}, "
        f"{int(row.m_score)}, {quote_literal(row.segment)})" for row in table.itertuples())
    warehouse.execute("DELETE FROM rfm_segment_map")
    warehouse.execute("INSERT INTO rfm_segment_map (rfm_code, r_score, f_score, m_score, segment) "
                      f"VALUES {values}")


def default_snapshot_date(warehouse: Warehouse) -> date:
    """The day after the last purchase in fct_orders (never the wall clock)."""
    frame = warehouse.query("SELECT MAX(order_date) AS last_day FROM fct_orders WHERE is_purchase")
    last = frame["last_day"].iloc[0]
    if pd.isna(last):
        raise RfmError("no purchases to score: every transaction was excluded "
                       "(see rfm.accounting(warehouse) for the reasons)")
    return pd.Timestamp(last).date() + timedelta(days=1)


def score(
    warehouse: Warehouse, *, snapshot_date: date | str | None = None,
    order_statuses: Iterable[str] | str = OLIST_COUNTED_STATUSES,
    progress: Callable[[str], None] | None = print,
) -> RfmResult:
    """Run staging → fct_orders → rfm_values → rfm_scores over src_transactions."""
    if not warehouse.table_exists(SOURCE_VIEW):
        raise RfmError(f"{SOURCE_VIEW} does not exist: call rfm.use_olist(warehouse) for Olist, "
                       f"or rfmkit.transaction_log.load_transaction_log(...) for your own log")
    snapshot = check_snapshot_date(snapshot_date)
    fill_parameters(warehouse, order_statuses)
    timings = []
    for model in MODELS:
        if model.startswith("050") and snapshot is None:
            snapshot = default_snapshot_date(warehouse)
        started = time.perf_counter()
        warehouse.run_file(model, {"snapshot_date": snapshot.isoformat()} if snapshot else None)
        seconds = time.perf_counter() - started
        timings.append({"model": model, "seconds": round(seconds, 3)})
        if progress:
            progress(f"  {model:<28} {seconds:6.2f} s")
    customers = warehouse.row_count("rfm_scores")
    return RfmResult(snapshot_date=snapshot, customers=customers, timings=pd.DataFrame(timings))


def accounting(warehouse: Warehouse) -> pd.DataFrame:
    """Where every source row went: counted, or excluded with its reason; then orders and customers.

    The 'transaction rows' lines add up to the rows of src_transactions, the 'orders' lines to
    the rows of fct_orders: nothing leaves the pipeline without a line here.
    """
    rows = warehouse.query(
        "SELECT COALESCE(excluded_because, 'counted') AS outcome, COUNT(*) AS n "
        "FROM stg_transactions GROUP BY 1")
    orders = warehouse.query(
        "WITH snapshot AS (SELECT MIN(snapshot_date) AS snapshot_date FROM rfm_values) "
        "SELECT CASE WHEN NOT o.is_purchase THEN 'return or refund (negative total)' "
        "WHEN s.snapshot_date IS NULL OR o.order_date >= s.snapshot_date "
        "THEN 'on or after the snapshot date' ELSE 'purchase scored' END AS outcome, "
        "COUNT(*) AS n FROM fct_orders AS o CROSS JOIN snapshot AS s GROUP BY 1")
    customers = pd.DataFrame([{"outcome": "scored", "n": warehouse.row_count("rfm_scores")}])
    frames = [part.sort_values("n", ascending=False).assign(stage=stage)
              for stage, part in (("transaction rows", rows), ("orders", orders),
                                  ("customers", customers))]
    table = pd.concat(frames, ignore_index=True)[["stage", "outcome", "n"]]
    table["n"] = table["n"].astype("int64")
    return table


def segment_summary(warehouse: Warehouse, backend) -> pd.DataFrame:
    """One row per named segment (empty ones included): size, revenue and typical R/F/M, from the
    segment_summary mart (rebuilt and exported here), with shares, rules and actions."""
    from rfmkit import marts

    frame, _ = marts.segment_summary(warehouse, backend)
    frame = frame[["segment", "customers", "revenue", "mean_recency_days", "mean_orders",
                   "mean_spend"]]
    described = rfm_segments.describe_segments()[["segment", "rule", "action"]]
    table = described.merge(frame, on="segment", how="left")
    table["customers"] = table["customers"].fillna(0).astype("int64")
    table["revenue"] = table["revenue"].astype("float64").fillna(0.0)
    table["customer_share_%"] = 100 * table["customers"] / max(table["customers"].sum(), 1)
    table["revenue_share_%"] = 100 * table["revenue"] / max(table["revenue"].sum(), 1e-9)
    columns = ["segment", "customers", "customer_share_%", "revenue", "revenue_share_%",
               "mean_recency_days", "mean_orders", "mean_spend", "rule", "action"]
    return table[columns].round({"customer_share_%": 1, "revenue_share_%": 1, "revenue": 2,
                                 "mean_recency_days": 0, "mean_orders": 2, "mean_spend": 2})


def score_grid(warehouse: Warehouse) -> pd.DataFrame:
    """Customers and revenue per (r_score, f_score): the data of the R × F heatmap."""
    frame = warehouse.query(
        "SELECT r_score, f_score, COUNT(*) AS customers, SUM(monetary) AS revenue "
        "FROM rfm_scores GROUP BY r_score, f_score")
    return frame.astype({"r_score": "int64", "f_score": "int64", "customers": "int64",
                         "revenue": "float64"})


def score_bounds(warehouse: Warehouse) -> pd.DataFrame:
    """What each score means in data terms: customers and value range per score and measure."""
    rows = []
    for letter, measure in (("r", "recency_days"), ("f", "frequency"), ("m", "monetary")):
        frame = warehouse.query(
            f"SELECT {letter}_score AS score, COUNT(*) AS customers, MIN({measure}) AS low, "
            f"MAX({measure}) AS high FROM rfm_scores GROUP BY {letter}_score")
        for rec in frame.itertuples():
            rows.append({"score": int(rec.score), "measure": measure,
                         "customers": int(rec.customers), "range": f"{rec.low:g} – {rec.high:g}"})
    table = pd.DataFrame(rows)
    return table.pivot(index="score", columns="measure", values="range").reindex(
        index=range(5, 0, -1), columns=["recency_days", "frequency", "monetary"]).fillna("(none)")


def frequency_reading(warehouse: Warehouse) -> str:
    """What the tie rule did to F on the data at hand, in one paragraph (Markdown), computed from
    rfm_scores: the share of one-time buyers and which F scores are in use."""
    counts = warehouse.query("SELECT f_score, COUNT(*) AS customers, "
                             "SUM(CASE WHEN frequency = 1 THEN 1 ELSE 0 END) AS one_time "
                             "FROM rfm_scores GROUP BY f_score ORDER BY f_score")
    total = int(counts["customers"].sum())
    if not total:
        return "No customers were scored."
    one_time = float(counts["one_time"].sum()) / total
    used = [int(s) for s in counts["f_score"]]
    empty = [s for s in range(1, 6) if s not in used]
    text = (f"**In this data {one_time:.1%} of {total:,} customers bought exactly once.** "
            f"F scores in use: {', '.join(map(str, used))}")
    text += f"; empty: {', '.join(map(str, empty))}." if empty else " (every quintile is filled)."
    if one_time >= 0.8:
        text += (" One-time buyers are all tied and nobody is strictly worse than them, so they all get "
                 "F = 1, and a second order is enough to reach the top scores: for most customers "
                 "recency (and monetary value) decides the segment.")
    return text
