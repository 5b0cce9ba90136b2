"""What notebook 05 does with endpoints, written once against the Serving protocol
(`LocalEndpointServer` and `SageMakerServing` both follow it; the backend object hands one out).

The client code is identical on both backends: boto3 `sagemaker-runtime` `invoke_endpoint`; the
local backend's runtime client is built with an explicit `endpoint_url`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from rfmkit.config import ConfigError
from rfmkit.serving.batch import EndpointScorer, InProcessScorer, score_all
from rfmkit.serving.inference import ServedModel, model_fn

SERVER_RECORDS = "serving/local-server-*.json"  # one per local server started for a run
LOCAL_REGION = "us-east-1"  # botocore needs a region to build a client; the local server ignores it


def load_registered(registry, version: str, folder: Path | None = None) -> tuple[ServedModel, str]:
    """A registered version loaded here (for in-process scoring and its columns), and where its
    model.tar.gz lives for an endpoint (a local path, or an S3 URI)."""
    return model_fn(registry.download(version, folder)), registry.model_location(version)


def batch_score(frame: pd.DataFrame, model: ServedModel, model_location: str, *, via: str,
                routes: tuple[str, ...], serving, runtime=None,
                endpoint: str = "rfmkit-batch-scoring", progress: bool = True) -> pd.DataFrame:
    """Predictions for every row of `frame` (which holds the model's columns), in order.

    via: "in-process" (in this process), "transform" (SageMaker Batch Transform), "endpoint" (a
    temporary endpoint, removed afterwards), or "auto" (the backend's first route). `routes` are
    the ones the backend offers (`backend.batch_routes`).
    """
    via = routes[0] if via == "auto" else via
    if via not in routes:
        raise ConfigError(f"batch_via={via!r} is not available on this backend; use one of "
                          f"{', '.join(('auto', *routes))}")
    if via == "in-process":
        return score_all(frame, InProcessScorer(model), progress=progress, description="in-process")
    if via == "transform":
        return serving.score(frame, model.columns, model_location, label="churn-scores")
    serving.serve(endpoint, model, model_location)
    try:
        return score_all(frame, EndpointScorer(endpoint, model.columns, runtime), progress=progress,
                         description=f"endpoint {endpoint}")
    finally:
        serving.remove(endpoint)


def shutdown(serving, endpoints: list[str]) -> list[str]:
    """Remove the named endpoints (deleting them on AWS) and stop serving."""
    for endpoint in endpoints:
        serving.remove(endpoint)
    serving.close()
    return endpoints


def record_server(run_dir: Path, server) -> Path:
    """Note a started local server in the run folder (URL, process, an admin token readable only
    by you), so that notebook 99 can remove its endpoints from another process."""
    path = run_dir / SERVER_RECORDS.replace("*", str(server.port))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps({"url": server.url, "pid": os.getpid(), "token": server.admin_token}))
    server.record = path
    return path


def runtime_client_for(url: str, region: str | None = None):
    """A boto3 sagemaker-runtime client that talks to a local server at `url` (dummy credentials
    only when none are configured: the local server does not check them)."""
    import boto3

    session = boto3.Session(region_name=region or LOCAL_REGION)
    if session.get_credentials() is None:
        session = boto3.Session(region_name=session.region_name, aws_access_key_id="local",
                                aws_secret_access_key="local")
    return session.client("sagemaker-runtime", endpoint_url=url)
