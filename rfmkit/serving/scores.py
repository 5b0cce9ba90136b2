"""`customer_scores`: every customer with segment, cluster and churn probability (notebook 06).

The churn model that scores is the registry's production version. When no version is approved
(the transaction model on synthetic data never passes the quality gate), the newest version
scores instead, unless `require_approved`, and every row says it was not approved, so that
nobody mistakes teaching scores for a production decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from rfmkit import marts
from rfmkit.churn.predictions import write_predictions
from rfmkit.churn.registry import PRODUCTION
from rfmkit.warehouse.base import Warehouse

TABLE = marts.CUSTOMER_SCORES[0]


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
    name = registry.name
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


def customer_scores(warehouse: Warehouse, backend, churn: pd.DataFrame, chosen: ScoringVersion,
                    scored_at: date) -> tuple[pd.DataFrame, list[Path]]:
    """Load the predictions (`churn`: customer_id, churn_probability, churn_label) as
    churn_predictions, check they cover every customer of rfm_scores, then build the
    customer_scores and segment_summary marts in SQL and export them. Returns customer_scores'
    rows and the files exported."""
    write_predictions(warehouse, backend, churn, model=chosen.registered_model,
                      version=chosen.version, approved=chosen.approved, scored_at=scored_at)
    try:
        return marts.customer_scores(warehouse, backend)
    except marts.UnscoredCustomers as exc:
        raise ScoringError(str(exc)) from None


def distribution_by_segment(warehouse: Warehouse) -> pd.DataFrame:
    """Per segment: customers, quartiles of churn probability, flagged customers, revenue at risk,
    riskiest revenue first (from the segment_summary mart)."""
    table = warehouse.query(
        "SELECT segment, customers, mean_churn_probability AS mean_probability, "
        "churn_probability_p25 AS \"25%\", churn_probability_p50 AS \"50%\", "
        "churn_probability_p75 AS \"75%\", flagged, revenue_at_risk FROM segment_summary "
        "WHERE scored > 0 ORDER BY revenue_at_risk DESC, segment")
    return table.astype({"customers": int, "flagged": int, "revenue_at_risk": float})


@dataclass
class ScoringRun:
    chosen: ScoringVersion
    model: object            # the ServedModel that scored
    rows: pd.DataFrame       # customer_scores
    exported: list[Path]
    seconds: float           # the batch scoring itself

    def __str__(self) -> str:
        return (f"{len(self.rows):,} customers scored in {self.seconds:.1f} s; {TABLE} and "
                f"segment_summary built; exported to {', '.join(p.name for p in self.exported)}")


def score_every_customer(warehouse: Warehouse, backend, registry, *, require_approved: bool,
                         via: str, serving, runtime) -> ScoringRun:
    """Every customer of rfm_scores scored with the registry's chosen version (features as of the
    RFM snapshot), by the chosen route, written as churn_predictions, customer_scores and
    segment_summary."""
    import time

    from rfmkit import rfm
    from rfmkit.churn.transaction_labels import feature_frame
    from rfmkit.serving.operations import load_registered

    chosen = choose_version(registry, require_approved=require_approved)
    model, location = load_registered(registry, chosen.version)
    snapshot = rfm.default_snapshot_date(warehouse)
    features = feature_frame(warehouse, snapshot, snapshot)
    started = time.perf_counter()
    predictions = backend.batch_scorer(serving, runtime).score(features, model, location, via=via)
    seconds = time.perf_counter() - started
    predictions.insert(0, "customer_id", features["customer_id"].to_numpy())
    rows, exported = customer_scores(warehouse, backend, predictions, chosen, snapshot)
    return ScoringRun(chosen, model, rows, exported, seconds)
