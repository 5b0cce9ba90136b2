"""An independent pandas implementation of RFM, written from the definitions, not from the SQL.

Money is compared in integer cents so equality is exact. Dates come from pandas' own
normalize(); recency is the whole-day difference of two midnights (.dt.days is exact there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def order_values_from_olist(customers: pd.DataFrame, orders: pd.DataFrame,
                            payments: pd.DataFrame, statuses) -> pd.DataFrame:
    """customer, order, time and cents per order, from the three raw Olist frames."""
    pay = payments.assign(cents=(payments["payment_value"].astype(float) * 100).round().astype("int64"))
    per_order = pay.groupby("order_id", as_index=False)["cents"].sum()
    counted = orders[orders["order_status"].isin(list(statuses))]
    frame = (counted.merge(customers[["customer_id", "customer_unique_id"]], on="customer_id")
             .merge(per_order, on="order_id"))
    return pd.DataFrame({"customer": frame["customer_unique_id"], "order": frame["order_id"],
                         "time": pd.to_datetime(frame["order_purchase_timestamp"]),
                         "cents": frame["cents"]})


def rfm_reference(order_values: pd.DataFrame, snapshot: str | None = None) -> pd.DataFrame:
    """Per customer: first/last day, recency_days, frequency, monetary_cents, tenure_days, scores."""
    frame = order_values[order_values["cents"] >= 0].copy()
    frame["day"] = frame["time"].dt.normalize()
    snap = (frame["day"].max() + pd.Timedelta(days=1)) if snapshot is None else pd.Timestamp(snapshot)
    frame = frame[frame["day"] < snap]
    out = frame.groupby("customer").agg(first_day=("day", "min"), last_day=("day", "max"),
                                        frequency=("order", "nunique"),
                                        monetary_cents=("cents", "sum"))
    out["recency_days"] = (snap - out["last_day"]).dt.days
    out["tenure_days"] = (snap - out["first_day"]).dt.days
    n = len(out)
    # score = 1 + floor(5 * number strictly worse / n); rank(method="min") - 1 = strictly worse
    for letter, worse in (("r", (-out["recency_days"]).rank(method="min") - 1),
                          ("f", out["frequency"].rank(method="min") - 1),
                          ("m", out["monetary_cents"].rank(method="min") - 1)):
        out[f"{letter}_score"] = (1 + np.floor(5 * worse.to_numpy() / n)).astype("int64")
    out.attrs["snapshot"] = snap
    return out.sort_index()
