"""`customer_scores`: every customer with segment, cluster and churn probability (notebook 05).

The churn model that scores is the registry's production version. When no version is approved
(the transaction model on synthetic data never passes the quality gate), the newest version
scores instead, unless `require_approved`, and every row says it was not approved, so that
nobody mistakes teaching scores for a production decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from rfmkit.churn.registry import PRODUCTION
from rfmkit.marts import write_mart
from rfmkit.warehouse.base import Warehouse

TABLE = "customer_scores"
DDL = "090_customer_scores.sql"


class ScoringError(RuntimeError):
    """No model may score (or the scores do not cover every customer); the message says why."""


@dataclass
class ScoringVersion:
    registered_model: str
    version: str
    approved: bool
    note: str


def choose_version(registry, *, require_approved: bool) -> ScoringVersion:
    """The production version, or (when allowed) the newest version, marked unapproved."""
    name = getattr(registry, "name", None) or registry.group
    production = registry.alias(PRODUCTION)
    if production is not None:
        return ScoringVersion(name, str(production), True, f"{name} version {production} (production)")
    versions = registry.versions()
    if versions.empty:
        raise ScoringError(f"{name} has no registered version: run notebook 04 first")
    if require_approved:
        raise ScoringError(f"{name} has no approved (production) version; approve one in notebook 04, "
                           f"or set require_approved=False to score with the newest version")
    newest = versions.iloc[0]  # newest first; SageMaker packages are addressed by ARN
    version = str(newest["arn"]) if "arn" in newest.index else str(newest["version"])
    gate = newest.get("quality_gate") or newest.get("status", "not approved")
    return ScoringVersion(name, version, False,
                          f"{name} version {newest['version']} is NOT approved (quality gate: {gate}); "
                          f"these scores are for exploring the workflow, not for decisions")


def customer_scores(warehouse: Warehouse, churn: pd.DataFrame, chosen: ScoringVersion,
                    scored_at: date) -> pd.DataFrame:
    """One row per customer of rfm_scores; `churn` has customer_id, churn_probability, churn_label."""
    customers = warehouse.query("SELECT customer_id, segment, recency_days, frequency, monetary "
                                "FROM rfm_scores ORDER BY customer_id")
    if warehouse.table_exists("customer_segments"):
        clusters = warehouse.query("SELECT customer_id, cluster, cluster_label FROM customer_segments")
        customers = customers.merge(clusters, on="customer_id", how="left")
    else:
        customers["cluster"], customers["cluster_label"] = pd.NA, pd.NA
    rows = customers.merge(churn[["customer_id", "churn_probability", "churn_label"]],
                           on="customer_id", how="left", validate="one_to_one")
    unscored = int(rows["churn_probability"].isna().sum())
    if unscored:
        example = rows.loc[rows["churn_probability"].isna(), "customer_id"].iloc[0]
        raise ScoringError(f"{unscored:,} of {len(rows):,} customers got no churn score "
                           f"(for example {example}); every customer in rfm_scores must be scored")
    rows["monetary"] = rows["monetary"].astype(float)
    rows["churn_label"] = rows["churn_label"].astype(int)
    rows["cluster"] = rows["cluster"].astype("Int64")
    rows["revenue_at_risk"] = (rows["monetary"] * rows["churn_probability"]).round(2)
    rows["churn_model"] = chosen.registered_model
    rows["churn_model_version"] = chosen.version
    rows["churn_model_approved"] = chosen.approved
    rows["scored_at"] = scored_at
    return rows


def write_customer_scores(warehouse: Warehouse, backend, rows: pd.DataFrame):
    """The mart in the warehouse (audited COPY, count checked) and its CSV export."""
    return write_mart(warehouse, backend, TABLE, DDL, rows, area="scoring")


def distribution_by_segment(rows: pd.DataFrame) -> pd.DataFrame:
    """Per segment: customers, quartiles of churn probability, flagged customers, revenue at risk."""
    grouped = rows.groupby("segment")["churn_probability"]
    table = grouped.describe(percentiles=[0.25, 0.5, 0.75])[["count", "mean", "25%", "50%", "75%"]]
    table = table.rename(columns={"count": "customers", "mean": "mean_probability"})
    table["customers"] = table["customers"].astype(int)
    table["flagged"] = rows.groupby("segment")["churn_label"].sum().astype(int)
    table["revenue_at_risk"] = rows.groupby("segment")["revenue_at_risk"].sum()
    return table.sort_values("revenue_at_risk", ascending=False).reset_index()
