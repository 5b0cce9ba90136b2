"""The churn pipeline's fitted preprocessing as plain functions of a few rows (endpoint requests).

scikit-learn's transform() validates its input on every call: about 0.3-0.6 ms per step for one
row, more than the arithmetic. Here each fitted step becomes a function with the same arithmetic:
* SimpleImputer on numbers: missing values replaced by its fitted statistics (np.where);
* StandardScaler: `x - mean_` then `/ scale_`, in the order scikit-learn applies them;
* anything on text (the categorical imputer + one-hot encoder): scikit-learn's own transform, kept
  per distinct combination of values in a bounded memo. Categories repeat (a state, a plan
  yes/no), so after the first requests a row's one-hot block is a dictionary lookup, and every
  block is one scikit-learn computed, whatever its rules for missing, unknown or infrequent values.
Any other step keeps its own transform(). Tests check the outputs are identical.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

RowTransform = Callable[[np.ndarray], np.ndarray]
# Distinct combinations of category values kept per step: 51 states × two yes/no plans fit many
# times over; when full, the memo starts afresh (rare, and only costs a recomputation).
MEMO_SIZE = 4096


def numeric_transform(transformer) -> RowTransform | None:
    """A function with the fitted step's arithmetic on float arrays, or None if the step is not
    one of the simple kinds (or is fitted in a way that would change column counts)."""
    if isinstance(transformer, Pipeline):
        steps = [numeric_transform(step) for _, step in transformer.steps]
        if any(step is None for step in steps):
            return None

        def chained(block: np.ndarray) -> np.ndarray:
            for step in steps:
                block = step(block)
            return block
        return chained
    if isinstance(transformer, SimpleImputer):
        statistics = np.asarray(getattr(transformer, "statistics_", [np.nan]), dtype=float)
        missing = transformer.missing_values
        if transformer.add_indicator or np.isnan(statistics).any() \
                or not (isinstance(missing, float) and np.isnan(missing)):
            return None  # an all-missing column would be dropped; indicators add columns
        return lambda block: np.where(np.isnan(block), statistics, block)
    if isinstance(transformer, StandardScaler) and hasattr(transformer, "n_features_in_"):
        mean = transformer.mean_ if transformer.with_mean else None
        scale = transformer.scale_ if transformer.with_std else None

        def scaled(block: np.ndarray) -> np.ndarray:
            out = np.array(block, dtype=float)
            if mean is not None:
                out -= mean
            if scale is not None:
                out /= scale
            return out
        return scaled
    return None


def memoised_transform(transformer) -> RowTransform:
    """transformer.transform(), computed once per distinct row of values and then looked up.
    Keys carry each value's type: 1, 1.0, True and "1" can be different categories."""
    memo: dict[tuple, np.ndarray] = {}

    def transform(block: np.ndarray) -> np.ndarray:
        keys = [tuple((type(v), v) for v in row) for row in block]
        rows = [memo.get(key) for key in keys]  # looked up once: another thread may clear the memo
        unknown = [i for i, row in enumerate(rows) if row is None]
        if unknown:
            computed = np.asarray(transformer.transform(block[unknown]), dtype=float)
            if len(memo) + len(unknown) > MEMO_SIZE:
                memo.clear()
            for i, values in zip(unknown, computed, strict=True):
                rows[i] = memo[keys[i]] = values
        return np.stack(rows)
    return transform


def row_transform(transformer, numeric: bool) -> RowTransform:
    """The fastest exact form of one fitted ColumnTransformer step for float (`numeric`) or
    object blocks."""
    if numeric:
        fast = numeric_transform(transformer)
        return fast if fast is not None else transformer.transform
    return memoised_transform(transformer)
