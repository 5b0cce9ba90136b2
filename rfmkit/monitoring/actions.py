"""What an alarm sets off: retrain a candidate, register it through the quality gate, put it on the
staging endpoint. Promotion to production stays a person's explicit approval.

Every step is one line in `monitoring/actions.jsonl` (time, window, step, outcome), and a window
sets off its retraining once: checking again does not retrain again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

ACTIONS_FILE = "actions.jsonl"


class ActionLog:
    def __init__(self, folder: str | Path):
        self.path = Path(folder) / ACTIONS_FILE

    def add(self, window: str, step: str, outcome: str, **detail) -> dict:
        entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "window": window,
                 "step": step, "outcome": outcome, **detail}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")
        return entry

    def entries(self) -> pd.DataFrame:
        if not self.path.exists():
            return pd.DataFrame(columns=["time", "window", "step", "outcome"])
        return pd.DataFrame([json.loads(line) for line in self.path.read_text().splitlines()
                             if line.strip()])

    def handled(self) -> set[str]:
        entries = self.entries()
        return set(entries.loc[entries["step"] == "trigger", "window"]) if not entries.empty else set()


@dataclass
class Retrainer:
    """Retraining with the kit's own churn code (notebook 04's), on the training data plus the
    served rows whose outcome is now known. With a `registry`, the production model's own settings
    are refitted (its model and hyperparameters, from its metadata: one cross-validation and one
    fit); without one, or when production records none, a small search (`budget`, `folds`)."""

    kit: object
    churn_data: str = "contact_center"
    min_auc: float = 0.7
    seed: int = 42
    budget: int = 2
    folds: int = 3
    tracking_uri: str = ""
    stage: Callable[[object], str] | None = None  # registered version → what staging now serves
    progress: Callable = print
    registry: object = None  # where production's settings are read from

    def __call__(self, window: str, labelled: pd.DataFrame, log: ActionLog) -> object | None:
        from rfmkit.churn import experiment
        from rfmkit.churn.evaluation import Costs

        data = self._data(labelled)
        settings = experiment.production_recipe(self.registry) if self.registry is not None else None
        log.add(window, "retrain", "started", rows=len(data.label),
                served_rows_added=len(labelled), data=self.churn_data,
                settings=settings or f"searched ({self.budget} settings × {self.folds} folds)")
        folder = self.kit.cfg.run_dir / "models" / f"churn-{data.name}-retrained-{window}"
        outcome = experiment.fit_and_evaluate(data, self.kit, Costs(), budget=self.budget,
                                              folds=self.folds, seed=self.seed, explain=False,
                                              folder=folder, progress=self.progress,
                                              settings=settings)
        log.add(window, "retrain", "done", model=outcome.best.name,
                roc_auc=round(outcome.evaluation.roc_auc, 4), artifact=str(outcome.artifact_path))
        experiment.log_and_register(outcome, self.kit, min_auc=self.min_auc, seed=self.seed,
                                    costs=Costs(), tracking_uri=self.tracking_uri)
        registered = outcome.registered
        log.add(window, "register", "passed the gate" if registered.passed_gate else "below the gate",
                version=registered.version, roc_auc=round(registered.roc_auc, 4), min_auc=self.min_auc)
        if not registered.passed_gate:
            log.add(window, "stage", "skipped: the candidate did not pass the quality gate")
            return outcome
        if self.stage is None:
            log.add(window, "stage", f"not staged here: version {registered.version} waits as the "
                                     f"registry's candidate (notebook 06 serves it on staging)")
        else:
            log.add(window, "stage", self.stage(registered), version=registered.version)
        log.add(window, "approve", "waiting for a person: promote with "
                                   f"deployer.promote({registered.version!r}) after review")
        return outcome

    def _data(self, labelled: pd.DataFrame):
        from rfmkit.churn import experiment
        from rfmkit.churn.datasets import ChurnData

        with self.kit.warehouse() as warehouse:
            base = experiment.load_data(self.churn_data, warehouse, progress=self.progress)
        if labelled.empty:
            return base
        columns = list(base.features.columns)
        added = labelled[columns].reset_index(drop=True)
        features = pd.concat([base.features.reset_index(drop=True), added], ignore_index=True)
        label = pd.concat([base.label.reset_index(drop=True),
                           labelled["label"].astype(int).reset_index(drop=True)], ignore_index=True)
        ids = pd.concat([base.ids.reset_index(drop=True),
                         pd.DataFrame(index=range(len(added)), columns=base.ids.columns)],
                        ignore_index=True)
        return ChurnData(base.name, features, label.rename(base.label.name), ids, dict(base.kinds),
                         base.positive_label, [*base.notes, f"{len(added)} served rows with known "
                                                             f"outcomes added"])
