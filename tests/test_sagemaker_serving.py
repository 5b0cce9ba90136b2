"""The SageMaker serving path validated offline.

Stubber checks every SageMaker request (model, endpoint config, endpoint through sagemaker 3.x
resources; update, delete, Batch Transform) against the service model; moto plays S3. The inference
code archive is unpacked and run in a separate interpreter that cannot import the kit's heavy
dependencies, as in the scikit-learn container, and must answer exactly as the local endpoint does.
"""

import io
import json
import subprocess
import sys
import tarfile

import numpy as np
import pandas as pd
import pytest
from botocore.stub import Stubber
from sagemaker_stubs import ARN, NOW, REGION, ROLE, capture, offline_aws

from rfmkit.churn import artifact, training
from rfmkit.churn.datasets import contact_center
from rfmkit.churn.registry import SageMakerRegistry
from rfmkit.config import AwsSettings, ConfigError, RunConfig
from rfmkit.segmentation.features import FeatureTransform
from rfmkit.segmentation.model import KMeansSegmenter
from rfmkit.serving import sagemaker_deploy as sd
from rfmkit.serving.deploy import SageMakerDeployer, stage_endpoints
from rfmkit.serving.inference import CSV, JSONLINES, input_fn, model_fn, output_fn, predict_fn

ENDPOINT = "rfmkit-churn-contact-center-production"
MODEL_URL = "s3://bucket/rfmkit/churn/r/model.tar.gz"


@pytest.fixture
def aws(monkeypatch, tmp_path):
    with offline_aws(monkeypatch, tmp_path) as (cfg, sagemaker, session):
        yield sd.SageMakerServing(cfg, boto_session=session, poll_seconds=0), sagemaker, session


def model(name, url=MODEL_URL):
    return {"ModelName": name, "ModelArn": f"{ARN}:model/{name}", "CreationTime": NOW,
            "PrimaryContainer": {"Image": "image", "ModelDataUrl": url}}


def config(name):
    return {"EndpointConfigName": name, "EndpointConfigArn": f"{ARN}:endpoint-config/{name}",
            "CreationTime": NOW, "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": name,
                                                         "InitialInstanceCount": 1,
                                                         "InstanceType": "ml.m5.large"}]}


def endpoint(status, config_name):
    return {"EndpointName": ENDPOINT, "EndpointArn": f"{ARN}:endpoint/{ENDPOINT}",
            "EndpointConfigName": config_name, "EndpointStatus": status, "CreationTime": NOW,
            "LastModifiedTime": NOW}


def stub_new_config(stub):
    stub.add_response("create_model", {"ModelArn": f"{ARN}:model/m"})
    stub.add_response("describe_model", model("m"))
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/m"})
    stub.add_response("describe_endpoint_config", config("m"))


def test_deploy_creates_model_config_and_endpoint_with_the_kit_inference_code(aws):
    serving, sagemaker, session = aws
    models, configs = capture(sagemaker, "CreateModel"), capture(sagemaker, "CreateEndpointConfig")
    endpoints = capture(sagemaker, "CreateEndpoint")
    with Stubber(sagemaker) as stub:
        stub_new_config(stub)
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint")
        stub.add_response("create_endpoint", {"EndpointArn": f"{ARN}:endpoint/{ENDPOINT}"})
        for status in ("Creating", "Creating", "InService"):
            stub.add_response("describe_endpoint", endpoint(status, "m"))
        deployed = serving.deploy(ENDPOINT, MODEL_URL)
        stub.assert_no_pending_responses()

    container = models[0]["PrimaryContainer"]
    assert container["ModelDataUrl"] == MODEL_URL and models[0]["ExecutionRoleArn"] == ROLE
    assert "sagemaker-scikit-learn:1.9-0" in container["Image"]
    env = container["Environment"]
    assert env["SAGEMAKER_PROGRAM"] == sd.SERVE_SCRIPT
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"] == "s3://bucket/rfmkit/serving/20261123-101500/code/sourcedir.tar.gz"
    code = session.client("s3").get_object(Bucket="bucket",
                                           Key="rfmkit/serving/20261123-101500/code/sourcedir.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(code["Body"].read())) as archive:
        names = archive.getnames()
    assert sd.SERVE_SCRIPT in names and "rfmkit/serving/inference.py" in names
    assert not [n for n in names if "__pycache__" in n]
    variant = configs[0]["ProductionVariants"][0]
    assert (variant["ModelName"], variant["InstanceType"]) == (models[0]["ModelName"], "ml.m5.large")
    assert endpoints[0] == {"EndpointName": ENDPOINT, "EndpointConfigName": configs[0]["EndpointConfigName"]}
    assert deployed.endpoint == ENDPOINT


def test_deploy_to_a_live_endpoint_updates_it_and_removes_the_old_config(aws):
    serving, sagemaker, _ = aws
    updates, deleted = capture(sagemaker, "UpdateEndpoint"), capture(sagemaker, "DeleteModel")
    with Stubber(sagemaker) as stub:
        stub_new_config(stub)
        stub.add_response("describe_endpoint", endpoint("InService", "old"))
        stub.add_response("update_endpoint", {"EndpointArn": f"{ARN}:endpoint/{ENDPOINT}"})
        stub.add_response("describe_endpoint", endpoint("Updating", "m"))
        stub.add_response("describe_endpoint", endpoint("InService", "m"))
        stub.add_response("describe_endpoint_config", config("old"))
        stub.add_response("delete_endpoint_config", {})
        stub.add_response("delete_model", {})
        deployed = serving.deploy(ENDPOINT, MODEL_URL)
        stub.assert_no_pending_responses()
    assert updates[0] == {"EndpointName": ENDPOINT, "EndpointConfigName": deployed.config}
    assert deleted == [{"ModelName": "old"}]


def test_delete_removes_endpoint_config_and_model_and_is_idempotent(aws):
    serving, sagemaker, _ = aws
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", endpoint("InService", "cfg"))
        stub.add_response("delete_endpoint", {})
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint")
        stub.add_response("describe_endpoint_config", config("cfg"))
        stub.add_response("delete_endpoint_config", {})
        stub.add_response("delete_model", {})
        assert serving.delete(ENDPOINT) is True
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint")
        assert serving.delete(ENDPOINT) is False
        stub.assert_no_pending_responses()


def test_batch_transform_scores_every_row_in_order_and_deletes_its_model(aws):
    serving, sagemaker, session = aws
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    jobs, deleted = capture(sagemaker, "CreateTransformJob"), capture(sagemaker, "DeleteModel")
    s3 = session.client("s3")

    def transform_output(**_):  # what SageMaker writes when the job completes
        s3.put_object(Bucket="bucket", Key="rfmkit/serving/20261123-101500/transform/churn/customers.csv.out",
                      Body=b"".join(json.dumps({"churn_probability": p, "churn_label": int(p > .5)}).encode() + b"\n"
                                    for p in (0.1, 0.7, 0.9)))

    with Stubber(sagemaker) as stub:
        stub.add_response("create_model", {"ModelArn": f"{ARN}:model/m"})
        stub.add_response("describe_model", model("m"))
        stub.add_response("create_transform_job", {"TransformJobArn": f"{ARN}:transform-job/t"})
        stub.add_response("describe_transform_job", _transform("InProgress"))
        stub.add_response("describe_transform_job", _transform("Completed"))
        stub.add_response("delete_model", {})
        sagemaker.meta.events.register("after-call.sagemaker.DescribeTransformJob", transform_output)
        scores = serving.score(frame, ["a", "b"], MODEL_URL, label="churn")
    sent = s3.get_object(Bucket="bucket", Key="rfmkit/serving/20261123-101500/batch/churn/customers.csv")
    assert sent["Body"].read() == b"1.0,4.0\n2.0,5.0\n3.0,6.0\n"
    assert list(scores["churn_probability"]) == [0.1, 0.7, 0.9]
    job = jobs[0]
    assert job["TransformInput"]["SplitType"] == "Line" and job["BatchStrategy"] == "MultiRecord"
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"].endswith("/batch/churn")
    assert job["TransformOutput"]["Accept"] == JSONLINES and job["MaxPayloadInMB"] == 6
    assert deleted == [{"ModelName": job["ModelName"]}]


def test_deployer_serves_the_newest_approved_package_and_only_updates_on_change(aws):
    serving, sagemaker, _ = aws
    group = "rfmkit-churn-contact-center"
    registry = SageMakerRegistry(group, sagemaker)
    deployer = SageMakerDeployer(serving, registry)
    assert deployer.endpoints == stage_endpoints(group)
    approved = f"{ARN}:model-package/{group}/2"
    summary = {"ModelPackageArn": approved, "CreationTime": NOW, "ModelPackageStatus": "Completed",
               "ModelApprovalStatus": "Approved"}
    package = {"ModelPackageName": group, "ModelPackageArn": approved, "CreationTime": NOW,
               "ModelPackageStatus": "Completed", "ModelApprovalStatus": "Approved",
               "ModelPackageStatusDetails": {"ValidationStatuses": []},
               "InferenceSpecification": {"Containers": [{"Image": "image", "ModelDataUrl": MODEL_URL}],
                                          "SupportedContentTypes": [CSV],
                                          "SupportedResponseMIMETypes": [CSV]}}
    staging = f"{group}-staging"
    with Stubber(sagemaker) as stub:
        # production: an approved package, already served from the same model.tar.gz → no change
        stub.add_response("list_model_packages", {"ModelPackageSummaryList": [summary]})
        stub.add_response("describe_endpoint", endpoint("InService", "cfg"))
        stub.add_response("describe_endpoint_config", config("cfg"))
        stub.add_response("describe_model", model("cfg"))
        stub.add_response("describe_model_package", package)
        # staging: no pending package passed the gate → the staging endpoint is removed if present
        stub.add_response("list_model_packages", {"ModelPackageSummaryList": []})
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint")
        served = deployer.sync()
        stub.assert_no_pending_responses()
    assert served == {f"{group}-production": approved, staging: None}


def test_missing_settings_are_named(tmp_path):
    with pytest.raises(ConfigError, match="sagemaker_role_arn"):
        sd.SageMakerServing(RunConfig(backend="aws", run_dir=tmp_path / "r",
                                      aws=AwsSettings(region=REGION, bucket="bucket")))


CONTAINER_CHECK = """
import importlib.abc, json, sys
blocked = {"duckdb", "mlflow", "fastapi", "uvicorn", "boto3", "botocore", "sagemaker", "sqlglot",
           "matplotlib", "papermill", "tqdm", "httpx", "treelite", "uvloop", "httptools", "aiohttp"}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not in the scikit-learn container")

sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
import serve_rfmkit as module
assert module.__file__.startswith(sys.argv[1]), module.__file__
answers = {}
for name, folder, body in json.loads(sys.argv[2]):
    model = module.model_fn(folder)
    rows = module.input_fn(body, "text/csv")
    answers[name] = module.output_fn(module.predict_fn(rows, model), "application/json")[0]
print(json.dumps(answers))
"""


def test_the_code_archive_answers_like_the_local_endpoint_without_the_kit_dependencies(tmp_path):
    with tarfile.open(fileobj=io.BytesIO(sd.source_archive())) as archive:
        archive.extractall(tmp_path / "code", filter="data")
    data = contact_center()
    parts = training.split(data, seed=3)
    # boosted trees: without treelite the container scores them with scikit-learn's own loop
    churn = training.tune("gradient_boosting", data, parts, budget=1, folds=3, seed=3).pipeline
    churn_dir = tmp_path / "churn"
    artifact.write_dir(churn, {"columns": list(parts.x_train.columns), "kinds": data.kinds,
                               "threshold": 0.4}, churn_dir)
    points = pd.DataFrame(np.random.default_rng(3).gamma(2.0, size=(60, 3)), columns=["r", "f", "m"])
    features = FeatureTransform(["r", "f", "m"])
    kmeans = KMeansSegmenter(k=3, seed=3, features=features).fit(features.fit_transform(points))
    kmeans_dir = tmp_path / "kmeans"
    kmeans.save(kmeans_dir)
    cases = [("churn", str(churn_dir), parts.x_test.head(5).to_csv(header=False, index=False)),
             ("kmeans", str(kmeans_dir / "model.tar.gz"), points.head(5).to_csv(header=False, index=False))]
    run = subprocess.run([sys.executable, "-c", CONTAINER_CHECK, str(tmp_path / "code"), json.dumps(cases)],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    container = json.loads(run.stdout)
    for name, folder, body in cases:
        local = output_fn(predict_fn(input_fn(body, CSV), model_fn(folder)), "application/json")[0]
        theirs, ours = json.loads(container[name])["predictions"], json.loads(local)["predictions"]
        assert len(ours) == 5
        assert [sorted(p) for p in theirs] == [sorted(p) for p in ours]
        for mine, other in zip(ours, theirs, strict=True):  # treelite locally: equal within 1e-9
            assert mine == pytest.approx(other, rel=0, abs=1e-9)


def _transform(status):
    return {"TransformJobName": "t", "TransformJobArn": f"{ARN}:transform-job/t", "ModelName": "m",
            "TransformJobStatus": status, "CreationTime": NOW,
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/i"}}},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}
