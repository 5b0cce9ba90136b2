"""Churn: labelled-CSV loading, the leakage guard, transaction labels without leakage, honest
evaluation, the artifact, and the registry's gate, approval and rollback."""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from rfmkit.churn import artifact, training
from rfmkit.churn.datasets import ChurnDataError, contact_center, read_labelled_csv
from rfmkit.churn.evaluation import (
    Costs,
    cost_optimal_threshold,
    evaluate,
    gain_table,
    label_based_auc,
    model_quality_json,
)
from rfmkit.churn.leakage import guard
from rfmkit.churn.registry import MlflowRegistry, ModelRef, RegistryError
from rfmkit.churn.transaction_labels import choose_window, transaction_dataset


def bank_csv(tmp_path, n=400, seed=0):
    """A BankChurners-like file: mixed types, blanks, an id, a leaked column, text labels."""
    rng = np.random.default_rng(seed)
    churned = rng.random(n) < 0.3
    frame = pd.DataFrame({
        "CLIENTNUM": [f"{700000000 + i}" for i in range(n)],
        "Attrition_Flag": np.where(churned, "Attrited Customer", "Existing Customer"),
        "Customer_Age": rng.integers(25, 70, n).astype(str),
        "Gender": rng.choice(["M", "F"], n),
        "Card_Category": rng.choice(["Blue", "Silver", "Gold", ""], n),
        "Has_Online": rng.choice(["yes", "no", ""], n),
        "Total_Trans_Ct": (rng.normal(60, 15, n) - 20 * churned).round().astype(int).astype(str),
        "Naive_Bayes_Classifier_leak": np.where(churned, 0.99, 0.01) + rng.normal(0, 1e-4, n),
        "Comment": [f"free text {i}" for i in range(n)],
    })
    frame.loc[3, "Total_Trans_Ct"] = ""
    path = tmp_path / "bank.csv"
    frame.to_csv(path, index=False)
    return path


def test_numeric_ids_are_recognised_without_being_named(tmp_path):
    data = read_labelled_csv(bank_csv(tmp_path), "Attrition_Flag")
    assert "CLIENTNUM" not in data.kinds and any("CLIENTNUM" in n and "identifier" in n for n in data.notes)
    assert data.kinds["Customer_Age"] == "numeric"  # whole numbers, but neither unique nor named like an id


def test_labelled_csv_types_blanks_ids_and_label(tmp_path):
    data = read_labelled_csv(bank_csv(tmp_path), "Attrition_Flag", id_columns=["CLIENTNUM"])
    assert data.positive_label == "Attrited Customer"
    assert data.kinds == {"Customer_Age": "numeric", "Gender": "categorical", "Card_Category": "categorical",
                          "Has_Online": "boolean", "Total_Trans_Ct": "numeric",
                          "Naive_Bayes_Classifier_leak": "numeric"}
    assert np.isnan(data.features.loc[3, "Total_Trans_Ct"])  # a blank string is missing, not ""
    assert data.features["Has_Online"].dropna().isin([0.0, 1.0]).all()
    assert any("Comment" in n and "identifier" in n for n in data.notes)
    assert list(data.ids.columns) == ["CLIENTNUM"] and 0.2 < data.base_rate < 0.4


def test_labelled_csv_errors_name_the_parameter_and_file(tmp_path):
    path = bank_csv(tmp_path)
    with pytest.raises(ChurnDataError, match=r"label_column: .*bank.csv has no column 'Attrition'\. "
                                             r"Did you mean 'Attrition_Flag'\?"):
        read_labelled_csv(path, "Attrition")
    with pytest.raises(ChurnDataError, match="positive_label='Left'.*only"):
        read_labelled_csv(path, "Attrition_Flag", positive_label="Left")
    with pytest.raises(ChurnDataError, match="exactly two values"):
        read_labelled_csv(path, "Card_Category")
    with pytest.raises(ChurnDataError, match="does not exist"):
        read_labelled_csv(tmp_path / "nope.csv", "x")
    ambiguous = tmp_path / "ambiguous.csv"
    ambiguous.write_text("a,status\n1,gold\n2,silver\n")
    with pytest.raises(ChurnDataError, match="set parameter positive_label"):
        read_labelled_csv(ambiguous, "status")


def test_any_labelled_csv_trains_end_to_end_with_missing_values(tmp_path):
    """Blank categories and numbers go through imputation (pandas' NA must not reach scikit-learn)."""
    data = read_labelled_csv(bank_csv(tmp_path, n=600), "Attrition_Flag")
    guard(data)
    assert data.features["Card_Category"].isna().any() and data.features["Total_Trans_Ct"].isna().any()
    parts = training.split(data, seed=3)
    for name in training.MODELS:
        candidate = training.tune(name, data, parts, budget=1, folds=3, seed=3)
        assert candidate.cv_auc_mean > 0.7  # Total_Trans_Ct carries real signal
        assert candidate.pipeline.predict_proba(parts.x_test).shape == (len(parts.x_test), 2)


def test_leakage_guard_flags_and_drops_a_column_equal_to_the_label(tmp_path):
    data = read_labelled_csv(bank_csv(tmp_path), "Attrition_Flag", id_columns=["CLIENTNUM"])
    data.features["label_copy"] = data.label.astype(float)
    data.kinds["label_copy"] = "numeric"
    table = guard(data)
    flagged = set(table.loc[table["flagged"], "column"])
    assert flagged == {"label_copy", "Naive_Bayes_Classifier_leak"}
    assert "label_copy" not in data.features and "Naive_Bayes_Classifier_leak" not in data.kinds
    assert any("leakage guard" in n for n in data.notes)
    kept = read_labelled_csv(bank_csv(tmp_path), "Attrition_Flag", id_columns=["CLIENTNUM"])
    guard(kept, drop=False)
    assert "Naive_Bayes_Classifier_leak" in kept.features and "drop_leaks=False" in kept.notes[-1]


def test_auc_comes_from_probabilities_not_labels():
    y = np.array([0, 0, 0, 1, 1, 1])
    probability = np.array([0.1, 0.2, 0.45, 0.3, 0.48, 0.9])  # ranks well, few above 0.5

    class Fixed:
        def predict_proba(self, x):
            return np.column_stack([1 - probability, probability])

    result = evaluate(Fixed(), pd.DataFrame({"x": range(6)}), pd.Series(y), Costs(10, 1))
    assert result.roc_auc == pytest.approx(8 / 9)
    assert label_based_auc(y, probability) == pytest.approx(2 / 3)  # the reference projects' number
    report = model_quality_json(result)["binary_classification_metrics"]
    assert report["auc"]["value"] == pytest.approx(8 / 9)
    assert set(report["confusion_matrix"]) == {"0", "1"}
    assert {"false_positive_rates", "true_positive_rates"} <= set(report["receiver_operating_characteristic_curve"])


@pytest.mark.parametrize("costs", [Costs(100, 10), Costs(1, 50), Costs(0, 1), Costs(5, 5)])
def test_cost_optimal_threshold_is_the_cheapest_of_every_candidate_with_ties(costs):
    """The running-count search gives what trying every candidate with Costs.total gives, ties
    in the probabilities and in the costs included (the first cheapest wins)."""
    rng = np.random.default_rng(7)
    p = np.round(rng.random(3000), 2)  # many tied probabilities
    y = (rng.random(3000) < p).astype(int)
    candidates = np.unique(np.concatenate([[0.0, 1.0 + 1e-9], p]))
    totals = [costs.total(y, p >= t) for t in candidates]
    best = int(np.argmin(totals))
    assert cost_optimal_threshold(y, p, costs) == (min(candidates[best], 1.0), totals[best])


def test_cost_optimal_threshold_minimises_total_cost():
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.4, 0.35, 0.2, 0.1])
    threshold, cost = cost_optimal_threshold(y, p, Costs(missed_churner=100, intervention=10))
    assert threshold == pytest.approx(0.4) and cost == 20  # flag the two churners only
    threshold, cost = cost_optimal_threshold(y, p, Costs(missed_churner=1, intervention=10))
    assert cost == 2 and threshold > 0.9  # interventions cost more than losses: flag nobody
    with pytest.raises(ValueError, match="cost_intervention"):
        Costs(intervention=-1)
    gains = gain_table(y, p, bins=5)
    assert gains["churners_captured_%"].iloc[-1] == 100 and gains["lift"].iloc[0] == pytest.approx(2.5)


def orders_warehouse(rows):
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(":memory:")
    wh.execute("CREATE TABLE fct_orders (customer_id VARCHAR(256), order_id VARCHAR(256), "
               "order_date DATE, order_value DECIMAL(18,4), is_purchase BOOLEAN)")
    for row in rows:
        wh.execute("INSERT INTO fct_orders VALUES (:c, :o, CAST(:d AS DATE), :v, :p)",
                   dict(zip("codvp", row, strict=True)))
    return wh


BASE = [("a", "a1", "2018-01-05", 50, True), ("a", "a2", "2018-03-01", 70, True),
        ("b", "b1", "2018-02-10", 20, True), ("c", "c1", "2017-12-01", 99, True),
        ("c", "c2", "2018-06-20", 10, True), ("d", "d1", "2018-07-30", 5, True)]


def test_transaction_features_never_see_orders_after_the_cutoff():
    window_args = ("2018-04-01", 120)
    wh = orders_warehouse(BASE)
    before = transaction_dataset(wh, choose_window(wh, *window_args))
    planted = orders_warehouse([*BASE, ("b", "b2", "2018-05-01", 5000, True),   # in the label window
                                ("a", "a3", "2018-07-30", 1, True)])    # after it (end exclusive)
    after = transaction_dataset(planted, choose_window(planted, *window_args))
    pd.testing.assert_frame_equal(before.features, after.features)  # features: history only
    labels = dict(zip(after.ids["customer_id"], after.label, strict=True))
    assert labels == {"a": 1, "b": 0, "c": 0}  # b came back in the window; a only after it
    assert dict(zip(before.ids["customer_id"], before.label, strict=True)) == {"a": 1, "b": 1, "c": 0}
    row = before.features.iloc[0]  # customer a at the cutoff 2018-04-01
    assert (row["recency_days"], row["frequency"], row["monetary"], row["tenure_days"]) == (31, 2, 120, 86)
    assert row["mean_days_between_orders"] == 55


def test_window_parameters_are_checked():
    wh = orders_warehouse(BASE)
    window = choose_window(wh, None, 30)
    assert window.cutoff == date(2018, 7, 1) and window.horizon_end == date(2018, 7, 31)
    with pytest.raises(ChurnDataError, match="label window ends 2018-09-28, after the last purchase"):
        choose_window(wh, "2018-07-30", 60)
    with pytest.raises(ChurnDataError, match="horizon_days='soon'"):
        choose_window(wh, None, "soon")
    with pytest.raises(ChurnDataError, match="no purchases before it"):
        choose_window(wh, "2017-01-01", 30)


def test_artifact_round_trip_predicts_the_same(tmp_path):
    data = contact_center()
    parts = training.split(data, seed=1)
    candidate = training.tune("logistic_regression", data, parts, budget=2, folds=3, seed=1)
    path = artifact.save(candidate.pipeline, {"columns": list(parts.x_train.columns)}, tmp_path)
    model, metadata = artifact.load(path)
    np.testing.assert_array_equal(model.predict_proba(parts.x_test), candidate.pipeline.predict_proba(parts.x_test))
    assert metadata["columns"][0] == "State"
    assert candidate.cv_auc_mean > 0.95  # the shipped data separates well (published sample: ~0.98)


def test_registry_versions_gate_approval_and_rollback(tmp_path):
    import mlflow

    from rfmkit import tracking
    from rfmkit.config import RunConfig

    tracking.use_experiment(RunConfig(run_dir=tmp_path / "runs" / "r"), "rfmkit-test-registry")
    registry = MlflowRegistry("rfmkit-test-model")
    from sklearn.dummy import DummyClassifier

    versions = []
    for auc in (0.8, 0.6, 0.9):
        with mlflow.start_run():
            # stated requirements, as the kit logs them: MLflow's inference spawns pip (10 s a model)
            info = mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model",
                                            pip_requirements=["scikit-learn"])
        versions.append(registry.register(ModelRef(tracked_uri=info.model_uri), roc_auc=auc, min_auc=0.7))
    assert [v.version for v in versions] == ["1", "2", "3"]
    assert [v.passed_gate for v in versions] == [True, False, True]
    assert registry.alias("candidate") == "3"
    with pytest.raises(RegistryError, match="did not pass the quality gate"):
        registry.approve("2")
    with pytest.raises(RegistryError, match="no previous production"):
        registry.rollback()
    registry.approve("1")
    registry.approve("3")
    assert (registry.alias("production"), registry.alias("previous-production")) == ("3", "1")
    assert registry.rollback() == "1"
    assert registry.alias("production") == "1" and registry.alias("previous-production") is None
    table = registry.versions()
    assert list(table["version"]) == [3, 2, 1]
    assert table.set_index("version").loc[1, "aliases"] == "production"
    assert list(table["quality_gate"]) == ["passed", "failed", "passed"]


def test_sagemaker_registry_requests(tmp_path):
    import boto3
    from botocore.stub import ANY, Stubber

    from rfmkit.churn.registry import SageMakerRegistry

    client = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/rfmkit-churn/{}"
    registry = SageMakerRegistry("rfmkit-churn", client, image=lambda: "img")
    with Stubber(client) as stub:
        stub.add_client_error("describe_model_package_group", "ValidationException", "does not exist")
        stub.add_response("create_model_package_group", {"ModelPackageGroupArn": "arn:aws:sagemaker:eu-west-1:1:g"},
                          {"ModelPackageGroupName": "rfmkit-churn", "ModelPackageGroupDescription": ANY})
        stub.add_response("create_model_package", {"ModelPackageArn": arn.format(1)}, {
            "ModelPackageGroupName": "rfmkit-churn", "ModelPackageDescription": ANY,
            "InferenceSpecification": ANY, "ModelMetrics": {"ModelQuality": {"Statistics": {
                "ContentType": "application/json", "S3Uri": "s3://b/evaluation.json"}}},
            "ModelApprovalStatus": "PendingManualApproval", "CustomerMetadataProperties": ANY})
        stub.add_response("describe_model_package", {
            "ModelPackageName": "rfmkit-churn", "ModelPackageArn": arn.format(1),
            "CreationTime": "2026-11-23T00:00:00Z", "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": []},
            "CustomerMetadataProperties": {"quality_gate": "passed"}})
        stub.add_response("update_model_package", {"ModelPackageArn": arn.format(1)},
                          {"ModelPackageArn": arn.format(1), "ModelApprovalStatus": "Approved",
                           "ApprovalDescription": ANY})
        summaries = [{"ModelPackageArn": arn.format(v), "CreationTime": "2026-11-23T00:00:00Z",
                      "ModelPackageStatus": "Completed", "ModelPackageName": "rfmkit-churn"} for v in (2, 1)]
        stub.add_response("list_model_packages", {"ModelPackageSummaryList": summaries})
        stub.add_response("update_model_package", {"ModelPackageArn": arn.format(2)},
                          {"ModelPackageArn": arn.format(2), "ModelApprovalStatus": "Rejected",
                           "ApprovalDescription": ANY})
        registered = registry.register(ModelRef(artifact_uri="s3://b/model.tar.gz",
                                                evaluation_uri="s3://b/evaluation.json"),
                                       roc_auc=0.9, min_auc=0.7)
        assert registered.passed_gate and registered.version == arn.format(1)
        registry.approve(registered.version)
        assert registry.rollback() == arn.format(1)
        stub.assert_no_pending_responses()
    assert json.dumps(registered.roc_auc)


# -- honest evaluation: model choice, calibration and threshold --------------------------------------
def candidate(name: str, mean: float, std: float, folds: int = 5) -> training.Candidate:
    return training.Candidate(name, None, mean, std, {}, pd.DataFrame(), folds=folds)


def test_the_simpler_model_wins_within_one_standard_error():
    close = training.choose([candidate("logistic_regression", 0.8500, 0.010),
                             candidate("gradient_boosting", 0.8515, 0.010)])
    assert close.chosen.name == "logistic_regression" and close.best_scoring.name == "gradient_boosting"
    assert "within one standard error" in close.reason and "simpler model is chosen" in close.reason
    clear = training.choose([candidate("logistic_regression", 0.80, 0.010),
                             candidate("gradient_boosting", 0.85, 0.010)])
    assert clear.chosen.name == "gradient_boosting" and "no simpler model" in clear.reason
    assert training.best_of([candidate("logistic_regression", 0.9, 0.01),
                             candidate("gradient_boosting", 0.8, 0.01)]).name == "logistic_regression"


def test_no_model_is_class_weighted():
    for name in training.MODELS:
        model, _ = training.model_space(name, seed=1)
        assert model.get_params().get("class_weight") is None, name


def majority_churn(n: int = 3000, seed: int = 4):
    """Churners are 80 % and the signal is weak: where class_weight="balanced" used to push every
    probability down and a cost-optimal threshold near 0 flagged almost everyone."""
    from rfmkit.churn.datasets import ChurnData

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    p = 1 / (1 + np.exp(-(1.4 + 0.8 * x[:, 0] - 0.4 * x[:, 1])))
    label = pd.Series((rng.random(n) < p).astype(int), name="churned")
    features = pd.DataFrame(x, columns=["a", "b", "c"])
    return ChurnData("majority", features, label, pd.DataFrame(index=features.index),
                     {c: "numeric" for c in features}, positive_label="1")


def test_threshold_is_chosen_out_of_fold_on_calibrated_probabilities_and_reported_on_the_holdout():
    from rfmkit.churn import experiment

    data = majority_churn()
    costs = Costs(missed_churner=100, intervention=10)
    outcome = experiment.train_and_evaluate(data, costs, budget=2, folds=3, seed=3, progress=lambda _: None)
    result, curves = outcome.evaluation, outcome.evaluation.curves
    # the threshold is the cost optimum of the training part's out-of-fold predictions ...
    oof_threshold, oof_cost = cost_optimal_threshold(curves["oof_y"], curves["oof_probability"], costs)
    assert result.threshold == pytest.approx(oof_threshold) and result.oof_expected_cost == oof_cost
    assert result.threshold_source == "out-of-fold on the training part"
    assert len(curves["oof_y"]) == len(outcome.parts.y_train)
    # ... and the hold-out's cost and confusion matrix are measured at that threshold
    flagged = curves["probability"] >= result.threshold
    assert result.expected_cost == costs.total(outcome.parts.y_test.to_numpy(), flagged)
    assert result.confusion.to_numpy().sum() == len(outcome.parts.y_test)
    # calibrated: the mean predicted probability matches the churn rate, and Brier is shown both ways
    assert np.mean(curves["probability"]) == pytest.approx(result.base_rate, abs=0.04)
    assert result.brier is not None and result.brier_uncalibrated is not None
    assert "uncalibrated_predicted" in curves
    # both models' hold-out metrics side by side, and the reason for the choice
    table = outcome.comparison()
    assert set(table["model"]) == set(training.MODELS)
    assert table[["holdout_roc_auc", "holdout_pr_auc", "cv_auc_se"]].notna().all().all()
    assert outcome.choice and outcome.metadata()["threshold_source"] == result.threshold_source


def small_contact_center(rows: int = 1500):
    """The shipped contact-center data, its first `rows` rows: enough for both classes in every fold."""
    from rfmkit.churn.datasets import ChurnData

    data = contact_center()
    return ChurnData(data.name, data.features.head(rows).copy(), data.label.head(rows).copy(),
                     data.ids.head(rows).copy(), dict(data.kinds), data.positive_label)


def test_platt_scaling_built_around_a_fitted_model_is_what_calibrated_classifier_cv_fits():
    """training.platt_scaled builds CalibratedClassifierCV(sigmoid, ensemble=False) by hand, so that
    the model is not fitted again: given the out-of-fold decisions scikit-learn computes inside,
    it must predict exactly what scikit-learn's own fit does (this fails if scikit-learn changes
    the calibrator's internals)."""
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    data = small_contact_center()
    parts = training.split(data, seed=2)
    prepare = training.preprocessor(data.kinds).fit(parts.x_train)
    x_train, x_test = prepare.transform(parts.x_train), prepare.transform(parts.x_test)
    y = parts.y_train.to_numpy()
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=2)
    for name in training.MODELS:
        model, _ = training.model_space(name, seed=2)
        if name == "gradient_boosting":
            model.set_params(max_iter=30)
        model.fit(x_train, y)
        decision = cross_val_predict(clone(model), x_train, y, cv=cv, method="decision_function")
        ours = training.platt_scaled(model, decision, y)
        theirs = CalibratedClassifierCV(clone(model), method="sigmoid", cv=cv, ensemble=False).fit(x_train, y)
        np.testing.assert_allclose(ours.predict_proba(x_test), theirs.predict_proba(x_test), rtol=0, atol=1e-12)
        assert list(ours.classes_) == list(theirs.classes_) and ours.n_features_in_ == theirs.n_features_in_
        assert ours.calibrated_classifiers_[0].estimator is model  # not fitted again


def test_given_settings_score_as_the_search_did_and_are_fitted_once(tmp_path):
    """A retraining or challenger with settings a search found: the same folds give the CV AUC the
    search reported for them, the fitted model predicts as the search's refit, and calibration
    reuses the cross-validation's out-of-fold values."""
    from rfmkit.churn import experiment
    from rfmkit.churn.outcome import train_and_evaluate

    data = small_contact_center()
    parts = training.split(data, seed=3)
    for name in training.MODELS:
        searched = training.tune(name, data, parts, budget=2, folds=3, seed=3)
        given = training.fixed(name, searched.best_params, data, parts, folds=3, seed=3)
        assert given.cv_auc_mean == pytest.approx(searched.cv_auc_mean, abs=1e-12)
        assert given.cv_auc_std == pytest.approx(searched.cv_auc_std, abs=1e-12)
        np.testing.assert_allclose(given.pipeline.predict_proba(parts.x_test),
                                   searched.pipeline.predict_proba(parts.x_test), rtol=0, atol=1e-12)
        calibrated = training.calibrate(given, parts, folds=3, seed=3)
        again = training.calibrate(searched, parts, folds=3, seed=3)  # computes its own out-of-fold values
        np.testing.assert_allclose(calibrated.oof_probability, again.oof_probability, rtol=0, atol=1e-12)
    outcome = train_and_evaluate(data, Costs(), budget=2, folds=3, seed=3, explain=False, progress=lambda *_: None)
    metadata = outcome.metadata()
    other = next(c for c in training.MODELS if c != metadata["model"])
    assert experiment.runner_up(metadata) == {other: next(c["best_params"] for c in metadata["candidates"]
                                                          if c["model"] == other)}
    assert experiment.recipe(metadata) == {metadata["model"]: outcome.best.best_params}
    refit = train_and_evaluate(data, Costs(), folds=3, seed=3, explain=False, progress=lambda *_: None,
                               settings=experiment.recipe(metadata))
    assert [c.name for c in refit.candidates] == [metadata["model"]] and "only model" in refit.choice
    assert refit.evaluation.roc_auc == pytest.approx(outcome.evaluation.roc_auc, abs=1e-12)
    assert experiment.runner_up(refit.metadata()) is None  # nothing else recorded: a caller searches
    with pytest.raises(ValueError, match="unknown model"):
        training.train_all(data, parts, folds=3, settings={"random_forest": {}})
