"""What every SageMaker job of the kit needs: the settings checked, one boto3 session, a place in
the run's S3 prefix, a ModelTrainer session, and the finished job's artifact (or its failure).

Imports of boto3 and sagemaker are lazy: the local backend never loads them.
"""

from __future__ import annotations

import re

from rfmkit.config import ConfigError, RunConfig

REQUIRED = ("region", "bucket", "sagemaker_role_arn")


def safe_name(text: str, limit: int = 63) -> str:
    """A SageMaker resource name: letters, digits and hyphens, starting with a letter or digit."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-")
    return name[:limit].rstrip("-") or "rfmkit"


def check_settings(cfg: RunConfig, purpose: str) -> None:
    missing = [name for name in REQUIRED if not getattr(cfg.aws, name)]
    if missing:
        raise ConfigError(f"backend='aws' {purpose} needs the AWS setting(s) {missing} "
                          f"(from the CloudFormation stack outputs, notebook 00)")


def boto_session_for(cfg: RunConfig, boto_session=None):
    if boto_session is None:
        import boto3

        boto_session = boto3.Session(region_name=cfg.aws.region)
    return boto_session


def s3_uri(cfg: RunConfig, *parts: str) -> str:
    """s3://<bucket>/<prefix>/<parts...> for the run's objects."""
    prefix = [cfg.aws.prefix.strip("/")] if cfg.aws.prefix else []
    return f"s3://{cfg.aws.bucket}/" + "/".join([*prefix, *parts])


def run_folder_uri(cfg: RunConfig, area: str) -> str:
    """Where one area (segmentation, churn) of this run keeps its S3 objects."""
    return s3_uri(cfg, area, safe_name(cfg.run_dir.name))


def trainer_session(cfg: RunConfig, boto_session, sagemaker_client):
    """The sagemaker-core Session ModelTrainer uses, on our boto3 session and client."""
    from sagemaker.core.helper.session_helper import Session

    return Session(boto_session=boto_session, sagemaker_client=sagemaker_client,
                   default_bucket=cfg.aws.bucket)


def finished_job(sagemaker_client, trainer, *, require_completed: bool = True) -> tuple[str, str]:
    """(job name, model.tar.gz URI) of the job a ModelTrainer started; a failure raises its reason."""
    name = trainer._latest_training_job.training_job_name  # ModelTrainer keeps the job it started
    described = sagemaker_client.describe_training_job(TrainingJobName=name)
    status = described["TrainingJobStatus"]
    if require_completed and status != "Completed":
        raise RuntimeError(f"SageMaker training job {name} ended {status}: "
                           f"{described.get('FailureReason', 'no reason given')}")
    return name, described["ModelArtifacts"]["S3ModelArtifacts"]


def run_transform(sagemaker_client, *, job: str, model: str, input_uri: str, output_uri: str,
                  instance_type: str, accept: str, max_payload_mb: int = 6,
                  poll_seconds: int = 30) -> str:
    """A Batch Transform of CSV lines (several records per request, output lines in input order);
    waits for the job and returns `output_uri`, or raises with the job's failure reason."""
    import time

    sagemaker_client.create_transform_job(
        TransformJobName=job,
        ModelName=model,
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=max_payload_mb,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": input_uri}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": output_uri, "Accept": accept, "AssembleWith": "Line"},
        TransformResources={"InstanceType": instance_type, "InstanceCount": 1})
    while True:
        described = sagemaker_client.describe_transform_job(TransformJobName=job)
        status = described["TransformJobStatus"]
        if status == "Completed":
            return output_uri
        if status in ("Failed", "Stopped"):
            raise RuntimeError(f"SageMaker transform job {job} ended {status}: "
                               f"{described.get('FailureReason', 'no reason given')}")
        time.sleep(poll_seconds)
