"""Entry point inside SageMaker's SKLearn container: the same training and evaluation as local.

SageMaker runs `train_churn.py` (a two-line shim next to a copy of the rfmkit package), which calls
`main()`. Inputs follow the container contract: the training CSV in $SM_CHANNEL_TRAIN (features plus
a `churned` column), hyperparameters as JSON in $SM_HPS, and everything written to $SM_MODEL_DIR is
packed by SageMaker into model.tar.gz (model.joblib + metadata.json + evaluation.json, the layout
rfmkit.churn.artifact loads). Runs offline too, which is how the tests exercise it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from rfmkit.churn import artifact
from rfmkit.churn.datasets import ChurnData, as_categorical
from rfmkit.churn.evaluation import Costs, write_evaluation_json

LABEL = "churned"
DATA_FILE = "data.csv"


def read_training_csv(path: Path, kinds: dict[str, str], name: str) -> ChurnData:
    frame = pd.read_csv(path)
    label = frame.pop(LABEL).astype(int).rename(LABEL)
    features = frame[list(kinds)].copy()
    for column, kind in kinds.items():
        features[column] = (as_categorical(features[column]) if kind == "categorical"
                            else features[column].astype(float))
    return ChurnData(name, features, label, pd.DataFrame(index=frame.index), dict(kinds), "1")


def main(env: dict[str, str] | None = None) -> Path:
    from rfmkit.churn.outcome import train_and_evaluate

    env = dict(os.environ if env is None else env)
    hps = json.loads(env.get("SM_HPS", "{}"))
    kinds = json.loads(hps["kinds"]) if isinstance(hps["kinds"], str) else hps["kinds"]
    data = read_training_csv(Path(env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")) / DATA_FILE,
                             kinds, hps.get("name", "churn"))
    costs = Costs(float(hps.get("cost_missed_churner", 100)), float(hps.get("cost_intervention", 10)))
    settings = hps.get("settings")  # a retraining's or challenger's given settings: no search
    outcome = train_and_evaluate(data, costs, budget=int(hps.get("budget", 6)),
                                 folds=int(hps.get("folds", 5)), seed=int(hps.get("seed", 42)),
                                 settings=json.loads(settings) if isinstance(settings, str) else settings)
    model_dir = Path(env.get("SM_MODEL_DIR", "/opt/ml/model"))
    artifact.write_dir(outcome.best.pipeline, outcome.metadata(), model_dir)
    write_evaluation_json(outcome.evaluation, model_dir / "evaluation.json")
    print(json.dumps({"roc_auc": outcome.evaluation.roc_auc, "model": outcome.best.name}))
    return model_dir
