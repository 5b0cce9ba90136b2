"""The endpoint's small-request path for churn gives exactly the pipeline's probabilities."""

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from rfmkit.churn import training
from rfmkit.churn.datasets import contact_center
from rfmkit.churn.row_predictor import MAX_ROWS, RowPredictor
from rfmkit.serving.inference import ServedModel


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
    rows = awkward_rows(rows, kinds)
    for sample in (rows.head(1), rows.iloc[[2]], rows.iloc[[3]], rows.head(MAX_ROWS)):
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
    np.testing.assert_array_equal(fast.predict_proba(rows), calibrated.predict_proba(rows))
