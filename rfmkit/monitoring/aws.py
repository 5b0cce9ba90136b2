"""Monitoring on AWS: endpoint data capture in S3, ground truth in S3, and the same check
(`python -m rfmkit monitor`) run on a schedule as a SageMaker Processing job that EventBridge
Scheduler starts (a universal target calling sagemaker:CreateProcessingJob). A retrained candidate
is staged through the SageMaker deployer; promotion stays a person's approval in the registry.
"""

from __future__ import annotations

import json
from pathlib import Path

from rfmkit.monitoring.ground_truth import GROUND_TRUTH_FOLDER
from rfmkit.serving.capture import CAPTURE_FOLDER

PROCESSING = "/opt/ml/processing"
MONITOR_PACKAGES = "'plotly>=6,<7' 'jinja2>=3.1,<4' 'prometheus-client>=0.20,<1'"
CREATE_PROCESSING_JOB = "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob"


def scheduler_rate(every: str) -> str:
    """'3h' → 'rate(3 hours)'; EventBridge Scheduler's smallest rate is one minute."""
    from rfmkit.monitoring.monitor import parse_period

    minutes = int(parse_period(every).total_seconds() // 60)
    if minutes < 1:
        raise ValueError(f"every={every!r}: at least one minute")
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            count = minutes // size
            return f"rate({count} {unit}{'s' if count > 1 else ''})"
    raise AssertionError("unreachable: every minute count divides by 1")


class AwsMonitoring:
    def __init__(self, cfg, session, *, instance_type: str = "ml.m5.large", backend=None):
        from rfmkit.sagemaker_jobs import run_folder_uri, safe_name

        self.cfg, self.session, self.instance_type = cfg, session, instance_type
        self.backend = backend
        self.capture_uri = run_folder_uri(cfg, CAPTURE_FOLDER)
        self.ground_truth_uri = run_folder_uri(cfg, GROUND_TRUTH_FOLDER)
        self.reports_uri = run_folder_uri(cfg, "monitoring")
        self.schedule_name = safe_name(f"rfmkit-monitor-{cfg.run_dir.name}")

    def describe(self) -> dict[str, str]:
        return {"capture": self.capture_uri, "ground truth": self.ground_truth_uri,
                "reports": self.reports_uri, "schedule": self.schedule_name}

    def stager(self, registry, endpoint: str, serving=None):
        """The SageMaker deployer serves the registry's candidate on the staging endpoint."""
        from rfmkit.serving.deploy import SageMakerDeployer, stage_endpoints
        from rfmkit.serving.sagemaker_deploy import SageMakerServing

        serving = serving or SageMakerServing(self.cfg, boto_session=self.session,
                                              capture_uri=self.capture_uri)
        deployer = SageMakerDeployer(serving, registry, stage_endpoints(registry.name))
        return lambda registered: f"staging serves {deployer.sync()[endpoint]}"

    def metrics_text(self, serving) -> str:
        """SageMaker endpoints report to CloudWatch (AWS/SageMaker Invocations, ModelLatency,
        Invocation4XXErrors); there is no Prometheus text to scrape (docs/MONITORING.md)."""
        return ""

    def retrainer(self, registry, endpoint: str, *, churn_data: str, min_auc: float, seed: int = 42,
                  serving=None, tracking_uri: str = ""):
        """On an alarm: the SageMaker retraining pipeline, created or updated and started."""
        from rfmkit.monitoring.aws_retraining import PipelineRetrainer

        return PipelineRetrainer(self.backend, self, churn_data=churn_data, min_auc=min_auc, seed=seed)

    # -- the schedule ------------------------------------------------------------------------
    def processing_job(self, arguments: list[str], code_uri: str, reference_uri: str) -> dict:
        """The CreateProcessingJob request the schedule sends (its name made unique per run by
        the scheduler's execution id)."""
        from sagemaker.core import image_uris

        from rfmkit.serving.sagemaker_deploy import SKLEARN_VERSION

        image = image_uris.retrieve("sklearn", region=self.cfg.aws.region, version=SKLEARN_VERSION)
        command = (f"pip install --quiet {MONITOR_PACKAGES} && cd {PROCESSING}/code && "
                   f"tar -xzf sourcedir.tar.gz && python -m rfmkit monitor "
                   f"--run-dir {PROCESSING}/run --capture {PROCESSING}/capture "
                   f"--ground-truth {PROCESSING}/groundtruth "
                   f"--reference {PROCESSING}/reference/{Path(reference_uri).name} "
                   + " ".join(arguments))

        def input_(name: str, uri: str, local: str) -> dict:
            return {"InputName": name, "S3Input": {
                "S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix",
                "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}

        return {
            "ProcessingJobName": "rfmkit-monitor-<aws.scheduler.execution-id>",
            "RoleArn": self.cfg.aws.sagemaker_role_arn,
            "AppSpecification": {"ImageUri": image, "ContainerEntrypoint": ["bash", "-c", command]},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1,
                                                      "InstanceType": self.instance_type,
                                                      "VolumeSizeInGB": 20}},
            "ProcessingInputs": [
                input_("code", code_uri.rsplit("/", 1)[0], f"{PROCESSING}/code"),
                input_("reference", reference_uri, f"{PROCESSING}/reference"),
                input_("capture", self.capture_uri, f"{PROCESSING}/capture"),
                input_("groundtruth", self.ground_truth_uri, f"{PROCESSING}/groundtruth")],
            "ProcessingOutputConfig": {"Outputs": [{
                "OutputName": "monitoring", "S3Output": {
                    "S3Uri": self.reports_uri, "LocalPath": f"{PROCESSING}/run/monitoring",
                    "S3UploadMode": "EndOfJob"}}]},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        }

    def schedule(self, every: str, arguments: list[str], *, reference: Path | None = None) -> str:
        """Upload the kit's code and the reference, then create (or update) the schedule that
        runs the check every `every`; returns the schedule's ARN."""
        from rfmkit.sagemaker_jobs import run_folder_uri
        from rfmkit.serving.sagemaker_deploy import source_archive
        from rfmkit.storage import S3Storage

        role = self.cfg.aws.scheduler_role_arn
        if not role:
            raise ValueError("the stack's SchedulerRoleArn is not in this run's settings: "
                             "run notebook 00 with the workshop stack first")
        storage = S3Storage.from_session(self.session, self.cfg.aws.bucket)
        base = run_folder_uri(self.cfg, "monitoring-job")
        code = storage.write_bytes(f"{base}/code/sourcedir.tar.gz", source_archive())
        reference = reference or self._reference()
        reference_uri = storage.upload(reference, f"{base}/reference/{reference.name}")
        request = {
            "Name": self.schedule_name, "ScheduleExpression": scheduler_rate(every),
            "FlexibleTimeWindow": {"Mode": "OFF"}, "State": "ENABLED",
            "Description": f"rfmkit monitor for run {self.cfg.run_dir.name}",
            "Target": {"Arn": CREATE_PROCESSING_JOB, "RoleArn": role,
                       "Input": json.dumps(self.processing_job(arguments, code, reference_uri)),
                       "RetryPolicy": {"MaximumRetryAttempts": 0}}}
        client = self.session.client("scheduler")
        try:
            return client.create_schedule(**request)["ScheduleArn"]
        except client.exceptions.ConflictException:
            return client.update_schedule(**request)["ScheduleArn"]

    def schedule_hint(self, every: str, arguments: list[str]) -> str:
        return (f"checking every {every} from this machine; to run the check on AWS instead, create "
                f"the schedule {self.schedule_name} (notebook 10, schedule_every={every!r})")

    def unschedule(self) -> str:
        client = self.session.client("scheduler")
        try:
            client.delete_schedule(Name=self.schedule_name)
        except client.exceptions.ResourceNotFoundException:
            return f"no schedule {self.schedule_name}"
        return f"deleted schedule {self.schedule_name}"

    def _reference(self) -> Path:
        from rfmkit.churn.outcome import REFERENCE_FILE

        found = sorted(self.cfg.run_dir.glob(f"models/churn-*/{REFERENCE_FILE}"))
        if not found:
            raise FileNotFoundError(f"{self.cfg.run_dir}/models: no churn model's {REFERENCE_FILE} "
                                    f"(notebook 04 writes it)")
        return found[0]


def delete_resources(cfg, session, done, progress=print) -> None:
    """Notebook 99: this run's monitor schedule and the kit's retraining pipelines."""
    import uuid

    monitoring = AwsMonitoring(cfg, session)
    done.add(f"monitor schedule {monitoring.schedule_name}",
             "deleted" if monitoring.unschedule().startswith("deleted") else "already gone", progress)
    sagemaker = session.client("sagemaker")
    prefix = cfg.aws.prefix or "rfmkit"
    found = [p["PipelineName"] for p in sagemaker.list_pipelines(PipelineNamePrefix=prefix).get(
        "PipelineSummaries", []) if p["PipelineName"].endswith("-retrain")]
    for name in found:
        sagemaker.delete_pipeline(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)
        done.add(f"SageMaker pipeline {name}", "deleted", progress)
    if not found:
        done.add(f"SageMaker pipelines {prefix}-*-retrain", "none found", progress)
