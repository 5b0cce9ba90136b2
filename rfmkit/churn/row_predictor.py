"""A low-overhead way to score a few rows with a fitted churn pipeline (endpoint requests).

Profiled on one row: most of the time went to pandas column selection and scikit-learn's per-call
input checks (Pipeline, ColumnTransformer and each transformer: about 1.5 ms), and to the boosted
trees, which scikit-learn scores one tree at a time from Python (2-3 ms). RowPredictor calls the
fitted steps directly on NumPy arrays, in the ColumnTransformer's order: numeric steps as plain
functions with the same arithmetic, text steps memoised (row_transforms), boosted trees in one
call through treelite where it is installed (compiled_trees). A model calibrated with Platt
scaling (CalibratedClassifierCV, sigmoid, one fitted classifier) is unwrapped the same way: the
inner model's decision function, then the calibrator's own sigmoid (`expit(-(a * f + b))`).
Tests check the probabilities against the pipeline's (within 1e-9; bit for bit without treelite).
Large frames keep the normal path: there the fixed costs do not matter and threads pay off.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from rfmkit.churn.compiled_trees import compiled, decision_function
from rfmkit.churn.row_transforms import row_transform

# Above this many rows the pipeline's own (vectorised, multi-threaded) path is as fast.
MAX_ROWS = 256


@cache
def _threadpools():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # scanning the loaded libraries takes ms: once per process


def _platt(model) -> tuple[object, object] | None:
    """(inner model, sigmoid calibrator) of a binary sigmoid CalibratedClassifierCV with one
    calibrated classifier (ensemble=False); None for anything else."""
    calibrated = getattr(model, "calibrated_classifiers_", None)
    if not isinstance(model, CalibratedClassifierCV) or calibrated is None or len(calibrated) != 1:
        return None
    only = calibrated[0]
    if only.method != "sigmoid" or len(only.calibrators) != 1 or len(model.classes_) != 2 \
            or not hasattr(only.estimator, "decision_function"):
        return None
    return only.estimator, only.calibrators[0]


class RowPredictor:
    def __init__(self, pipeline: Pipeline):
        prepare, self.model = pipeline.steps[0][1], pipeline.steps[-1][1]
        self.platt = _platt(self.model)
        # Steps with no columns (e.g. no categorical features) are never fitted: skip them, as
        # ColumnTransformer does.
        self.parts = [(transformer, list(columns)) for name, transformer, columns
                      in prepare.transformers_ if name != "remainder" and len(columns)]
        self._transforms: dict[int, object] = {}  # per step, for float or object blocks
        inner = self.platt[0] if self.platt else self.model
        self.raw = decision_function(inner) if self.platt or _binary_boosted(inner) else None

    @classmethod
    def supports(cls, pipeline: object) -> bool:
        """Only the kit's shape: (ColumnTransformer, model), named columns, nothing passed through."""
        if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
            return False
        prepare = pipeline.steps[0][1]
        if not isinstance(prepare, ColumnTransformer) or not hasattr(prepare, "transformers_"):
            return False
        for name, transformer, columns in prepare.transformers_:
            if name == "remainder":
                if transformer != "drop":
                    return False
            elif isinstance(transformer, str) or not all(isinstance(c, str) for c in columns):
                return False  # "passthrough"/"drop" steps and positional columns: use the pipeline
        return hasattr(pipeline.steps[-1][1], "predict_proba")

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_columns({c: frame[c].to_numpy() for c in frame.columns})

    def predict_columns(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """Probabilities from one array per input column (floats for numbers, objects for
        categories): the endpoint's parsed request, with no DataFrame built in between."""
        with warnings.catch_warnings():
            # The transformers were fitted on a DataFrame; arrays in the same column order are
            # what ColumnTransformer hands them too, so the feature-name warning does not apply.
            warnings.simplefilter("ignore", UserWarning)
            blocks = []
            for transformer, names in self.parts:
                arrays = [columns[c] for c in names]
                numeric = all(a.dtype.kind in "biuf" for a in arrays)
                block = np.column_stack(arrays).astype(float) if numeric else np.column_stack(
                    [a.astype(object) for a in arrays])
                blocks.append(self._transform(transformer, numeric)(block))
            features = np.hstack(blocks).astype(float, copy=False)
        if compiled(self.raw):
            raw = self.raw(features)
        else:
            with _threadpools().limit(limits=1, user_api="openmp"):
                if self.raw is None:  # e.g. logistic regression: one call already
                    return self.model.predict_proba(features)
                raw = self.raw(features)
        if self.platt is None:  # a bare binary boosted model: scikit-learn's expit of the raw score
            churn = expit(raw)
        else:
            sigmoid = self.platt[1]
            churn = expit(-(sigmoid.a_ * raw + sigmoid.b_))
        return np.column_stack([1.0 - churn, churn])

    def _transform(self, transformer, numeric: bool):
        key = (id(transformer), numeric)
        if key not in self._transforms:
            self._transforms[key] = row_transform(transformer, numeric)
        return self._transforms[key]


def _binary_boosted(model) -> bool:
    return isinstance(model, HistGradientBoostingClassifier) and len(model.classes_) == 2
