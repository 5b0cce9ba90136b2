"""Boosted trees scored in one call, for endpoint requests of a few rows.

scikit-learn's HistGradientBoostingClassifier scores tree by tree from Python: about 15 µs per
tree, 2-3 ms for the 150-300 trees the churn search picks, most of a single-row request. Treelite
(a library made for this: it imports scikit-learn's fitted boosted trees and walks them in C++)
gives the same raw score in about 0.1 ms. Treelite is optional: where it is not installed (e.g.
SageMaker's scikit-learn container, which installs nothing beyond the package it is given), or
where its scores disagree with scikit-learn's on a self-check at load, scikit-learn's own
decision_function is used, so the answer is the same everywhere.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

log = logging.getLogger(__name__)
# Treelite sums the trees' float64 leaf values in another order than scikit-learn: the raw scores
# agree to about 1e-14; anything above this is not rounding but a different model.
TOLERANCE = 1e-9


def compiled(raw) -> bool:
    """Whether a function from decision_function() scores through treelite."""
    return getattr(raw, "compiled", False)


def decision_function(model) -> object:
    """A function rows -> raw scores (the model's decision_function), compiled where possible."""
    if isinstance(model, HistGradientBoostingClassifier) and len(model.classes_) == 2:
        compiled = _treelite(model)
        if compiled is not None:
            return compiled
    return lambda features: np.ravel(model.decision_function(features))


def _treelite(model: HistGradientBoostingClassifier):
    try:
        import treelite.gtil
        import treelite.sklearn
    except ImportError:
        return None
    try:
        imported = treelite.sklearn.import_model(model)
    except Exception as error:  # noqa: BLE001 - any model treelite cannot read keeps scikit-learn's path
        log.info("treelite cannot import this model (%s); scoring with scikit-learn", error)
        return None

    def raw(features: np.ndarray) -> np.ndarray:
        return np.ravel(treelite.gtil.predict(imported, np.ascontiguousarray(features, dtype=float),
                                              pred_margin=True, nthread=1))

    probe = _probe_rows(model)
    expected = np.ravel(model.decision_function(probe))
    if not np.allclose(raw(probe), expected, rtol=0, atol=TOLERANCE):
        log.warning("treelite's scores differ from scikit-learn's for this model; scoring with "
                    "scikit-learn")
        return None
    raw.compiled = True
    return raw


def _probe_rows(model: HistGradientBoostingClassifier, rows: int = 64) -> np.ndarray:
    """Rows that reach many leaves: each feature drawn around its split thresholds, plus a row at
    every feature's lowest and highest bin edge."""
    rng = np.random.default_rng(0)
    mapper = getattr(model, "_bin_mapper", None)  # scikit-learn internals: the values split on
    edges = getattr(mapper, "bin_thresholds_", None) or [[]] * model.n_features_in_
    columns = []
    for thresholds in edges:
        if len(thresholds):
            low, high = float(np.min(thresholds)), float(np.max(thresholds))
            spread = max(high - low, 1.0)
            values = rng.uniform(low - 0.1 * spread, high + 0.1 * spread, rows)
            values[:2] = low - spread, high + spread
        else:
            values = rng.normal(size=rows)
        columns.append(values)
    return np.column_stack(columns)
