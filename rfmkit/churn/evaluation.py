"""Honest evaluation on the held-out split.

ROC-AUC and PR-AUC are computed from predicted **probabilities**: two reference projects computed
AUC from 0/1 predictions, which measures one threshold instead of the ranking and understates AUC
by 0.1 or more. The decision threshold is chosen from costs (a missed churner vs an intervention)
on out-of-fold predictions of the training part, never on the hold-out it is reported on.
`evaluation.json` follows SageMaker's model-quality metrics layout so the
same file serves the MLflow run and a SageMaker model package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from rfmkit.churn.training import JOBS


@dataclass
class Costs:
    """Cost of a churner the model misses, and of one retention intervention (offered to every
    customer flagged, churner or not). A caught churner costs the intervention only."""

    missed_churner: float = 100.0
    intervention: float = 10.0

    def __post_init__(self) -> None:
        for name in ("missed_churner", "intervention"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"parameter cost_{name}={value!r}: use a number >= 0")

    def total(self, y_true: np.ndarray, flagged: np.ndarray) -> float:
        missed = np.sum((y_true == 1) & ~flagged)
        return float(missed * self.missed_churner + flagged.sum() * self.intervention)


@dataclass
class Evaluation:
    roc_auc: float
    pr_auc: float
    base_rate: float
    threshold: float
    expected_cost: float
    cost_at_half: float
    confusion: pd.DataFrame
    curves: dict = field(repr=False)
    cv_auc_mean: float | None = None
    cv_auc_std: float | None = None
    threshold_source: str = "fixed at 0.5"
    brier: float | None = None                # calibrated probabilities, hold-out
    brier_uncalibrated: float | None = None   # the same model before calibration, hold-out
    oof_expected_cost: float | None = None    # at the threshold, on the training part's OOF predictions

    def headline(self, label_auc: float | None = None) -> str:
        """The evaluation in two sentences (Markdown), for the notebook."""
        text = f"ROC-AUC **{self.roc_auc:.3f}** from probabilities"
        if label_auc is not None:
            text += f"; computed from 0/1 predictions at 0.5 it would read {label_auc:.3f}"
        if self.cv_auc_mean is not None:
            text += f". Cross-validated: {self.cv_auc_mean:.3f} ± {self.cv_auc_std:.3f}"
        text += (f". Threshold **{self.threshold:.3f}** ({self.threshold_source}): expected cost on "
                 f"the hold-out {self.expected_cost:,.0f} vs {self.cost_at_half:,.0f} at 0.5.")
        if self.brier is not None and self.brier_uncalibrated is not None:
            text += (f" Brier score {self.brier_uncalibrated:.4f} before calibration, "
                     f"{self.brier:.4f} after.")
        return text

    def summary(self) -> pd.DataFrame:
        rows = {"ROC-AUC (hold-out, from probabilities)": self.roc_auc,
                "PR-AUC (hold-out)": self.pr_auc,
                "base rate (hold-out)": self.base_rate,
                f"threshold (cost-optimal, {self.threshold_source})": self.threshold,
                "expected cost at that threshold (hold-out)": self.expected_cost,
                "expected cost at threshold 0.5 (hold-out)": self.cost_at_half}
        if self.brier is not None:
            rows["Brier score, calibrated (hold-out)"] = self.brier
        if self.brier_uncalibrated is not None:
            rows["Brier score, before calibration (hold-out)"] = self.brier_uncalibrated
        if self.cv_auc_mean is not None:
            rows["ROC-AUC (cross-validated, mean)"] = self.cv_auc_mean
            rows["ROC-AUC (cross-validated, sd)"] = self.cv_auc_std
        return pd.DataFrame({"metric": list(rows), "value": list(rows.values())})


def cost_optimal_threshold(y_true: np.ndarray, probability: np.ndarray, costs: Costs
                           ) -> tuple[float, float]:
    """The threshold (among the observed probabilities) with the lowest total cost.

    Every candidate's cost at once, as `costs.total` counts it (flagged: probability >= t): on
    sorted probabilities, the rows below t are the ones not flagged, and a running count of
    churners among them is the churners missed."""
    y_true, probability = np.asarray(y_true), np.asarray(probability)
    candidates = np.unique(np.concatenate([[0.0, 1.0 + 1e-9], probability]))
    order = np.argsort(probability, kind="stable")
    below = np.searchsorted(probability[order], candidates, side="left")  # rows not flagged
    churners_below = np.concatenate([[0], np.cumsum(y_true[order] == 1)])
    totals = churners_below[below] * costs.missed_churner + (len(probability) - below) * costs.intervention
    best = int(np.argmin(totals))
    return float(min(candidates[best], 1.0)), float(totals[best])


def evaluate(pipeline, x_test: pd.DataFrame, y_test: pd.Series, costs: Costs, *,
             threshold: float = 0.5, threshold_source: str = "fixed at 0.5",
             cv_auc: tuple[float, float] | None = None, uncalibrated=None,
             oof_expected_cost: float | None = None) -> Evaluation:
    """Metrics of `pipeline` on the hold-out at a threshold chosen elsewhere (out of fold).

    uncalibrated: the same model before calibration, to show what calibration changed."""
    y = y_test.to_numpy()
    probability = pipeline.predict_proba(x_test)[:, 1]
    flagged = probability >= threshold
    matrix = confusion_matrix(y, flagged.astype(int), labels=[0, 1])
    fpr, tpr, _ = roc_curve(y, probability)
    precision, recall, _ = precision_recall_curve(y, probability)
    prob_true, prob_pred = calibration_curve(y, probability, n_bins=10, strategy="quantile")
    curves = {"fpr": fpr, "tpr": tpr, "precision": precision, "recall": recall,
              "calibration_true": prob_true, "calibration_predicted": prob_pred,
              "gain": gain_table(y, probability), "probability": probability, "y": y}
    brier_before = None
    if uncalibrated is not None:
        raw = uncalibrated.predict_proba(x_test)[:, 1]
        brier_before = float(brier_score_loss(y, raw))
        raw_true, raw_pred = calibration_curve(y, raw, n_bins=10, strategy="quantile")
        curves.update(uncalibrated_true=raw_true, uncalibrated_predicted=raw_pred)
    return Evaluation(
        roc_auc=float(roc_auc_score(y, probability)),
        pr_auc=float(average_precision_score(y, probability)),
        base_rate=float(y.mean()), threshold=float(threshold),
        expected_cost=costs.total(y, flagged), cost_at_half=costs.total(y, probability >= 0.5),
        confusion=pd.DataFrame(matrix, index=["stayed", "churned"],
                               columns=["predicted stay", "predicted churn"]),
        curves=curves, cv_auc_mean=cv_auc[0] if cv_auc else None,
        cv_auc_std=cv_auc[1] if cv_auc else None, threshold_source=threshold_source,
        brier=float(brier_score_loss(y, probability)), brier_uncalibrated=brier_before,
        oof_expected_cost=oof_expected_cost)


def holdout_metrics(candidates, x_test: pd.DataFrame, y_test: pd.Series) -> pd.DataFrame:
    """Each candidate's hold-out ROC-AUC and PR-AUC, side by side with its CV AUC (reported only:
    the choice was made on CV before these were computed)."""
    y = y_test.to_numpy()
    rows = []
    for c in candidates:
        if c.pipeline is None:
            continue
        p = c.pipeline.predict_proba(x_test)[:, 1]
        rows.append({"model": c.name, "cv_auc_mean": c.cv_auc_mean, "cv_auc_se": c.cv_auc_se,
                     "holdout_roc_auc": float(roc_auc_score(y, p)),
                     "holdout_pr_auc": float(average_precision_score(y, p))})
    return pd.DataFrame(rows)


def gain_table(y_true: np.ndarray, probability: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Cumulative gain and lift by decile of predicted risk (highest risk first)."""
    order = np.argsort(-probability, kind="stable")
    y_sorted = np.asarray(y_true)[order]
    edges = np.linspace(0, len(y_sorted), bins + 1).astype(int)
    total = max(y_sorted.sum(), 1)
    rows = []
    for i in range(1, bins + 1):
        top = y_sorted[:edges[i]]
        share = edges[i] / len(y_sorted)
        captured = top.sum() / total
        rows.append({"customers_contacted_%": 100 * share, "churners_captured_%": 100 * captured,
                     "lift": captured / share if share else np.nan})
    return pd.DataFrame(rows)


def importance(pipeline, x_test: pd.DataFrame, y_test: pd.Series, *, seed: int = 42,
               repeats: int = 5) -> pd.DataFrame:
    """Permutation importance on the test split: the AUC lost when a column is shuffled."""
    result = permutation_importance(pipeline, x_test, y_test, scoring="roc_auc", n_repeats=repeats,
                                    random_state=seed, n_jobs=JOBS)
    return (pd.DataFrame({"column": x_test.columns, "auc_drop_mean": result.importances_mean,
                          "auc_drop_std": result.importances_std})
            .sort_values("auc_drop_mean", ascending=False).reset_index(drop=True))


def no_importance() -> pd.DataFrame:
    """What `importance` returns, empty: for a model nobody reads the importances of."""
    return pd.DataFrame(columns=["column", "auc_drop_mean", "auc_drop_std"])


def label_based_auc(y_true, probability, threshold: float = 0.5) -> float:
    """The reference projects' mistake, kept to show the difference: AUC of 0/1 predictions."""
    return float(roc_auc_score(y_true, (np.asarray(probability) >= threshold).astype(int)))


def model_quality_json(evaluation: Evaluation) -> dict:
    """SageMaker model-quality layout (binary_classification_metrics)."""
    c = evaluation.confusion.to_numpy()
    tn, fp, fn, tp = (int(x) for x in c.ravel())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    curves = evaluation.curves

    def metric(value, sd=None):
        return {"value": float(value), "standard_deviation": "NaN" if sd is None else float(sd)}

    return {"binary_classification_metrics": {
        "auc": metric(evaluation.roc_auc),
        "pr_auc": metric(evaluation.pr_auc),
        "cross_validated_auc": metric(evaluation.cv_auc_mean, evaluation.cv_auc_std)
        if evaluation.cv_auc_mean is not None else metric(float("nan")),
        "accuracy": metric((tp + tn) / max(c.sum(), 1)),
        "precision": metric(precision), "recall": metric(recall), "f1": metric(f1),
        "threshold": metric(evaluation.threshold),
        "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
        "receiver_operating_characteristic_curve": {
            "false_positive_rates": _thin(curves["fpr"]), "true_positive_rates": _thin(curves["tpr"])},
        "precision_recall_curve": {"precisions": _thin(curves["precision"]),
                                   "recalls": _thin(curves["recall"])},
    }}


def write_evaluation_json(evaluation: Evaluation, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model_quality_json(evaluation), indent=2))
    return path


def _thin(values: np.ndarray, points: int = 101) -> list[float]:
    """At most `points` evenly spaced curve points (the full curves can have 10^5 entries)."""
    values = np.asarray(values, dtype=float)
    if len(values) > points:
        values = values[np.linspace(0, len(values) - 1, points).astype(int)]
    return [round(float(v), 6) for v in values]
