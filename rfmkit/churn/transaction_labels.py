"""Churn labels and features derived from the warehouse's transactions (sql/080, sql/081).

The cutoff splits time: features from before it, the label from the `horizon_days` after it.
The default cutoff is the latest one whose whole horizon lies inside the data, so that "did not
come back" is never just "the data ended".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from rfmkit.churn.datasets import ChurnData, ChurnDataError
from rfmkit.warehouse.base import Warehouse

FEATURES_SQL, PAYMENT_MIX_SQL = "080_churn_features.sql", "081_churn_payment_mix.sql"


@dataclass
class Window:
    cutoff: date
    horizon_end: date  # exclusive
    first_purchase: date
    last_purchase: date

    def __str__(self) -> str:
        return (f"features from {self.first_purchase} to {self.cutoff - timedelta(days=1)}; "
                f"label window {self.cutoff} to {self.horizon_end - timedelta(days=1)} "
                f"({(self.horizon_end - self.cutoff).days} days)")


NEEDED_TABLES = {"fct_orders": "02_rfm_scoring", "rfm_scores": "02_rfm_scoring"}


def why_unavailable(warehouse: Warehouse) -> str | None:
    """None when the warehouse has the tables transaction churn needs, else a sentence saying which
    notebook builds them (a notebook section that needs them is skipped with that sentence)."""
    missing = [t for t in NEEDED_TABLES if not warehouse.table_exists(t)]
    if not missing:
        return None
    builders = ", ".join(sorted({NEEDED_TABLES[t] for t in missing}))
    return (f"skipped: this warehouse has no {', '.join(missing)} (run {builders} into this run "
            f"folder first, e.g. `python -m rfmkit run --only 01,02,04 -p ...`)")


def repeat_share(warehouse: Warehouse) -> tuple[int, float]:
    """(customers, share who bought more than once) in the warehouse's orders, for sentences
    about the data at hand instead of facts quoted from Olist."""
    row = warehouse.query("SELECT COUNT(*) AS customers, "
                          "SUM(CASE WHEN frequency > 1 THEN 1 ELSE 0 END) AS repeat_buyers "
                          "FROM rfm_scores").iloc[0]
    customers = int(row["customers"])
    return customers, (float(row["repeat_buyers"]) / customers if customers else 0.0)


def choose_window(warehouse: Warehouse, cutoff_date: str | date | None, horizon_days: int) -> Window:
    if not warehouse.table_exists("fct_orders"):
        raise ChurnDataError("table fct_orders not found: run notebook 02_rfm_scoring first")
    try:
        horizon = int(horizon_days)
    except (TypeError, ValueError):
        raise ChurnDataError(f"parameter horizon_days={horizon_days!r}: use a whole number of "
                             f"days") from None
    if horizon < 1:
        raise ChurnDataError(f"parameter horizon_days={horizon}: use at least 1 day")
    span = warehouse.query("SELECT MIN(order_date) AS first_day, MAX(order_date) AS last_day "
                           "FROM fct_orders WHERE is_purchase")
    first, last = (pd.Timestamp(span[c].iloc[0]).date() for c in ("first_day", "last_day"))
    if cutoff_date in (None, ""):
        cutoff = last + timedelta(days=1) - timedelta(days=horizon)
    else:
        try:
            cutoff = date.fromisoformat(str(cutoff_date))
        except ValueError:
            raise ChurnDataError(f"parameter cutoff_date={cutoff_date!r}: use YYYY-MM-DD, or "
                                 f"leave it empty for the latest cutoff the data allows") from None
    end = cutoff + timedelta(days=horizon)
    if end > last + timedelta(days=1):
        raise ChurnDataError(f"parameters cutoff_date={cutoff} and horizon_days={horizon}: the "
                             f"label window ends {end}, after the last purchase in the data "
                             f"({last}); customers would look churned only because the data ends. "
                             f"Use a cutoff on or before {last + timedelta(days=1 - horizon)}")
    if cutoff <= first:
        raise ChurnDataError(f"parameter cutoff_date={cutoff}: no purchases before it (the data "
                             f"starts {first})")
    return Window(cutoff, end, first, last)


def transaction_dataset(warehouse: Warehouse, window: Window) -> ChurnData:
    """Build churn_features (and the Olist payment mix) and return them as ChurnData."""
    frame = feature_frame(warehouse, window.cutoff, window.horizon_end)
    if frame.empty or frame["churned"].nunique() < 2:
        raise ChurnDataError(f"window {window}: the label has one value for every customer; "
                             f"choose another cutoff_date or horizon_days")
    features = frame.drop(columns=["customer_id", "churned"]).astype(float)
    notes = []
    constant = [c for c in features if features[c].nunique(dropna=False) <= 1]
    if constant:
        notes.append(f"dropped {constant}: one value for every customer")
        features = features.drop(columns=constant)
    return ChurnData("transactions", features, frame["churned"].astype(int).rename("churned"),
                     frame[["customer_id"]], {c: "numeric" for c in features}, "1", notes)


def feature_frame(warehouse: Warehouse, cutoff: date, horizon_end: date) -> pd.DataFrame:
    """customer_id, the features as of `cutoff`, and `churned` for the window up to horizon_end.

    For scoring today's customers, pass cutoff = horizon_end = the snapshot date: the features are
    the same as in training, the (empty) label window is ignored.
    """
    params = {"cutoff_date": cutoff.isoformat(), "horizon_end_date": horizon_end.isoformat()}
    warehouse.run_file(FEATURES_SQL, params)
    query = "SELECT f.* FROM churn_features AS f"
    if warehouse.table_exists("olist_order_payments"):
        warehouse.run_file(PAYMENT_MIX_SQL, {"cutoff_date": params["cutoff_date"]})
        query = ("SELECT f.*, m.share_credit_card, m.share_boleto, m.share_voucher, "
                 "m.share_debit_card, m.mean_installments FROM churn_features AS f "
                 "LEFT JOIN churn_payment_mix AS m ON m.customer_id = f.customer_id")
    return warehouse.query(query + " ORDER BY f.customer_id")
