"""A low-overhead way to score a few rows with a fitted churn pipeline (endpoint requests).

Profiled on one row (8 ms): most of the time went to pandas column selection and feature-name
checks in Pipeline + ColumnTransformer, and to waking OpenMP threads once per boosted tree (161
trees, each a parallel region over a single row). RowPredictor calls the same fitted transformers
and model directly on NumPy arrays, in the ColumnTransformer's order, with one OpenMP thread, so
the arithmetic is scikit-learn's own and the probabilities are identical (tests compare them).
Large frames keep the normal path: there the fixed costs do not matter and threads pay off.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

# Above this many rows the pipeline's own (vectorised, multi-threaded) path is as fast.
MAX_ROWS = 256


@cache
def _threadpools():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # scanning the loaded libraries takes ms: once per process


class RowPredictor:
    def __init__(self, pipeline: Pipeline):
        prepare, self.model = pipeline.steps[0][1], pipeline.steps[-1][1]
        # Steps with no columns (e.g. no categorical features) are never fitted: skip them, as
        # ColumnTransformer does.
        self.parts = [(transformer, list(columns)) for name, transformer, columns
                      in prepare.transformers_ if name != "remainder" and len(columns)]

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
        values = frame.to_numpy(dtype=object)  # one conversion; per-block column lookups cost more
        position = {c: i for i, c in enumerate(frame.columns)}
        numeric = {c for c, kind in frame.dtypes.items() if pd.api.types.is_numeric_dtype(kind)}
        with warnings.catch_warnings():
            # The transformers were fitted on a DataFrame; arrays in the same column order are
            # what ColumnTransformer hands them too, so the feature-name warning does not apply.
            warnings.simplefilter("ignore", UserWarning)
            blocks = []
            for transformer, columns in self.parts:
                block = values[:, [position[c] for c in columns]]
                if all(c in numeric for c in columns):
                    block = block.astype(float)
                blocks.append(transformer.transform(block))
            features = np.hstack(blocks).astype(float, copy=False)
        with _threadpools().limit(limits=1, user_api="openmp"):
            return self.model.predict_proba(features)
