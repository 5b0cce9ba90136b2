"""Deployment follows the registry: candidate → staging, approved → production, rollback restores."""

import json
import urllib.request

import mlflow
import pytest

from rfmkit import tracking
from rfmkit.churn import artifact, training
from rfmkit.churn.datasets import contact_center
from rfmkit.churn.registry import MlflowRegistry, ModelRef
from rfmkit.config import RunConfig
from rfmkit.serving.deploy import LocalDeployer
from rfmkit.serving.server import LocalEndpointServer


@pytest.fixture
def registry(tmp_path):
    tracking.use_experiment(RunConfig(run_dir=tmp_path / "runs" / "r"), "rfmkit-test-deploy")
    return MlflowRegistry("rfmkit-test-deployed")


def register(registry, data, parts, threshold, tmp_path, auc=0.9):
    candidate = training.tune("logistic_regression", data, parts, budget=1, folds=3, seed=1)
    folder = tmp_path / f"model-{threshold}"
    path = artifact.save(candidate.pipeline, {"columns": list(parts.x_train.columns), "kinds": data.kinds,
                                              "threshold": threshold}, folder)
    with mlflow.start_run():
        mlflow.log_artifact(str(path), "sagemaker")
        info = mlflow.sklearn.log_model(candidate.pipeline, name="model", pip_requirements=["scikit-learn"],
                                        skops_trusted_types=["numpy.dtype"])  # no pip inference (10 s)
    return registry.register(ModelRef(tracked_uri=info.model_uri), roc_auc=auc, min_auc=0.7)


def ask(url, rows):
    body = json.dumps({"instances": json.loads(rows.to_json(orient="records"))}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_only_approved_versions_reach_production(registry, tmp_path):
    data = contact_center()
    parts = training.split(data, seed=1)
    rows = parts.x_test.head(3)
    first = register(registry, data, parts, threshold=0.0, tmp_path=tmp_path)   # labels all 1
    with LocalEndpointServer() as server:
        deployer = LocalDeployer(server, registry)
        assert deployer.sync() == {"production": None, "staging": first.version}
        assert ask(f"{server.url}/endpoints/staging/invocations", rows)[0] == 200
        status, body = ask(f"{server.url}/endpoints/production/invocations", rows)
        assert status == 400 and "production not found" in body["message"]  # nothing approved yet
        # once the candidate is live, staging has nothing new to serve
        assert deployer.promote(first.version) == {"production": first.version, "staging": None}
        assert ask(f"{server.url}/endpoints/staging/invocations", rows)[0] == 400
        second = register(registry, data, parts, threshold=1.1, tmp_path=tmp_path)  # labels all 0
        assert deployer.sync() == {"production": first.version, "staging": second.version}

        def labels(endpoint):
            answer = ask(f"{server.url}/endpoints/{endpoint}/invocations", rows)[1]
            return [p["churn_label"] for p in answer["predictions"]]

        assert labels("production") == [1, 1, 1] and labels("staging") == [0, 0, 0]
        deployer.promote(second.version)
        assert labels("production") == [0, 0, 0]
        assert deployer.rollback()["production"] == first.version
        assert labels("production") == [1, 1, 1]
