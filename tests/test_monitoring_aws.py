"""Monitoring and streaming on AWS, validated offline: the endpoint config's DataCaptureConfig, the
EventBridge Scheduler schedule whose input is a valid CreateProcessingJob request, the stack's
streams; request shapes checked by botocore's Stubber against the service models, S3 by moto."""

import json
import re

import boto3
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from sagemaker_stubs import ARN, NOW, REGION, ROLE, capture, offline_aws
from test_sagemaker_serving import ENDPOINT, endpoint, stub_new_config

from rfmkit.monitoring.aws import AwsMonitoring, scheduler_rate
from rfmkit.serving import sagemaker_deploy as sd
from rfmkit.streaming.service import AwsStream

# SageMaker's pattern for processing job names (botocore's Stubber does not check patterns)
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@pytest.mark.parametrize(("percent", "sampled"), [(100, 100), (0.4, 1), (35, 35)])
def test_endpoint_configs_capture_requests_and_responses_to_s3(monkeypatch, tmp_path, percent, sampled):
    with offline_aws(monkeypatch, tmp_path) as (cfg, sagemaker, session):
        serving = sd.SageMakerServing(cfg, boto_session=session, poll_seconds=0, capture_percent=percent,
                                      capture_uri="s3://bucket/rfmkit/capture/run")
        configs = capture(sagemaker, "CreateEndpointConfig")
        with Stubber(sagemaker) as stub:
            stub_new_config(stub)  # the same requests as notebook 06's deployment test, with capture
            stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint")
            stub.add_response("create_endpoint", {"EndpointArn": f"{ARN}:endpoint/{ENDPOINT}"})
            for status in ("Creating", "Creating", "InService"):
                stub.add_response("describe_endpoint", endpoint(status, "m"))
            serving.deploy(ENDPOINT, "s3://bucket/model.tar.gz")
    assert configs[0]["DataCaptureConfig"] == {
        "EnableCapture": True, "InitialSamplingPercentage": sampled,
        "DestinationS3Uri": "s3://bucket/rfmkit/capture/run",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"],
                                     "JsonContentTypes": ["application/json", "application/jsonlines"]}}


def test_capture_off_sends_no_data_capture_config(monkeypatch, tmp_path):
    with offline_aws(monkeypatch, tmp_path) as (cfg, _, session):
        serving = sd.SageMakerServing(cfg, boto_session=session, capture_percent=0, capture_uri="s3://b/c")
        assert serving.data_capture_config() is None


class Clients(boto3.Session):
    """A session whose named clients are given (stubbed), the rest real (moto)."""

    def __init__(self, given: dict):
        super().__init__(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        self.given = given

    def client(self, name, *args, **kwargs):
        return self.given.get(name) or super().client(name, *args, **kwargs)


def test_the_schedule_starts_a_processing_job_running_the_same_monitor_command(monkeypatch, tmp_path):
    with offline_aws(monkeypatch, tmp_path) as (cfg, _, _):
        cfg.aws.scheduler_role_arn = "arn:aws:iam::123456789012:role/rfmkit-scheduler"
        reference = cfg.run_dir / "models" / "churn-contact_center" / "reference.parquet"
        reference.parent.mkdir(parents=True)
        reference.write_bytes(b"PAR1")
        scheduler = boto3.client("scheduler", region_name=REGION)
        monitoring = AwsMonitoring(cfg, Clients({"scheduler": scheduler}))
        sent = []
        scheduler.meta.events.register("provide-client-params.scheduler.CreateSchedule",
                                       lambda params, **_: sent.append(dict(params)))
        with Stubber(scheduler) as stub:
            stub.add_response("create_schedule", {"ScheduleArn": "arn:aws:scheduler:eu-west-1:123456789012:"
                                                                 "schedule/default/rfmkit-monitor-20261123-101500"})
            arn = monitoring.schedule("3h", ["--endpoint", "rfmkit-churn-contact-center-production", "--retrain"])
        s3 = boto3.client("s3", region_name=REGION)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bucket")["Contents"]]
    assert arn.endswith("rfmkit-monitor-20261123-101500")
    request = sent[0]
    assert request["ScheduleExpression"] == "rate(3 hours)" and request["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert request["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob"
    job = json.loads(request["Target"]["Input"])
    model = boto3.client("sagemaker", region_name=REGION).meta.service_model.operation_model("CreateProcessingJob")
    report = ParamValidator().validate(job, model.input_shape)
    assert not report.has_errors(), report.generate_report()
    name = job["ProcessingJobName"].replace("<aws.scheduler.execution-id>", "d32c5kddcf5bb8c3")
    assert JOB_NAME.match(name)  # what the scheduler's execution id makes of it is a valid job name
    assert job["RoleArn"] == ROLE
    command = job["AppSpecification"]["ContainerEntrypoint"][-1]
    assert "python -m rfmkit monitor" in command and "--retrain" in command and "--reference" in command
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}
    assert inputs["capture"] == monitoring.capture_uri and inputs["groundtruth"] == monitoring.ground_truth_uri
    assert any(k.endswith("code/sourcedir.tar.gz") for k in keys)
    assert any(k.endswith("reference/reference.parquet") for k in keys)
    assert job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == monitoring.reports_uri


def test_scheduling_without_the_stacks_role_says_what_to_do(monkeypatch, tmp_path):
    with offline_aws(monkeypatch, tmp_path) as (cfg, _, session), \
            pytest.raises(ValueError, match="SchedulerRoleArn"):
        AwsMonitoring(cfg, session).schedule("3h", [])


def test_unscheduling_twice_is_harmless(monkeypatch, tmp_path):
    with offline_aws(monkeypatch, tmp_path) as (cfg, _, _):
        scheduler = boto3.client("scheduler", region_name=REGION)
        monitoring = AwsMonitoring(cfg, Clients({"scheduler": scheduler}))
        with Stubber(scheduler) as stub:
            stub.add_response("delete_schedule", {}, {"Name": monitoring.schedule_name})
            stub.add_client_error("delete_schedule", "ResourceNotFoundException")
            assert monitoring.unschedule().startswith("deleted")
            assert monitoring.unschedule().startswith("no schedule")


@pytest.mark.parametrize(("every", "expression"), [("3h", "rate(3 hours)"), ("1h", "rate(1 hour)"),
                                                   ("90min", "rate(90 minutes)"), ("1d", "rate(1 day)")])
def test_periods_become_scheduler_rates(every, expression):
    assert scheduler_rate(every) == expression


def test_the_aws_stream_uses_the_stacks_streams(monkeypatch, tmp_path):
    with offline_aws(monkeypatch, tmp_path) as (cfg, _, _):
        cfg.aws.request_stream, cfg.aws.score_stream = "rfmkit-churn-requests", "rfmkit-churn-scores"
        kinesis = boto3.client("kinesis", region_name=REGION)
        stream = AwsStream(cfg, Clients({"kinesis": kinesis}))
        with Stubber(kinesis) as stub:
            for name in ("rfmkit-churn-requests", "rfmkit-churn-scores"):
                stub.add_response("describe_stream_summary", {"StreamDescriptionSummary": {
                    "StreamName": name, "StreamARN": f"arn:aws:kinesis:{REGION}:123456789012:stream/{name}",
                    "StreamStatus": "ACTIVE", "RetentionPeriodHours": 24, "StreamCreationTimestamp": NOW,
                    "EnhancedMonitoring": [], "OpenShardCount": 1}}, {"StreamName": name})
            assert set(stream.prepare()) == {"requests", "scores"}
        with pytest.raises(RuntimeError, match="StreamCheckpointsTable"):
            stream.checkpoints()
