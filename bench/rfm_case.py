"""One RFM benchmark case, run in its own process: python -m bench.rfm_case <kind> <data> <db>.

kinds:
  load    COPY the three generated CSVs into a fresh DuckDB file (rejects and accounting on)
  score   run the RFM SQL pipeline on that file (rfm.use_olist + rfm.score)
  kit     load then score in one process: what a user of notebooks 01-02 waits for
  duckdb  baseline: one hand-written DuckDB query from the same CSVs to the same values and
          quintile scores, at the kit's memory cap, into a table of a fresh DuckDB file
  polars  baseline: polars' lazy API (scan_csv, join, group_by, rank), collected in memory
  pandas  baseline: read the CSVs with pandas (pyarrow engine, only the needed columns) and
          compute the same RFM values and scores with merge/groupby/rank
Every baseline counts the same orders (counted statuses, non-negative totals) and scores ties
with the kit's rule (1 + floor(5 * share strictly worse)). Prints one JSON line: seconds (and the
read/compute split for pandas), peak RSS, customers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.cases import report

# One number that every path must agree on: the customers' scores summed (ties split differently,
# a customer counted twice or lost would change it).
SCORES_SUM = "CAST(r_score AS INTEGER) * 25 + CAST(f_score AS INTEGER) * 5 + m_score"
RAW_FILES = (("olist_customers", "olist_customers_dataset.csv"), ("olist_orders", "olist_orders_dataset.csv"),
             ("olist_order_payments", "olist_order_payments_dataset.csv"))


def load(data: Path, db: Path) -> dict:
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with DuckDBWarehouse(db) as wh:
        wh.run_file("000_load_audit.sql")
        wh.run_file("010_raw_tables.sql")
        rows = 0
        for table, name in RAW_FILES:
            rows += wh.load_csv(table, data / name, max_errors=0).rows_loaded
    return {"seconds": time.perf_counter() - t0, "rows": rows}


def score(data: Path, db: Path) -> dict:
    from rfmkit import rfm
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    t0 = time.perf_counter()
    with DuckDBWarehouse(db) as wh:
        rfm.use_olist(wh)
        result = rfm.score(wh, progress=None)
        seconds = time.perf_counter() - t0
        total = wh.query(f"SELECT SUM({SCORES_SUM}) AS s FROM rfm_scores")["s"][0]
    return {"seconds": seconds, "customers": result.customers, "scores_sum": int(total)}


def kit(data: Path, db: Path) -> dict:
    """Load + score in one process, as notebooks 01 and 02 run them."""
    t0 = time.perf_counter()
    loaded = load(data, db)
    t1 = time.perf_counter()
    scored = score(data, db)
    return {"seconds": time.perf_counter() - t0, "load_seconds": t1 - t0,
            "score_seconds": scored["seconds"], "rows": loaded["rows"],
            "customers": scored["customers"], "scores_sum": scored["scores_sum"]}


def engine_load(data: Path, db: Path) -> dict:
    """The load's floor: DuckDB reading the three CSVs into the same tables (same settings), with
    no rejects, no accounting and no audit: what storing the files costs the engine itself."""
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with DuckDBWarehouse(db) as wh:
        wh.run_file("010_raw_tables.sql")
        for table, name in RAW_FILES:
            wh.execute_native(f"INSERT INTO {table} SELECT * FROM read_csv('{data / name}')")
    return {"seconds": time.perf_counter() - t0}


def _quintile(worse: str, customers: str = "customers") -> str:
    return f"CAST(1 + FLOOR(5.0 * {worse} / {customers}) AS TINYINT)"


def duckdb_baseline(data: Path, db: Path) -> dict:
    """The whole computation as one DuckDB statement, written by hand for this data."""
    import duckdb

    from rfmkit.rfm import OLIST_COUNTED_STATUSES
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    statuses = ", ".join(f"'{s}'" for s in OLIST_COUNTED_STATUSES)
    con = duckdb.connect(str(db))
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET memory_limit = '{DuckDBWarehouse.default_memory_limit()}'")
    csv = "read_csv('{}', header = true, auto_detect = false, columns = {})"
    customers = csv.format(data / "olist_customers_dataset.csv",
                           "{'customer_id': 'VARCHAR', 'customer_unique_id': 'VARCHAR', "
                           "'zip': 'VARCHAR', 'city': 'VARCHAR', 'state': 'VARCHAR'}")
    orders = csv.format(data / "olist_orders_dataset.csv",
                        "{'order_id': 'VARCHAR', 'customer_id': 'VARCHAR', 'order_status': 'VARCHAR', "
                        "'purchased_at': 'TIMESTAMP', 'a': 'VARCHAR', 'b': 'VARCHAR', 'c': 'VARCHAR', "
                        "'d': 'VARCHAR'}")
    payments = csv.format(data / "olist_order_payments_dataset.csv",
                          "{'order_id': 'VARCHAR', 'seq': 'SMALLINT', 'type': 'VARCHAR', "
                          "'installments': 'SMALLINT', 'payment_value': 'DECIMAL(12,2)'}")
    con.execute(f"""
        CREATE TABLE rfm AS
        WITH paid AS (SELECT order_id, SUM(payment_value) AS order_value FROM {payments} GROUP BY order_id),
        counted AS (
            SELECT c.customer_unique_id AS person, CAST(o.purchased_at AS DATE) AS day, p.order_value
            FROM {orders} AS o JOIN {customers} AS c USING (customer_id) JOIN paid AS p USING (order_id)
            WHERE o.order_status IN ({statuses}) AND p.order_value >= 0),
        per AS (
            SELECT person, MAX(day) AS last_day, MIN(day) AS first_day, COUNT(*) AS frequency,
                   SUM(order_value) AS monetary FROM counted GROUP BY person),
        snap AS (SELECT MAX(last_day) + 1 AS snapshot, COUNT(*) AS customers FROM per),
        ranked AS (
            SELECT per.*, snapshot - last_day AS recency_days, snapshot - first_day AS tenure_days, customers,
                   RANK() OVER (ORDER BY last_day ASC) - 1 AS r_worse,
                   RANK() OVER (ORDER BY frequency ASC) - 1 AS f_worse,
                   RANK() OVER (ORDER BY monetary ASC) - 1 AS m_worse
            FROM per, snap)
        SELECT person, recency_days, tenure_days, frequency, monetary,
               {_quintile('r_worse')} AS r_score, {_quintile('f_worse')} AS f_score,
               {_quintile('m_worse')} AS m_score
        FROM ranked""")
    seconds = time.perf_counter() - t0
    customers_scored, total = con.execute(f"SELECT COUNT(*), SUM({SCORES_SUM}) FROM rfm").fetchone()
    con.close()
    return {"seconds": seconds, "customers": customers_scored, "scores_sum": int(total)}


def polars_baseline(data: Path, db: Path) -> dict:
    import polars as pl

    from rfmkit.rfm import OLIST_COUNTED_STATUSES

    t0 = time.perf_counter()
    customers = pl.scan_csv(data / "olist_customers_dataset.csv", schema_overrides={
        "customer_id": pl.String, "customer_unique_id": pl.String, "customer_zip_code_prefix": pl.String})
    orders = pl.scan_csv(data / "olist_orders_dataset.csv", try_parse_dates=False)
    payments = pl.scan_csv(data / "olist_order_payments_dataset.csv")
    paid = payments.group_by("order_id").agg(pl.col("payment_value").sum().alias("order_value"))
    counted = (orders.filter(pl.col("order_status").is_in(OLIST_COUNTED_STATUSES))
               .select("order_id", "customer_id",
                       pl.col("order_purchase_timestamp").str.to_datetime("%Y-%m-%d %H:%M:%S").dt.date()
                       .alias("day"))
               .join(customers.select("customer_id", "customer_unique_id"), on="customer_id")
               .join(paid, on="order_id")
               .filter(pl.col("order_value") >= 0))
    per = counted.group_by("customer_unique_id").agg(
        pl.col("day").max().alias("last_day"), pl.col("day").min().alias("first_day"),
        pl.len().alias("frequency"), pl.col("order_value").sum().round(2).alias("monetary"))
    n = pl.len()
    snapshot = pl.col("last_day").max() + pl.duration(days=1)

    def score(column: pl.Expr) -> pl.Expr:
        worse = column.rank(method="min") - 1
        return (1 + (5 * worse / n).floor()).cast(pl.Int8)

    result = per.with_columns(
        (snapshot - pl.col("last_day")).dt.total_days().alias("recency_days"),
        (snapshot - pl.col("first_day")).dt.total_days().alias("tenure_days"),
        score(pl.col("last_day")).alias("r_score"), score(pl.col("frequency")).alias("f_score"),
        score(pl.col("monetary")).alias("m_score")).collect()
    seconds = time.perf_counter() - t0
    total = result.select((pl.col("r_score").cast(pl.Int64) * 25 + pl.col("f_score").cast(pl.Int64) * 5
                           + pl.col("m_score").cast(pl.Int64)).sum()).item()
    return {"seconds": seconds, "customers": result.height, "scores_sum": int(total)}


def pandas_baseline(data: Path, db: Path) -> dict:
    import numpy as np
    import pandas as pd

    from rfmkit.rfm import OLIST_COUNTED_STATUSES

    t0 = time.perf_counter()
    customers = pd.read_csv(data / "olist_customers_dataset.csv", engine="pyarrow",
                            usecols=["customer_id", "customer_unique_id"])
    orders = pd.read_csv(data / "olist_orders_dataset.csv", engine="pyarrow",
                         usecols=["order_id", "customer_id", "order_status",
                                  "order_purchase_timestamp"])
    payments = pd.read_csv(data / "olist_order_payments_dataset.csv", engine="pyarrow",
                           usecols=["order_id", "payment_value"])
    t1 = time.perf_counter()
    order_value = payments.groupby("order_id", sort=False)["payment_value"].sum()
    del payments
    orders = orders[orders["order_status"].isin(OLIST_COUNTED_STATUSES)]
    orders = orders.merge(customers, on="customer_id").join(order_value, on="order_id", how="inner")
    del customers
    orders = orders[orders["payment_value"] >= 0]
    orders["day"] = pd.to_datetime(orders["order_purchase_timestamp"]).dt.normalize()
    snapshot = orders["day"].max() + pd.Timedelta(days=1)
    per = orders.groupby("customer_unique_id", sort=False).agg(
        last_day=("day", "max"), first_day=("day", "min"), frequency=("order_id", "size"),
        monetary=("payment_value", "sum"))
    per["monetary"] = per["monetary"].round(2)  # cents, as the warehouse's DECIMAL: ties stay ties
    per["recency_days"] = (snapshot - per["last_day"]).dt.days
    per["tenure_days"] = (snapshot - per["first_day"]).dt.days
    n = len(per)
    for letter, worse in (("r", (-per["recency_days"]).rank(method="min") - 1),
                          ("f", per["frequency"].rank(method="min") - 1),
                          ("m", per["monetary"].rank(method="min") - 1)):
        per[f"{letter}_score"] = (1 + np.floor(5 * worse.to_numpy() / n)).astype("int8")
    t2 = time.perf_counter()
    total = (per["r_score"].astype("int64") * 25 + per["f_score"].astype("int64") * 5
             + per["m_score"].astype("int64")).sum()
    return {"seconds": t2 - t0, "read_seconds": t1 - t0, "compute_seconds": t2 - t1,
            "customers": n, "scores_sum": int(total)}


def main() -> None:
    kind, data, db = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    cases = {"load": load, "score": score, "kit": kit, "engine_load": engine_load,
             "duckdb": duckdb_baseline, "polars": polars_baseline, "pandas": pandas_baseline}
    report(kind=kind, **cases[kind](data, db))


if __name__ == "__main__":
    main()
