"""Churn on SageMaker, offline: the container entry point runs for real on local folders, and the
training job request (sagemaker 3.x ModelTrainer with the SKLearn image and rfmkit's source code)
is validated with Stubber while S3 is moto."""

import io
import json
import tarfile

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from sagemaker_stubs import REGION, ROLE, RoutedSession, capture, stub_training

from rfmkit.backends.aws import AwsBackend
from rfmkit.churn import artifact, experiment
from rfmkit.churn.datasets import contact_center
from rfmkit.churn.evaluation import Costs
from rfmkit.churn.sagemaker_entry import main
from rfmkit.churn.sagemaker_training import SageMakerChurnTrainer
from rfmkit.config import AwsSettings, ConfigError, RunConfig


def small_contact_center(n=600):
    data = contact_center()
    keep = data.label.sample(n=n, random_state=0).index
    data.features = data.features.loc[keep].reset_index(drop=True)
    data.label = data.label.loc[keep].reset_index(drop=True)
    return data


def run_container(tmp_path, data, **extra):
    """What the SKLearn container does with the uploaded CSV: train_churn.py → main()."""
    train = tmp_path / "input" / "train"
    train.mkdir(parents=True)
    frame = data.features.copy()
    frame["churned"] = data.label.to_numpy()
    frame.to_csv(train / "data.csv", index=False)
    hps = {"name": data.name, "kinds": json.dumps(data.kinds), "budget": "2", "folds": "3", "seed": "7", **extra}
    return main({"SM_CHANNEL_TRAIN": str(train), "SM_MODEL_DIR": str(tmp_path / "model"),
                 "SM_HPS": json.dumps(hps)})


def test_entry_point_writes_the_artifact_layout(tmp_path):
    model_dir = run_container(tmp_path, small_contact_center())
    assert sorted(p.name for p in model_dir.iterdir()) == ["evaluation.json", "metadata.json", "model.joblib"]
    pipeline, metadata = artifact.load(model_dir)
    assert metadata["columns"][0] == "State" and {c["model"] for c in metadata["candidates"]} == {
        "logistic_regression", "gradient_boosting"}
    assert 0.5 < metadata["roc_auc"] <= 1
    report = json.loads((model_dir / "evaluation.json").read_text())
    assert report["binary_classification_metrics"]["auc"]["value"] == pytest.approx(metadata["roc_auc"])


def test_entry_point_fits_given_settings_without_a_search(tmp_path):
    """A retraining or challenger on SageMaker: the settings travel as a JSON hyperparameter and
    the container fits that model with them (no search: one candidate, its settings recorded)."""
    settings = {"logistic_regression": {"C": 0.5}}
    _, metadata = artifact.load(run_container(tmp_path, small_contact_center(), settings=json.dumps(settings)))
    assert [c["model"] for c in metadata["candidates"]] == ["logistic_regression"]
    assert metadata["candidates"][0]["best_params"] == {"C": 0.5} and metadata["model"] == "logistic_regression"


def test_sagemaker_training_request_and_same_outcome(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    data = small_contact_center()
    model_dir = run_container(tmp_path / "container", data)  # what the job will have produced
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        for path in model_dir.iterdir():
            archive.add(path, arcname=path.name)
    artifact_uri = "s3://bucket/rfmkit/churn/run-1/contact_center/model/x/output/model.tar.gz"
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="bucket", Key=artifact_uri.split("bucket/", 1)[1], Body=packed.getvalue())
        sagemaker = boto3.Session(region_name=REGION).client("sagemaker")
        cfg = RunConfig(backend="aws", run_dir=tmp_path / "run-1",
                        aws=AwsSettings(region=REGION, bucket="bucket", sagemaker_role_arn=ROLE))
        trainer = SageMakerChurnTrainer(cfg, boto_session=RoutedSession(sagemaker))
        created = capture(sagemaker, "CreateTrainingJob")
        with Stubber(sagemaker) as stub:
            stub_training(stub, artifact_uri)
            outcome = trainer.fit_and_evaluate(data, Costs(), budget=2, folds=3, seed=7,
                                               progress=lambda message: None,
                                               settings={"gradient_boosting": {"max_leaf_nodes": 7}})
            stub.assert_no_pending_responses()
        packages = capture(sagemaker, "CreateModelPackage")
        with Stubber(sagemaker) as stub:  # registration: group created once, package pending approval
            stub.add_client_error("describe_model_package_group", "ValidationException", "does not exist")
            stub.add_response("create_model_package_group", {"ModelPackageGroupArn": "arn:aws:sagemaker:g"})
            stub.add_response("create_model_package", {"ModelPackageArn": "arn:aws:sagemaker:p/1"})
            kit = AwsBackend(cfg, boto_session=RoutedSession(sagemaker))
            registry = experiment.registry_for(kit, outcome.data)
            registered = registry.register(kit.churn_trainer().model_ref(outcome, "runs:/x/model"),
                                           roc_auc=outcome.evaluation.roc_auc, min_auc=0.7)
            stub.assert_no_pending_responses()
        evaluation = s3.get_object(Bucket="bucket", Key="rfmkit/churn/run-1/contact_center/evaluation.json")
        assert "binary_classification_metrics" in json.loads(evaluation["Body"].read())
        uploaded = s3.get_object(Bucket="bucket", Key="rfmkit/churn/run-1/contact_center/train/data.csv")
        uploaded_rows = uploaded["Body"].read().decode().splitlines()
    request = created[0]
    assert "sagemaker-scikit-learn:1.9-0-cpu-py3" in request["AlgorithmSpecification"]["TrainingImage"]
    hps = request["HyperParameters"]
    assert json.loads(hps["kinds"]) == data.kinds and hps["name"] == "contact_center"
    assert {hps["budget"], hps["folds"], hps["seed"]} == {"2", "3", "7"}
    assert json.loads(hps["settings"]) == {"gradient_boosting": {"max_leaf_nodes": 7}}
    channels = {c["ChannelName"]: c for c in request["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://bucket/rfmkit/churn/run-1/contact_center/train"
    assert "code" in channels  # rfmkit's source (shim + package) travels as a channel
    assert request["RoleArn"] == ROLE
    assert len(uploaded_rows) == len(data.label) + 1 and uploaded_rows[0].endswith(",churned")
    # the downloaded model, evaluated locally on the same seeded hold-out, gives the container's AUC
    _, metadata = artifact.load(model_dir)
    assert outcome.evaluation.roc_auc == pytest.approx(metadata["roc_auc"])
    assert outcome.artifact_path.exists() and outcome.trained_with.startswith("SageMaker")
    assert np.isfinite(outcome.evaluation.threshold)
    package = packages[0]
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == artifact_uri
    assert package["ModelApprovalStatus"] == "PendingManualApproval" and registered.version == "arn:aws:sagemaker:p/1"
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("contact_center/evaluation.json")


def test_missing_settings_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"\['bucket', 'sagemaker_role_arn'\]"):
        SageMakerChurnTrainer(RunConfig(backend="aws", run_dir=tmp_path, aws=AwsSettings(region=REGION)),
                              boto_session=object())


def test_hyperparameters_sagemaker_would_refuse_are_named_before_the_job():
    """CreateTrainingJob limits HyperParameters (100 entries, names of 256 and values of 2,500
    characters); the Stubber does not check them, so the kit does, with botocore's own figures."""
    import botocore.session

    from rfmkit.churn import sagemaker_training

    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("HyperParameters")
    assert (shape.metadata["max"], shape.key.metadata["max"], shape.value.metadata["max"]) == (
        sagemaker_training.MAX_HYPERPARAMETERS, sagemaker_training.MAX_KEY_CHARS, sagemaker_training.MAX_VALUE_CHARS)
    wide = json.dumps({f"column_{i:04d}": "numeric" for i in range(120)})  # 120 columns: 3,120 characters
    with pytest.raises(ValueError, match="'kinds' is 3,120 characters.*at most 2,500"):
        sagemaker_training.check_hyperparameters({"kinds": wide})
    with pytest.raises(ValueError, match="101 hyperparameters"):
        sagemaker_training.check_hyperparameters({str(i): "1" for i in range(101)})
    fits = {"kinds": json.dumps({f"c{i}": "numeric" for i in range(100)}), "settings": '{"x": 1}'}
    assert sagemaker_training.check_hyperparameters(fits) is fits
