"""Shared offline SageMaker plumbing for tests: a boto3 session whose SageMaker client is stubbed
(sagemaker-core asks the session for its client) while S3 goes to moto."""

import contextlib
import datetime as dt

import boto3

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/rfmkit-sagemaker"
NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
ARN = f"arn:aws:sagemaker:{REGION}:123456789012"


class RoutedSession(boto3.Session):
    def __init__(self, sagemaker_client):
        super().__init__(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        self._sagemaker = sagemaker_client

    def client(self, name, *args, **kwargs):
        if name == "sagemaker":
            return self._sagemaker
        return super().client(name, *args, **kwargs)


def training_job(name: str, status: str, artifact: str) -> dict:
    return {"TrainingJobName": name, "TrainingJobArn": f"{ARN}:training-job/{name}",
            "ModelArtifacts": {"S3ModelArtifacts": artifact},
            "TrainingJobStatus": status, "SecondaryStatus": "Completed" if status == "Completed" else "Training",
            "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "image"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600}, "CreationTime": NOW}


def stub_training(stub, artifact: str) -> None:
    """CreateTrainingJob, then the reads ModelTrainer (create, wait) and rfmkit make."""
    stub.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/x"})
    for status in ("InProgress", "Completed", "Completed"):
        stub.add_response("describe_training_job", training_job("x", status, artifact))


def capture(client, operation: str) -> list[dict]:
    """Every request sent for `operation`, as the service receives its parameters."""
    seen: list[dict] = []
    client.meta.events.register(f"provide-client-params.sagemaker.{operation}",
                                lambda params, **_: seen.append(dict(params)))
    return seen


@contextlib.contextmanager
def offline_aws(monkeypatch, tmp_path):
    """moto S3 with the kit's bucket, a SageMaker client for Stubber, an aws RunConfig, and a
    session that hands out that client: (cfg, sagemaker client, session)."""
    from moto import mock_aws

    from rfmkit.config import AwsSettings, RunConfig

    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")  # ModelTrainer's role check calls IAM
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket="bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
        sagemaker = boto3.Session(region_name=REGION).client("sagemaker")
        cfg = RunConfig(backend="aws", run_dir=tmp_path / "20261123-101500",
                        aws=AwsSettings(region=REGION, bucket="bucket", sagemaker_role_arn=ROLE))
        yield cfg, sagemaker, RoutedSession(sagemaker)
