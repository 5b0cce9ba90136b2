"""The churn model core: split → tune both models → pick on CV AUC (simpler model within one
standard error) → calibrate → threshold on out-of-fold predictions → evaluate on the held-out
split → model.tar.gz and evaluation.json. No files but the artefacts, no tracking, no registry:
the SageMaker container's entry point runs exactly this (experiment.py orchestrates around it).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import sklearn

from rfmkit.churn import artifact, training
from rfmkit.churn.datasets import ChurnData
from rfmkit.churn.evaluation import (
    Costs,
    Evaluation,
    cost_optimal_threshold,
    evaluate,
    holdout_metrics,
    importance,
    no_importance,
    write_evaluation_json,
)
from rfmkit.churn.registry import Registered
from rfmkit.config import RunConfig


def model_name(data: ChurnData) -> str:
    """Registered model name per data set: versions of one name are comparable."""
    return f"rfmkit-churn-{data.name}"


@dataclass
class Outcome:
    data: ChurnData
    parts: training.Split
    candidates: list[training.Candidate]
    best: training.Candidate            # its pipeline is the calibrated model that is served
    evaluation: Evaluation
    importance: pd.DataFrame
    choice: str = ""                    # why this model (the one-standard-error rule)
    holdout: pd.DataFrame | None = None  # both models' hold-out metrics, side by side
    artifact_path: Path | None = None
    evaluation_path: Path | None = None
    registered: Registered | None = None
    run_id: str | None = None
    trained_with: str = "scikit-learn (local)"
    model_uri: str | None = None  # aws: the training job's model.tar.gz on S3

    def comparison(self) -> pd.DataFrame:
        """Both models: CV AUC (mean, sd, standard error), hold-out AUCs, which was chosen."""
        table = pd.DataFrame([{"model": c.name, "cv_auc_mean": c.cv_auc_mean,
                               "cv_auc_std": c.cv_auc_std, "cv_auc_se": c.cv_auc_se,
                               "chosen": c.name == self.best.name, "best_params": c.best_params}
                              for c in self.candidates])
        if self.holdout is not None and not self.holdout.empty:
            table = table.merge(self.holdout[["model", "holdout_roc_auc", "holdout_pr_auc"]],
                                on="model", how="left")
        return table

    def metadata(self) -> dict:
        """What serving and the registry need to know about the model, stored beside it."""
        return {"name": model_name(self.data), "model": self.best.name,
                "columns": list(self.parts.x_train.columns), "kinds": self.data.kinds,
                "threshold": self.evaluation.threshold,
                "threshold_source": self.evaluation.threshold_source,
                "calibration": "sigmoid (Platt) on cross-validated predictions",
                "choice": self.choice, "positive_label": self.data.positive_label,
                "label": "1 = churned", "roc_auc": self.evaluation.roc_auc,
                "candidates": [{"model": c.name, "cv_auc_mean": c.cv_auc_mean,
                                "cv_auc_std": c.cv_auc_std, "best_params": c.best_params}
                               for c in self.candidates],
                "sklearn": sklearn.__version__, "python": platform.python_version()}


def train_and_evaluate(data: ChurnData, costs: Costs, *, budget: int = 6, folds: int = 5,
                       seed: int = 42, progress=print, explain: bool = True,
                       settings: dict[str, dict] | None = None) -> Outcome:
    """Split, tune both models (or fit the given `settings`, see training.train_all), choose on
    CV AUC, calibrate, pick the threshold out of fold, and evaluate on the held-out part (no files)."""
    parts = training.split(data, seed=seed)
    candidates = training.train_all(data, parts, budget=budget, folds=folds, seed=seed,
                                    progress=progress, settings=settings)
    choice = training.choose(candidates)
    progress(f"chosen: {choice.reason}")
    calibrated = training.calibrate(choice.chosen, parts, folds=folds, seed=seed)
    threshold, oof_cost = cost_optimal_threshold(parts.y_train.to_numpy(),
                                                 calibrated.oof_probability, costs)
    best = replace(choice.chosen, pipeline=calibrated.pipeline)
    result = evaluate(best.pipeline, parts.x_test, parts.y_test, costs, threshold=threshold,
                      threshold_source="out-of-fold on the training part",
                      cv_auc=(best.cv_auc_mean, best.cv_auc_std),
                      uncalibrated=choice.chosen.pipeline, oof_expected_cost=oof_cost)
    result.curves.update(oof_probability=calibrated.oof_probability,
                         oof_uncalibrated=calibrated.oof_uncalibrated, oof_y=parts.y_train.to_numpy())
    # permutation importance is a third of the work on small data: skipped when nobody reads it
    ranked = importance(best.pipeline, parts.x_test, parts.y_test, seed=seed) if explain \
        else no_importance()
    return Outcome(data, parts, candidates, best, result, ranked, choice=choice.reason,
                   holdout=holdout_metrics(candidates, parts.x_test, parts.y_test))


REFERENCE_FILE = "reference.parquet"
REFERENCE_LABEL = "__label__"  # 1 = churned; named so that no feature can collide with it


def save(outcome: Outcome, folder: Path) -> Outcome:
    """model.tar.gz (pipeline + metadata), evaluation.json and the monitoring reference in `folder`."""
    outcome.artifact_path = artifact.save(outcome.best.pipeline, outcome.metadata(), folder)
    outcome.evaluation_path = write_evaluation_json(outcome.evaluation, folder / "evaluation.json")
    write_reference(outcome, folder / REFERENCE_FILE)
    return outcome


def write_reference(outcome: Outcome, path: Path) -> Path:
    """What drift is measured against: the training rows, their label, and the served model's
    churn probability for them. The served model's own output is the reference for its output:
    the out-of-fold probabilities come from the fold models and differ in shape (on the
    contact-center data a KS test tells them from the served model's hold-out scores at
    p ~ 1e-15 with no drift at all), which would make the prediction look drifted for ever."""
    parts = outcome.parts
    reference = parts.x_train.reset_index(drop=True).copy()
    reference["churn_probability"] = outcome.best.pipeline.predict_proba(parts.x_train)[:, 1]
    reference[REFERENCE_LABEL] = parts.y_train.to_numpy()
    reference.to_parquet(path, index=False)
    return path


def model_folder(cfg: RunConfig, data: ChurnData) -> Path:
    return cfg.run_dir / "models" / f"churn-{data.name}"
