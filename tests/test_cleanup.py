"""Notebook 99's cleanup: local endpoints removed from a live server through its admin route, AWS
resources deleted in order (Stubber for SageMaker, QuickSight and CloudFormation; moto for the
versioned bucket and STS), and a second run finding everything already gone."""

import datetime as dt
import urllib.error
import urllib.request

import boto3
import exported_run
import pytest
from botocore.stub import ANY, Stubber

from rfmkit import backends, cleanup
from rfmkit.config import AwsSettings, ConfigError, RunConfig

REGION = "eu-west-1"
NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
ARN = f"arn:aws:sagemaker:{REGION}:123456789012"


def test_local_cleanup_removes_live_endpoints_and_is_idempotent(tmp_path):
    cfg, warehouse = exported_run.build(tmp_path / "run", n=200, with_scores=False)
    warehouse.close()
    server = backends.get(cfg).serving()
    try:
        for name in ("rfmkit-segments", "rfmkit-churn-production"):
            server.deploy(name, cfg.run_dir / "models" / "kmeans" / "model.tar.gz")
        request = urllib.request.Request(f"{server.url}/endpoints/rfmkit-segments", method="DELETE")
        with pytest.raises(urllib.error.HTTPError) as denied:  # no token, no removal
            urllib.request.urlopen(request, timeout=5)
        assert denied.value.code == 403 and len(server.endpoints.describe()) == 2

        first = cleanup.local(cfg, progress=lambda _: None).frame()
        assert server.endpoints.describe() == []
        outcomes = dict(zip(first["what"], first["outcome"], strict=True))
        assert outcomes["endpoint rfmkit-segments"] == outcomes["endpoint rfmkit-churn-production"] == "removed"
        assert outcomes[f"run folder {cfg.run_dir}"].startswith("kept") and cfg.warehouse_path.exists()

        second = cleanup.local(cfg, progress=lambda _: None).frame()
        assert list(second["outcome"])[0] == "none running"
    finally:
        server.stop()


def test_a_stopped_server_is_reported_and_the_run_folder_goes_only_when_asked(tmp_path):
    cfg = RunConfig(run_dir=tmp_path / "run")
    cfg.run_dir.mkdir()
    server = backends.get(cfg).serving()
    server.stop()  # as when the notebook's kernel ended: the record stays behind
    done = cleanup.local(cfg, remove_run_folder=True, progress=lambda _: None).frame()
    assert list(done["outcome"]) == ["already stopped", "deleted"]
    assert not cfg.run_dir.exists()


class Session(boto3.Session):
    """moto for S3 and STS; stubbed clients for the rest."""

    def __init__(self, clients):
        super().__init__(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        self._clients = clients

    def client(self, name, *args, **kwargs):
        return self._clients.get(name) or super().client(name, *args, **kwargs)


def _client(name):
    return boto3.client(name, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def stub_sagemaker(stub, present: bool) -> None:
    names = {"Endpoints": ("EndpointName", ["rfmkit-churn-production", "rfmkit-segments", "team-rfmkit-x"]),
             "EndpointConfigs": ("EndpointConfigName", ["rfmkit-segments-20261123"]),
             "Models": ("ModelName", ["rfmkit-segments-20261123"])}
    extra = {"Endpoints": {"EndpointArn": f"{ARN}:endpoint/x", "CreationTime": NOW, "LastModifiedTime": NOW,
                           "EndpointStatus": "InService"},
             "EndpointConfigs": {"EndpointConfigArn": f"{ARN}:endpoint-config/x", "CreationTime": NOW},
             "Models": {"ModelArn": f"{ARN}:model/x", "CreationTime": NOW}}
    operations = {"Endpoints": ("list_endpoints", "delete_endpoint"),
                  "EndpointConfigs": ("list_endpoint_configs", "delete_endpoint_config"),
                  "Models": ("list_models", "delete_model")}
    for key, (field, items) in names.items():
        listing, delete = operations[key]
        shown = items if present else []
        stub.add_response(listing, {key: [{field: n, **extra[key]} for n in shown]}, {"NameContains": "rfmkit"})
        for name in shown:
            if name.startswith("rfmkit-"):
                if name == "rfmkit-segments":  # deleted meanwhile by someone else
                    stub.add_client_error(delete, "ValidationException",
                                          f"Could not find endpoint \"{name}\".")
                else:
                    stub.add_response(delete, {}, {field: name})


def stub_monitoring(scheduler, sagemaker, present: bool) -> None:
    """Notebook 10's schedule and retraining pipeline (not another team's pipeline)."""
    if present:
        scheduler.add_response("delete_schedule", {})
    else:
        scheduler.add_client_error("delete_schedule", "ResourceNotFoundException")
    pipelines = ["rfmkit-churn-contact-center-retrain", "rfmkit-other-pipeline"] if present else []
    sagemaker.add_response("list_pipelines", {"PipelineSummaries": [{"PipelineName": n} for n in pipelines]},
                           {"PipelineNamePrefix": "rfmkit"})
    if present:
        sagemaker.add_response("delete_pipeline", {}, {"PipelineName": "rfmkit-churn-contact-center-retrain",
                                                       "ClientRequestToken": ANY})


def stub_quicksight(stub, present: bool) -> None:
    operations = ["delete_dashboard", "delete_analysis", *["delete_data_set"] * 3, *["delete_data_source"] * 3]
    for operation in operations:
        if present:
            stub.add_response(operation, {"Status": 200} if operation != "delete_analysis" else {})
        else:
            stub.add_client_error(operation, "ResourceNotFoundException", http_status_code=404)


def stub_stack(stub, present: bool, name: str = "rfmkit") -> None:
    stack = {"StackName": name, "StackId": f"arn:stack/{name}", "CreationTime": NOW}
    if not present:
        stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {name} does not exist")
        return
    stub.add_response("describe_stacks", {"Stacks": [{**stack, "StackStatus": "CREATE_COMPLETE"}]})
    stub.add_response("describe_stacks", {"Stacks": [{**stack, "StackStatus": "CREATE_COMPLETE"}]})
    stub.add_response("delete_stack", {})
    stub.add_response("describe_stack_events", {"StackEvents": [
        {"StackId": f"arn:stack/{name}", "EventId": "e1", "StackName": name, "LogicalResourceId": name,
         "ResourceType": "AWS::CloudFormation::Stack", "Timestamp": NOW, "ResourceStatus": "DELETE_COMPLETE"}]})
    stub.add_response("describe_stacks", {"Stacks": [{**stack, "StackStatus": "DELETE_COMPLETE"}]})


def test_aws_cleanup_deletes_in_order_and_a_second_run_finds_nothing(tmp_path, monkeypatch):
    from moto import mock_aws

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    cfg = RunConfig(backend="aws", run_dir=tmp_path, aws=AwsSettings(region=REGION, bucket="workshop-data",
                                                                    prefix="rfmkit", stack_name="rfmkit"))
    clients = {name: _client(name) for name in ("sagemaker", "quicksight", "cloudformation", "scheduler")}
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="workshop-data", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket="workshop-data", VersioningConfiguration={"Status": "Enabled"})
        for version in range(2):
            s3.put_object(Bucket="workshop-data", Key="rfmkit/exports/rfm_scores_000.csv", Body=f"v{version}")
        s3.delete_object(Bucket="workshop-data", Key="rfmkit/exports/rfm_scores_000.csv")  # a delete marker

        for present in (True, False):
            stubs = {name: Stubber(client) for name, client in clients.items()}
            for stub in stubs.values():
                stub.activate()
            stub_sagemaker(stubs["sagemaker"], present)
            stub_stack(stubs["cloudformation"], present, "rfmkit-contact-center")  # notebook 09's stack
            if present:
                stubs["sagemaker"].add_response("delete_feature_group", {},
                                                {"FeatureGroupName": "rfmkit-contact-center-features"})
            else:
                stubs["sagemaker"].add_client_error("delete_feature_group", "ResourceNotFound")
            stub_monitoring(stubs["scheduler"], stubs["sagemaker"], present)
            stub_quicksight(stubs["quicksight"], present)
            stub_stack(stubs["cloudformation"], present)
            done = cleanup.aws(cfg, delete_stack=True, boto_session=Session(clients), poll_seconds=0,
                               progress=lambda _: None).frame()
            for stub in stubs.values():
                stub.assert_no_pending_responses()
                stub.deactivate()
            outcomes = dict(zip(done["what"], done["outcome"], strict=True))
            if present:
                assert outcomes["SageMaker endpoint rfmkit-churn-production"] == "deleted"
                assert outcomes["SageMaker endpoint rfmkit-segments"] == "already gone"
                assert not any("team-rfmkit-x" in what for what in outcomes)  # not ours: untouched
                assert outcomes["QuickSight dashboard rfmkit-dashboard"] == "deleted"
                assert outcomes["bucket workshop-data"] == "emptied (3 object versions)"
                assert outcomes["stack rfmkit"] == "deleted"
                assert outcomes["stack rfmkit-contact-center"] == "deleted"
                assert outcomes["feature group rfmkit-contact-center-features"] == "deleted"
                schedules = [v for k, v in outcomes.items() if k.startswith("monitor schedule rfmkit-monitor-")]
                assert schedules == ["deleted"]
                assert outcomes["SageMaker pipeline rfmkit-churn-contact-center-retrain"] == "deleted"
            else:
                assert outcomes["SageMaker endpoints rfmkit-*"] == "none found"
                assert outcomes["QuickSight assets rfmkit-*"] == "none found"
                assert outcomes["bucket workshop-data"] == "already empty or gone"
                assert outcomes["stack rfmkit"] == "already gone"
                assert outcomes["stack rfmkit-contact-center"] == "already gone"
                assert outcomes["feature group rfmkit-contact-center-features"] == "already gone"
                assert outcomes["SageMaker pipelines rfmkit-*-retrain"] == "none found"
        assert s3.list_object_versions(Bucket="workshop-data").get("Versions", []) == []


def test_deleting_the_stack_needs_its_name(tmp_path):
    cfg = RunConfig(backend="aws", run_dir=tmp_path, aws=AwsSettings(region=REGION))
    clients = {"sagemaker": _client("sagemaker")}
    # Refused before anything is listed or deleted: the stubbed client has no responses at all.
    with Stubber(clients["sagemaker"]), pytest.raises(ConfigError, match="stack_name"):
        cleanup.aws(cfg, quicksight=False, delete_stack=True, boto_session=Session(clients),
                    progress=lambda _: None)
