"""Model quality on the labelled rows of a window: ROC-AUC, PR-AUC, Brier score and calibration.

Judged only when enough rows have labels and both outcomes occur (an AUC needs churners and
stayers); until then the window says how many labels it is still waiting for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class QualitySettings:
    min_labelled: int = 100   # labelled rows a window needs before its quality is judged
    min_auc: float = 0.7      # below this ROC-AUC the model is not good enough (the registry's gate)

    def __post_init__(self):
        if int(self.min_labelled) < 20:
            raise ValueError(f"min_labelled={self.min_labelled!r}: at least 20 labelled rows")
        if not 0.5 <= self.min_auc < 1:
            raise ValueError(f"min_auc={self.min_auc!r}: between 0.5 (chance) and 1")


def measure(labels: pd.Series, probability: pd.Series, settings: QualitySettings) -> dict:
    """The window's quality figures, or why they are not there yet."""
    known = labels.notna()
    y = labels[known].astype(int).to_numpy()
    p = probability[known].astype(float).to_numpy()
    result = {"labelled": int(known.sum()), "rows": int(len(labels)), "roc_auc": None,
              "pr_auc": None, "brier": None, "calibration_error": None, "churn_rate": None,
              "mean_probability": None, "below_min_auc": False, "calibration": []}
    if len(y) < settings.min_labelled:
        result["reason"] = (f"{len(y)} of {len(labels)} rows labelled; quality is judged from "
                            f"{settings.min_labelled} labelled rows")
        return result
    if len(set(y)) < 2:
        result["reason"] = "the labelled rows hold only one outcome: no AUC yet"
        return result
    bins = np.minimum((p * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    table = pd.DataFrame({"bin": bins, "y": y, "p": p}).groupby("bin").agg(
        rows=("y", "size"), observed=("y", "mean"), predicted=("p", "mean")).reset_index()
    error = float((table["rows"] * (table["observed"] - table["predicted"]).abs()).sum() / len(y))
    auc = float(roc_auc_score(y, p))
    result.update(roc_auc=auc, pr_auc=float(average_precision_score(y, p)),
                  brier=float(brier_score_loss(y, p)), calibration_error=error,
                  churn_rate=float(y.mean()), mean_probability=float(p.mean()),
                  below_min_auc=auc < settings.min_auc, reason="",
                  calibration=table.to_dict("records"))
    return result
