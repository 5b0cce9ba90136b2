"""What notebook 05 calls, the same on both backends.

local: a LocalEndpointServer on 127.0.0.1 (started here, stopped by `shutdown`), models from the
MLflow registry, batch scoring in this process or through the local endpoint.
aws: SageMaker endpoints (scikit-learn container, rfmkit's inference module), models from the
SageMaker Model Registry, batch scoring with Batch Transform or through an endpoint.

The client code is identical: boto3 `sagemaker-runtime` `invoke_endpoint`; for the local server,
`runtime_client` sets AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME so the same call reaches it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from rfmkit.config import ConfigError, RunConfig
from rfmkit.serving.batch import EndpointScorer, InProcessScorer, score_all
from rfmkit.serving.deploy import LocalDeployer, SageMakerDeployer, registered_artifact, stage_endpoints
from rfmkit.serving.inference import ServedModel, model_fn
from rfmkit.serving.server import LocalEndpointServer

BATCH_ROUTES = {"local": ("in-process", "endpoint"), "aws": ("transform", "endpoint")}
LOCAL_REGION = "us-east-1"  # botocore needs a region to build the client; the local server ignores it


SERVER_RECORDS = "serving/local-server-*.json"  # one per local server started for the run


def start(cfg: RunConfig, *, instance_type: str = "ml.m5.large", port: int = 0, boto_session=None):
    """The backend's serving object: a started local server, or SageMaker serving.

    A local server is recorded in the run folder (URL, process, an admin token readable only by
    you) so that notebook 99 can remove its endpoints from another process."""
    if cfg.backend == "local":
        import secrets

        server = LocalEndpointServer(port=port, admin_token=secrets.token_urlsafe(24)).start()
        _record_server(cfg, server)
        return server
    from rfmkit.serving.sagemaker_deploy import SageMakerServing

    return SageMakerServing(cfg, instance_type=instance_type, boto_session=boto_session)


def deployer_for(cfg: RunConfig, serving, registry):
    """Endpoints that follow the registry's production and candidate versions."""
    if cfg.backend == "local":
        return LocalDeployer(serving, registry, stage_endpoints(registry.name))
    return SageMakerDeployer(serving, registry)


def runtime_client(cfg: RunConfig, serving, boto_session=None):
    """A boto3 sagemaker-runtime client; for the local server, the one the environment points at
    it (dummy credentials only when none are configured: the local server does not check them)."""
    import boto3

    if cfg.backend == "aws":
        from rfmkit.sagemaker_jobs import boto_session_for

        return boto_session_for(cfg, boto_session).client("sagemaker-runtime")
    os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = serving.url
    session = boto3.Session(region_name=cfg.aws.region or LOCAL_REGION)
    if session.get_credentials() is None:
        session = boto3.Session(region_name=session.region_name, aws_access_key_id="local",
                                aws_secret_access_key="local")
    return session.client("sagemaker-runtime")


def deploy_file(cfg: RunConfig, serving, endpoint: str, model_tar: Path) -> ServedModel:
    """Serve a model.tar.gz from the run folder (e.g. notebook 03's k-means model) on `endpoint`."""
    model = model_fn(model_tar)
    if cfg.backend == "local":
        serving.deploy(endpoint, model)
    else:
        uri = serving.upload(model_tar, f"models/{endpoint}/model.tar.gz")
        serving.deploy(endpoint, uri)
    return model


def load_registered(cfg: RunConfig, registry, version: str, serving=None) -> tuple[ServedModel, str]:
    """A registered version loaded here (for in-process scoring and its columns), and where its
    model.tar.gz lives (local path or S3 URI)."""
    if cfg.backend == "local":
        path = registered_artifact(registry, version)
        return model_fn(path), str(path)
    uri = registry.model_data_url(version)
    local = cfg.run_dir / "models" / "registered" / f"{registry.group}.tar.gz"
    local.parent.mkdir(parents=True, exist_ok=True)
    bucket, key = uri[5:].split("/", 1)
    serving.s3.download_file(bucket, key, str(local))
    return model_fn(local), uri


def batch_score(cfg: RunConfig, frame: pd.DataFrame, model: ServedModel, model_location: str, *,
                via: str, serving, runtime=None, endpoint: str = "rfmkit-batch-scoring",
                progress: bool = True) -> pd.DataFrame:
    """Predictions for every row of `frame` (which holds the model's columns), in order.

    via: "in-process" (local), "transform" (aws Batch Transform), or "endpoint" (a temporary
    endpoint on either backend, removed afterwards), or "auto" (the first for the backend).
    """
    routes = BATCH_ROUTES[cfg.backend]
    via = routes[0] if via == "auto" else via
    if via not in routes:
        raise ConfigError(f"batch_via={via!r} is not available with backend={cfg.backend!r}; "
                          f"use one of {', '.join(('auto', *routes))}")
    if via == "in-process":
        return score_all(frame, InProcessScorer(model), progress=progress, description="in-process")
    if via == "transform":
        return serving.score(frame, model.columns, model_location, label="churn-scores")
    if cfg.backend == "local":
        serving.deploy(endpoint, model)
    else:
        serving.deploy(endpoint, model_location)
    try:
        return score_all(frame, EndpointScorer(endpoint, model.columns, runtime), progress=progress,
                         description=f"endpoint {endpoint}")
    finally:
        remove(cfg, serving, endpoint)


def remove(cfg: RunConfig, serving, endpoint: str) -> None:
    if cfg.backend == "local":
        serving.endpoints.remove(endpoint)
    else:
        serving.delete(endpoint)


def shutdown(cfg: RunConfig, serving, endpoints: list[str]) -> list[str]:
    """Remove the named endpoints (deleting them on AWS) and stop the local server."""
    for endpoint in endpoints:
        remove(cfg, serving, endpoint)
    if cfg.backend == "local":
        serving.stop()
        server_record(cfg, serving).unlink(missing_ok=True)
    return endpoints


def server_record(cfg: RunConfig, server: LocalEndpointServer) -> Path:
    return cfg.run_dir / SERVER_RECORDS.replace("*", str(server.port))


def _record_server(cfg: RunConfig, server: LocalEndpointServer) -> None:
    import json

    path = server_record(cfg, server)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps({"url": server.url, "pid": os.getpid(), "token": server.admin_token}))
