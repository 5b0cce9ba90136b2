"""The endpoint's small-request path for churn gives the pipeline's probabilities: within 1e-9
with the boosted trees compiled by treelite, bit for bit without it."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from rfmkit.churn import compiled_trees, training
from rfmkit.churn.datasets import contact_center
from rfmkit.churn.row_predictor import MAX_ROWS, RowPredictor
from rfmkit.serving.inference import ServedModel

PARITY = {"rtol": 0, "atol": 1e-9}  # treelite sums the trees in another order (about 1e-15 apart)


@pytest.fixture
def without_treelite(monkeypatch):
    """As in SageMaker's scikit-learn container, where treelite is not installed."""
    monkeypatch.setattr(compiled_trees, "_treelite", lambda model: None)


@pytest.fixture(scope="module")
def boosted():
    data = contact_center()
    parts = training.split(data, seed=3)
    pipeline = training.tune("gradient_boosting", data, parts, budget=1, folds=3, seed=3).pipeline
    return pipeline, parts.x_test.reset_index(drop=True), data.kinds


def awkward_rows(rows, kinds):
    """Missing numbers, a missing and an unseen category: what requests can carry."""
    rows = rows.copy()
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    categorical = [c for c, k in kinds.items() if k == "categorical"]
    rows.loc[0, numeric[0]] = np.nan
    rows.loc[1, numeric[-1]] = np.nan
    rows.loc[2, categorical[0]] = np.nan
    rows.loc[3, categorical[0]] = "a category never seen in training"
    return rows


def test_same_probabilities_as_the_pipeline(boosted):
    pipeline, rows, kinds = boosted
    assert RowPredictor.supports(pipeline)
    fast = RowPredictor(pipeline)
    assert compiled_trees.compiled(fast.raw)  # treelite is a requirement of the kit
    rows = awkward_rows(rows, kinds)
    for sample in (rows.head(1), rows.iloc[[2]], rows.iloc[[3]], rows.head(MAX_ROWS)):
        np.testing.assert_allclose(fast.predict_proba(sample), pipeline.predict_proba(sample), **PARITY)


def test_every_hold_out_row_alone_matches_the_pipeline(boosted):
    """The parity test: each hold-out row as its own request (memoised one-hot blocks, compiled
    trees) against the pipeline on the whole hold-out at once."""
    pipeline, rows, kinds = boosted
    fast, expected = RowPredictor(pipeline), pipeline.predict_proba(rows)[:, 1]
    alone = np.array([fast.predict_proba(rows.iloc[[i]])[0, 1] for i in range(len(rows))])
    np.testing.assert_allclose(alone, expected, **PARITY)
    np.testing.assert_allclose(fast.predict_proba(rows)[:, 1], expected, **PARITY)  # memo warm


def test_without_treelite_the_probabilities_are_bit_for_bit(boosted, without_treelite):
    pipeline, rows, kinds = boosted
    fast = RowPredictor(pipeline)
    assert not compiled_trees.compiled(fast.raw)
    rows = awkward_rows(rows, kinds)
    for sample in (rows.head(1), rows.iloc[[3]], rows.head(MAX_ROWS)):
        np.testing.assert_array_equal(fast.predict_proba(sample), pipeline.predict_proba(sample))


def test_pipelines_without_some_kinds_of_columns(boosted):
    """All-numeric data (the transaction features) leaves the boolean and categorical steps
    empty and unfitted; they must be skipped, not called."""
    data = contact_center()
    numeric = [c for c, k in data.kinds.items() if k == "numeric"]
    data.features, data.kinds = data.features[numeric], {c: "numeric" for c in numeric}
    parts = training.split(data, seed=3)
    pipeline = training.tune("logistic_regression", data, parts, budget=1, folds=3, seed=3).pipeline
    rows = parts.x_test.head(5)
    # a linear model's dot product may round differently in the last bit with another array layout
    np.testing.assert_allclose(RowPredictor(pipeline).predict_proba(rows), pipeline.predict_proba(rows),
                               rtol=1e-12)


def test_served_model_uses_it_for_small_requests_only(boosted):
    pipeline, rows, kinds = boosted
    served = ServedModel("churn", list(rows.columns), pipeline, {"kinds": kinds, "threshold": 0.5})
    assert isinstance(served.rows, RowPredictor)
    calls = []
    served.rows.predict_proba = lambda frame: calls.append(len(frame)) or pipeline.predict_proba(frame)
    served.predict(rows.head(3))
    large = rows.sample(MAX_ROWS + 1, replace=True, random_state=0)
    prediction = served.predict(large)
    assert calls == [3]
    np.testing.assert_array_equal(prediction["churn_probability"], pipeline.predict_proba(large)[:, 1])


def test_categories_are_keyed_by_type_and_value(boosted):
    """The memo must not confuse values that compare equal in Python (1 == 1.0 == True) but that
    the encoder may treat differently, nor serve a stale block for a new category."""
    pipeline, rows, kinds = boosted
    fast = RowPredictor(pipeline)
    categorical = [c for c, k in kinds.items() if k == "categorical"][0]
    sample = pd.concat([rows.head(1)] * 4, ignore_index=True).astype({categorical: object})
    sample.loc[1, categorical], sample.loc[2, categorical] = 1, True
    sample.loc[3, categorical] = rows[categorical].dropna().unique()[-1]
    for order in ([0, 1, 2, 3], [3, 2, 1, 0]):
        picked = sample.iloc[order]
        np.testing.assert_allclose(fast.predict_proba(picked), pipeline.predict_proba(picked), **PARITY)


def test_other_pipeline_shapes_keep_the_normal_path(boosted):
    pipeline, rows, _ = boosted
    numeric = list(rows.select_dtypes("number").columns)
    passthrough = Pipeline([("prepare", ColumnTransformer([("n", StandardScaler(), numeric)],
                                                          remainder="passthrough")),
                            ("model", LogisticRegression())])
    assert not RowPredictor.supports(passthrough)  # unfitted, and the remainder is passed through
    assert not RowPredictor.supports(pipeline.steps[-1][1])
    served = ServedModel("churn", numeric, passthrough, {})
    assert served.rows is None


@pytest.mark.parametrize("name", training.MODELS)
def test_a_calibrated_model_is_unwrapped_with_identical_probabilities(name):
    data = contact_center()
    parts = training.split(data, seed=4)
    calibrated = training.calibrate(training.tune(name, data, parts, budget=1, folds=3, seed=4), parts,
                                    folds=3, seed=4).pipeline
    fast = RowPredictor(calibrated)
    assert fast.platt is not None  # the calibrator's sigmoid is applied directly
    rows = awkward_rows(parts.x_test.reset_index(drop=True).head(40), data.kinds)
    np.testing.assert_allclose(fast.predict_proba(rows), calibrated.predict_proba(rows), **PARITY)
