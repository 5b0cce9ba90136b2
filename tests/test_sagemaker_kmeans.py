"""The SageMaker KMeans path validated offline.

botocore Stubber checks every SageMaker request (training job through sagemaker 3.x ModelTrainer,
model, transform job, cleanup) against the service model; moto plays S3, so the uploaded training
data can be read back and checked in the format the algorithm accepts.
"""

import json

import numpy as np
import pytest
from botocore.stub import Stubber
from sagemaker_stubs import ARN, NOW, REGION, ROLE, capture, offline_aws, stub_training

from rfmkit.config import AwsSettings, ConfigError, RunConfig
from rfmkit.segmentation import sagemaker_kmeans as smk


@pytest.fixture
def aws(monkeypatch, tmp_path):
    with offline_aws(monkeypatch, tmp_path) as world:
        yield world


def test_train_transform_and_cleanup_request_shapes(aws):
    cfg, sagemaker, session = aws
    points = np.random.default_rng(0).normal(size=(7, 3))
    runner = smk.SageMakerKMeans(cfg, k=3, boto_session=session, poll_seconds=0)
    created = capture(sagemaker, "CreateTrainingJob")
    models = capture(sagemaker, "CreateModel")
    transforms = capture(sagemaker, "CreateTransformJob")
    output = [{"closest_cluster": float(c), "distance_to_cluster": 0.5 + c} for c in (2, 0, 2, 1, 2, 0, 2)]
    s3 = session.client("s3")

    with Stubber(sagemaker) as stub:
        stub_training(stub, "s3://bucket/rfmkit/model/x/output/model.tar.gz")
        stub.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:123456789012:model/m"})
        stub.add_response("create_transform_job", {"TransformJobArn": f"{ARN}:transform-job/t"})
        stub.add_response("describe_transform_job", _transform("InProgress"))
        stub.add_response("describe_transform_job", _transform("Completed"))
        stub.add_response("delete_model", {})
        original = runner.read_predictions

        def read_after_sagemaker_wrote(output_uri, input_name="features.csv"):
            bucket, key = f"{output_uri}/{input_name}.out"[5:].split("/", 1)
            s3.put_object(Bucket=bucket, Key=key, Body="\n".join(json.dumps(r) for r in output).encode())
            return original(output_uri, input_name)

        runner.read_predictions = read_after_sagemaker_wrote
        predictions, jobs = runner.fit_predict(points, progress=lambda message: None)
        stub.assert_no_pending_responses()

    # training data: CSV, no header, one customer per line, feature_dim columns, in input order
    body = s3.get_object(Bucket="bucket", Key="rfmkit/segmentation/20261123-101500/train/features.csv")["Body"].read()
    np.testing.assert_allclose(np.loadtxt(body.decode().splitlines(), delimiter=","), points, atol=1e-6)
    request = created[0]
    assert request["AlgorithmSpecification"]["TrainingImage"].endswith(".amazonaws.com/kmeans:1")
    assert request["HyperParameters"] == {"k": "3", "feature_dim": "3", "init_method": "kmeans++",
                                          "mini_batch_size": "5000"}
    channel = request["InputDataConfig"][0]
    assert channel["ChannelName"] == "train" and channel["ContentType"] == "text/csv;label_size=0"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == jobs.train_uri
    assert request["RoleArn"] == ROLE
    assert request["OutputDataConfig"]["S3OutputPath"] == "s3://bucket/rfmkit/segmentation/20261123-101500/model"
    assert models[0]["PrimaryContainer"]["ModelDataUrl"] == jobs.model_artifact
    assert models[0]["PrimaryContainer"]["Image"] == request["AlgorithmSpecification"]["TrainingImage"]
    transform = transforms[0]
    assert transform["TransformInput"]["ContentType"] == "text/csv"
    assert transform["TransformInput"]["SplitType"] == "Line"
    assert transform["TransformOutput"]["Accept"] == "application/jsonlines"
    assert transform["MaxPayloadInMB"] <= 6
    # same output contract as the local model
    assert list(predictions.columns) == ["closest_cluster", "distance_to_cluster"]
    assert list(predictions["closest_cluster"]) == [2, 0, 2, 1, 2, 0, 2]
    renumbered, means = smk.renumber_by_size(predictions, points)
    assert list(renumbered["closest_cluster"]) == [0, 1, 0, 2, 0, 1, 0]  # 0 = largest
    np.testing.assert_allclose(means[0], points[[0, 2, 4, 6]].mean(axis=0))


def _transform(status: str) -> dict:
    return {"TransformJobName": "t", "TransformJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:transform-job/t",
            "TransformJobStatus": status, "ModelName": "m", "CreationTime": NOW,
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/k"}}},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            **({"FailureReason": "ClientError: bad rows"} if status == "Failed" else {})}


def test_failed_transform_raises_with_the_reason_and_still_deletes_the_model(aws):
    cfg, sagemaker, session = aws
    runner = smk.SageMakerKMeans(cfg, k=3, boto_session=session, poll_seconds=0)
    with Stubber(sagemaker) as stub:
        stub.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:123456789012:model/m"})
        stub.add_response("create_transform_job", {"TransformJobArn": f"arn:aws:sagemaker:{REGION}:1:transform-job/t"})
        stub.add_response("describe_transform_job", _transform("Failed"))
        stub.add_response("delete_model", {})
        model = runner.create_model("s3://bucket/model.tar.gz")
        with pytest.raises(RuntimeError, match="ended Failed: ClientError: bad rows"):
            try:
                runner.transform(model, "s3://bucket/train/features.csv")
            finally:
                runner.delete_model(model)
        stub.assert_no_pending_responses()


def test_missing_settings_name_what_to_set(tmp_path):
    cfg = RunConfig(backend="aws", run_dir=tmp_path, aws=AwsSettings(region=REGION))
    with pytest.raises(ConfigError, match=r"\['bucket', 'sagemaker_role_arn'\]"):
        smk.SageMakerKMeans(cfg, k=5, boto_session=object())


def test_names_are_valid_sagemaker_names():
    assert smk.safe_name("rfmkit kmeans_2026.11") == "rfmkit-kmeans-2026-11"
    assert len(smk.safe_name("x" * 100)) == 63


def test_aws_backend_gives_the_local_contract(aws, monkeypatch):
    """segmentation.train on aws: SageMaker's assignments renumbered by size, centres from them."""
    import pandas as pd

    from rfmkit import segmentation
    from rfmkit.segmentation.features import FeatureTransform

    cfg, _, session = aws
    frame = pd.DataFrame({"recency_days": [1, 2, 300, 310, 305], "monetary": [10.0, 12, 50, 55, 60]})
    features = FeatureTransform(["recency_days", "monetary"], log_transform="none")
    z = features.fit_transform(frame)
    canned = pd.DataFrame({"closest_cluster": [3, 3, 1, 1, 1], "distance_to_cluster": [0.1, 0.2, 0.3, 0.1, 0.2]})
    jobs = smk.SageMakerJobs("job", "s3://bucket/model.tar.gz", "model", "transform", "s3://t", "s3://o")
    monkeypatch.setattr(smk.SageMakerKMeans, "fit_predict", lambda self, points, progress=print: (canned, jobs))
    from rfmkit.backends.aws import AwsBackend

    model, assignments = segmentation.train(z, features, AwsBackend(cfg, boto_session=session), k=2, seed=1)
    assert list(assignments["closest_cluster"]) == [1, 1, 0, 0, 0]
    assert model.trained_with_ == "sagemaker" and model.info_["training_job"] == "job"
    np.testing.assert_allclose(model.centroids_in_units().to_numpy(), [[305, 55], [1.5, 11]])
    pd.testing.assert_frame_equal(model.predict_frame(frame)[["closest_cluster"]], assignments[["closest_cluster"]])
