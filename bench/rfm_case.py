"""One RFM benchmark case, run in its own process: python -m bench.rfm_case <kind> <data> <db>.

kinds:
  load    COPY the three generated CSVs into a fresh DuckDB file (rejects and accounting on)
  score   run the RFM SQL pipeline on that file (rfm.use_olist + rfm.score)
  pandas  the baseline: read the CSVs with pandas (pyarrow engine, only the needed columns) and
          compute the same RFM values and scores with merge/groupby/rank
Prints one JSON line: seconds (and read/compute split for pandas), peak RSS, customers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.cases import report


def load(data: Path, db: Path) -> dict:
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    db.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with DuckDBWarehouse(db) as wh:
        wh.run_file("000_load_audit.sql")
        wh.run_file("010_raw_tables.sql")
        rows = 0
        for table, name in (("olist_customers", "olist_customers_dataset.csv"),
                            ("olist_orders", "olist_orders_dataset.csv"),
                            ("olist_order_payments", "olist_order_payments_dataset.csv")):
            rows += wh.load_csv(table, data / name, max_errors=0).rows_loaded
    return {"seconds": time.perf_counter() - t0, "rows": rows}


def score(data: Path, db: Path) -> dict:
    from rfmkit import rfm
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    t0 = time.perf_counter()
    with DuckDBWarehouse(db) as wh:
        rfm.use_olist(wh)
        result = rfm.score(wh, progress=None)
    return {"seconds": time.perf_counter() - t0, "customers": result.customers}


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
    per["recency_days"] = (snapshot - per["last_day"]).dt.days
    per["tenure_days"] = (snapshot - per["first_day"]).dt.days
    n = len(per)
    for letter, worse in (("r", (-per["recency_days"]).rank(method="min") - 1),
                          ("f", per["frequency"].rank(method="min") - 1),
                          ("m", per["monetary"].rank(method="min") - 1)):
        per[f"{letter}_score"] = (1 + np.floor(5 * worse.to_numpy() / n)).astype("int8")
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "read_seconds": t1 - t0, "compute_seconds": t2 - t1,
            "customers": n}


def main() -> None:
    kind, data, db = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    report(kind=kind, **{"load": load, "score": score, "pandas": pandas_baseline}[kind](data, db))


if __name__ == "__main__":
    main()
