"""Where the churn risk sits: today's customers scored and summed up by named RFM segment."""

from __future__ import annotations

from datetime import date

import pandas as pd

from rfmkit.churn.transaction_labels import feature_frame
from rfmkit.warehouse.base import Warehouse


def score_customers(warehouse: Warehouse, pipeline, columns: list[str], as_of: date) -> pd.DataFrame:
    """customer_id and churn_probability for every customer with a purchase before `as_of`."""
    frame = feature_frame(warehouse, as_of, as_of)
    probability = pipeline.predict_proba(frame[columns].astype(float))[:, 1]
    return pd.DataFrame({"customer_id": frame["customer_id"], "churn_probability": probability})


def risk_by_segment(warehouse: Warehouse, backend, outcome, as_of: date, *, approved: bool
                    ) -> pd.DataFrame:
    """Score today's customers with a trained transaction model, write the scores as
    churn_predictions and read the segment_summary mart: per named segment, customers, mean churn
    probability, customers above the threshold, revenue and revenue at risk (each customer's spend
    × churn probability), riskiest revenue first."""
    from rfmkit import marts
    from rfmkit.churn.predictions import write_predictions

    scores = score_customers(warehouse, outcome.best.pipeline, list(outcome.parts.x_train.columns),
                             as_of)
    scores["churn_label"] = (scores["churn_probability"] >= outcome.evaluation.threshold).astype(int)
    registered = outcome.registered
    write_predictions(warehouse, backend, scores, model=registered.name, version=registered.version,
                      approved=approved, scored_at=as_of)
    summary, _ = marts.segment_summary(warehouse, backend)
    table = summary[summary["scored"] > 0].rename(columns={
        "scored": "customers_scored", "flagged": "flagged_for_retention"})
    table = table[["segment", "customers", "mean_churn_probability", "flagged_for_retention",
                   "revenue", "revenue_at_risk"]]
    return table.sort_values("revenue_at_risk", ascending=False).reset_index(drop=True)


def base_rate_sentence(name: str, base_rate: float, customers: int) -> str:
    """What the churn rate of the data at hand means for reading the results (computed, so that
    the notebook never states another data set's facts)."""
    if 0.4 <= base_rate <= 0.6:
        shape = ("roughly balanced, which is rare in practice: accuracy and precision read almost "
                 "as they would at 50/50")
    elif base_rate < 0.4:
        shape = (f"churners are the minority: a model that says 'stays' for everyone is right "
                 f"{1 - base_rate:.0%} of the time, so look at ROC-AUC, PR-AUC and costs, not accuracy")
    else:
        shape = (f"churners are the majority: a model that says 'churns' for everyone is right "
                 f"{base_rate:.0%} of the time, and the interesting minority is the one that stays")
    return f"**{name}**: {base_rate:.1%} of {customers:,} customers churned; {shape}."


def repeat_sentence(customers: int, repeat_share: float, base_rate: float) -> str:
    """How often people in this warehouse buy again, and what that does to transaction labels."""
    return (f"In this warehouse {1 - repeat_share:.1%} of {customers:,} customers bought exactly "
            f"once; with the chosen window {base_rate:.1%} of the customers in the training data "
            f"count as churned.")
