"""One customer-value benchmark case in a fresh process: python -m bench.clv_case KIND CUSTOMERS.

Input: purchase days of CUSTOMERS customers drawn from the generator's latent process (modified
BG/NBD and Gamma-Gamma, rfmkit.data.synthetic.LATENT_PROCESS) over two years, as a fct_orders
table (one row per purchase day), made before the clock starts. Measured, from those rows to
every customer's P(alive), expected purchases (30/90/365 days), expected order value and 12-month
CLV:
- `rfmkit`: the kit's path: the SQL summary (sql/105) on DuckDB, the modified BG/NBD and
  Gamma-Gamma by maximum likelihood, customer_value's columns (rfmkit.clv.value.value_frame);
- `pymc-marketing`: the library used as its documentation shows: `rfm_summary` on the pandas
  transactions, ModifiedBetaGeoModel and GammaGammaModel with their default priors fitted by MAP,
  then expected_probability_alive, expected_purchases and expected_customer_lifetime_value.
Prints one JSON line: seconds, fit_seconds, customers, peak_mb.
"""

from __future__ import annotations

import sys
import time
import warnings
from datetime import date

import numpy as np
import pandas as pd

from bench.cases import report
from rfmkit.data.synthetic import LATENT_PROCESS

START, END = np.datetime64("2017-01-01"), np.datetime64("2018-12-31")
SEED = 42


def purchase_days(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    process, spend = LATENT_PROCESS["purchases"], LATENT_PROCESS["spend"]
    span = int((END - START).astype(int))
    first = rng.integers(0, span, n).astype(float)
    rate = rng.gamma(process["r"], 1 / process["alpha"], n)
    dropout = rng.beta(process["a"], process["b"], n)
    spend_rate = rng.gamma(spend["q"], 1 / spend["gamma"], n)
    customers, days = [np.arange(n)], [first]
    alive, clock = np.flatnonzero(rng.random(n) >= dropout), first.copy()
    while len(alive):
        clock[alive] += rng.exponential(1 / rate[alive])
        alive = alive[clock[alive] < span]
        customers.append(alive)
        days.append(np.floor(clock[alive]))
        alive = alive[rng.random(len(alive)) >= dropout[alive]]
    customer, day = np.concatenate(customers), np.concatenate(days).astype(int)
    frame = pd.DataFrame({"customer_id": customer, "day": day}).drop_duplicates()
    frame["value"] = np.round(rng.gamma(spend["p"], 1 / spend_rate[frame["customer_id"]]), 2)
    frame["order_date"] = START + frame["day"].to_numpy().astype("timedelta64[D]")
    frame["customer_id"] = frame["customer_id"].map("c{:08d}".format)
    return frame[["customer_id", "order_date", "value"]]


def ours(orders: pd.DataFrame) -> tuple[int, float]:
    from rfmkit.clv import models, value
    from rfmkit.clv.summary import Period, summarise
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    with DuckDBWarehouse(":memory:") as warehouse:
        warehouse.con.register("orders_frame", orders)
        warehouse.execute("CREATE TABLE fct_orders AS SELECT customer_id, customer_id || '-' || "
                          "CAST(order_date AS VARCHAR) AS order_id, CAST(order_date AS DATE) AS "
                          "order_date, CAST(value AS DECIMAL(18, 2)) AS order_value, TRUE AS "
                          "is_purchase FROM orders_frame")
        t0 = time.perf_counter()
        period = Period.of(date(2018, 12, 30))
        summary = summarise(warehouse, period)
        fit_started = time.perf_counter()
        purchases = models.fit_purchases(summary, "mbgnbd")
        spend = models.fit_spend(summary)
        fit_seconds = time.perf_counter() - fit_started
        rows = value.value_frame(summary, purchases, spend, period, value.ValueSettings())
        assert len(rows) == summary["customer_id"].nunique()
        return time.perf_counter() - t0, fit_seconds, len(rows)


def library(orders: pd.DataFrame) -> tuple[float, float, int]:
    from pymc_marketing import clv

    t0 = time.perf_counter()
    data = clv.utils.rfm_summary(orders, "customer_id", "order_date", monetary_value_col="value",
                                 observation_period_end="2018-12-30", time_unit="D")
    fit_started = time.perf_counter()
    model = clv.ModifiedBetaGeoModel(data=data[["customer_id", "frequency", "recency", "T"]])
    model.fit(method="map", progressbar=False)
    repeaters = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
    spend = clv.GammaGammaModel(data=repeaters[["customer_id", "frequency", "monetary_value"]])
    spend.fit(method="map", progressbar=False)
    fit_seconds = time.perf_counter() - fit_started
    model.expected_probability_alive(data=data)
    for days in (30, 90, 365):
        model.expected_purchases(data=data, future_t=days)
    spend.expected_customer_spend(data=data)
    spend.expected_customer_lifetime_value(transaction_model=model, data=data.copy(), future_t=12,
                                           discount_rate=0.01, time_unit="D")
    return time.perf_counter() - t0, fit_seconds, len(data)


def main() -> None:
    kind, n = sys.argv[1], int(sys.argv[2])
    warnings.simplefilter("ignore")
    from rfmkit.clv import models

    models._clv()  # the import (seconds) is not what is measured
    orders = purchase_days(n)
    if kind == "rfmkit":
        seconds, fit_seconds, customers = ours(orders)
    elif kind == "pymc-marketing":
        seconds, fit_seconds, customers = library(orders)
    else:
        raise SystemExit(f"unknown case {kind!r}")
    report(kind=kind, customers=customers, purchase_days=len(orders), seconds=seconds,
           fit_seconds=fit_seconds)


if __name__ == "__main__":
    main()
