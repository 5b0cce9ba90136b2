"""The retraining pipeline on AWS, validated offline: sagemaker 3.x builds its definition (prepare,
train, evaluate, quality gate, register pending approval), botocore's Stubber checks the
CreatePipeline/UpdatePipeline/StartPipelineExecution requests, and the steps' own code runs here on
a processing job's folder layout."""

import io
import json
import tarfile

import boto3
import pandas as pd
import pytest
from botocore.stub import ANY, Stubber
from sagemaker_stubs import ARN, REGION, offline_aws

from rfmkit.monitoring import ground_truth, pipeline, pipeline_steps
from rfmkit.serving.capture import CaptureWriter

KINDS = {"minutes": "numeric", "plan": "categorical"}


@pytest.fixture
def built(monkeypatch, tmp_path):
    with offline_aws(monkeypatch, tmp_path) as (cfg, sagemaker, session):
        definition = pipeline.build(
            cfg, session, model_name="rfmkit-churn-contact_center", kinds=KINDS, columns=list(KINDS),
            train_uri="s3://bucket/rfmkit/churn/r/contact_center/train", code_uri="s3://bucket/code/sourcedir.tar.gz",
            capture_uri="s3://bucket/rfmkit/capture/r", ground_truth_uri="s3://bucket/rfmkit/groundtruth/r",
            min_auc=0.75)
        yield definition, json.loads(definition.definition()), sagemaker


def test_the_pipeline_prepares_trains_evaluates_gates_and_registers(built):
    _, definition, _ = built
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert list(steps) == ["PrepareData", "Train", "Evaluate", "QualityGate"]
    assert [steps[n]["Type"] for n in steps] == ["Processing", "Training", "Processing", "Condition"]
    assert {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]} == {
        "MinAuc": 0.75, "CaptureUri": "s3://bucket/rfmkit/capture/r",
        "GroundTruthUri": "s3://bucket/rfmkit/groundtruth/r"}
    train_input = steps["Train"]["Arguments"]["InputDataConfig"]
    assert {"Get": "Steps.PrepareData.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"} in [
        c["DataSource"]["S3DataSource"]["S3Uri"] for c in train_input]
    [condition] = steps["QualityGate"]["Arguments"]["Conditions"]
    assert condition["Type"] == "GreaterThanOrEqualTo" and condition["RightValue"] == {"Get": "Parameters.MinAuc"}
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"
    assert steps["Evaluate"]["PropertyFiles"] == [{"PropertyFileName": "Evaluation", "OutputName": "evaluation",
                                                  "FilePath": "evaluation.json"}]
    [register] = steps["QualityGate"]["Arguments"]["IfSteps"]
    [fail] = steps["QualityGate"]["Arguments"]["ElseSteps"]
    assert register["Name"] == "Register" and fail["Type"] == "Fail"
    args = register["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert args[args.index("--model-uri") + 1] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert "pipeline_steps register" in register["Arguments"]["AppSpecification"]["ContainerEntrypoint"][2]


def test_creating_updating_and_starting_the_pipeline_are_valid_requests(built):
    definition, _, sagemaker = built
    with Stubber(sagemaker) as stub:
        stub.add_response("create_pipeline", {"PipelineArn": f"{ARN}:pipeline/{definition.name}"},
                          {"PipelineName": definition.name, "PipelineDefinition": ANY, "RoleArn": ANY,
                           "PipelineDescription": ANY})
        stub.add_client_error("create_pipeline", "ValidationException",
                              "Pipeline names must be unique within an AWS account and region")
        stub.add_response("update_pipeline", {"PipelineArn": f"{ARN}:pipeline/{definition.name}"})
        stub.add_response("start_pipeline_execution", {"PipelineExecutionArn": f"{ARN}:pipeline/x/execution/1"},
                          {"PipelineName": definition.name, "PipelineExecutionDescription": ANY,
                           "PipelineParameters": [{"Name": "MinAuc", "Value": "0.75"},
                                                  {"Name": "CaptureUri", "Value": "s3://c"},
                                                  {"Name": "GroundTruthUri", "Value": "s3://g"}]})
        role = "arn:aws:iam::123456789012:role/r"
        assert pipeline.upsert(sagemaker, definition, role).endswith(definition.name)
        assert pipeline.upsert(sagemaker, definition, role).endswith(definition.name)  # exists: updated
        assert pipeline.start(sagemaker, definition.name, capture_uri="s3://c", ground_truth_uri="s3://g",
                              min_auc=0.75).endswith("execution/1")


def test_the_prepare_step_adds_served_rows_whose_outcome_is_known(tmp_path):
    (tmp_path / "train").mkdir()
    pd.DataFrame({"minutes": [1.0, 2.0], "plan": ["a", "b"], "churned": [0, 1]}).to_csv(
        tmp_path / "train" / "data.csv", index=False)
    capture = CaptureWriter(tmp_path / "capture")
    capture.record("e", "3.5,a\n4.5,b\n", "text/csv",
                   json.dumps({"predictions": [{"churn_probability": 0.1}, {"churn_probability": 0.9}]}),
                   "application/json", inference_id="call-1")
    capture.record("e", "9.0,a\n", "text/csv", json.dumps({"predictions": [{"churn_probability": 0.3}]}),
                   "application/json", inference_id="call-2")  # no outcome yet: left out
    capture.close()
    ground_truth.write(tmp_path / "groundtruth", {"call-1": [1, 0]})
    out = pipeline_steps.prepare(tmp_path, KINDS, list(KINDS))
    frame = pd.read_csv(out)
    assert frame["minutes"].tolist() == [1.0, 2.0, 3.5, 4.5] and frame["churned"].tolist() == [0, 1, 1, 0]


def test_the_evaluate_step_exposes_the_candidates_evaluation(tmp_path):
    (tmp_path / "model").mkdir()
    payload = json.dumps({"binary_classification_metrics": {"auc": {"value": 0.91}}}).encode()
    with tarfile.open(tmp_path / "model" / "model.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("evaluation.json")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    out = pipeline_steps.evaluate(tmp_path)
    assert json.loads(out.read_text())["binary_classification_metrics"]["auc"]["value"] == 0.91


def test_the_register_step_registers_pending_manual_approval(monkeypatch, tmp_path):
    sagemaker = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(boto3, "client", lambda *a, **k: sagemaker)
    monkeypatch.setattr(pipeline_steps, "ROOT", tmp_path)
    (tmp_path / "evaluation").mkdir()
    (tmp_path / "evaluation" / "evaluation.json").write_text(
        json.dumps({"binary_classification_metrics": {"auc": {"value": 0.91}}}))
    sent = []
    sagemaker.meta.events.register("provide-client-params.sagemaker.CreateModelPackage",
                                   lambda params, **_: sent.append(params))
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_model_package_group", {
            "ModelPackageGroupName": "rfmkit-churn-contact-center", "ModelPackageGroupArn": f"{ARN}:g",
            "CreationTime": "2026-12-03T00:00:00Z", "CreatedBy": {}, "ModelPackageGroupStatus": "Completed"})
        stub.add_response("create_model_package", {"ModelPackageArn": f"{ARN}:model-package/g/3"})
        pipeline_steps.register("rfmkit-churn-contact_center", "s3://b/model.tar.gz", "s3://b/evaluation.json",
                                0.7, REGION, "image")
    assert sent[0]["ModelApprovalStatus"] == "PendingManualApproval"
    assert sent[0]["CustomerMetadataProperties"]["quality_gate"] == "passed"
