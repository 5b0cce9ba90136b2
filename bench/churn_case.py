"""One churn-training benchmark case in a fresh process: python -m bench.churn_case KIND DATA.

DATA is a pickled ChurnData built by bench.churn_bench (the transaction features of generated
customers). KIND:
  kit       what notebook 04 runs: split, tune logistic regression and gradient boosting
            (6 random settings each, 5-fold CV, ROC-AUC), pick the better, evaluate on the
            hold-out and rank features by permutation importance
  baseline  what one would write by hand: the same split and preprocessing, one default
            HistGradientBoostingClassifier fit, hold-out ROC-AUC
Prints one JSON line: rows, seconds, test_auc, peak_mb.
"""

from __future__ import annotations

import pickle
import sys
import time

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from bench.cases import report
from rfmkit.churn import experiment, training
from rfmkit.churn.evaluation import Costs


def main() -> None:
    kind, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as fh:
        data = pickle.load(fh)
    t0 = time.perf_counter()
    if kind == "kit":
        outcome = experiment.train_and_evaluate(data, Costs(), budget=6, folds=5, seed=42,
                                                progress=lambda *_: None)
        auc, model = outcome.evaluation.roc_auc, outcome.best.name
    elif kind == "baseline":
        parts = training.split(data, seed=42)
        pipeline = Pipeline([("prepare", training.preprocessor(data.kinds)),
                             ("model", HistGradientBoostingClassifier(random_state=42))])
        pipeline.fit(parts.x_train, parts.y_train)
        auc = roc_auc_score(parts.y_test, pipeline.predict_proba(parts.x_test)[:, 1])
        model = "default HistGradientBoosting"
    else:
        raise SystemExit(f"unknown case {kind!r}")
    report(kind=kind, rows=len(data.label), seconds=time.perf_counter() - t0, test_auc=float(auc),
           model=model)


if __name__ == "__main__":
    main()
