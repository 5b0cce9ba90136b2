"""What notebook 06 does with endpoints, written once against the Serving protocol
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


class BatchScorer:
    """Scores every row of a frame by one of the backend's routes (what `backend.batch_scorer`
    hands out): the same `score` call on both backends."""

    def __init__(self, routes: tuple[str, ...], serving, runtime=None):
        self.routes, self.serving, self.runtime = routes, serving, runtime

    def score(self, frame: pd.DataFrame, model: ServedModel, model_location: str, *,
              via: str = "auto", progress: bool = True) -> pd.DataFrame:
        return batch_score(frame, model, model_location, via=via, routes=self.routes,
                           serving=self.serving, runtime=self.runtime, progress=progress)


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


def serve_registered(deployer, registry) -> tuple[pd.DataFrame, ServedModel, str]:
    """Endpoints follow the registry (production and staging); returns what each serves, and the
    production model loaded here with where its file lives."""
    from rfmkit.churn.registry import PRODUCTION

    served = deployer.sync()
    production = served[deployer.endpoints[PRODUCTION]]
    if production is None:
        raise RuntimeError(f"{registry.name} has no approved version: run notebook 04 with "
                           f"approve_candidate=True first")
    model, location = load_registered(registry, production)
    return served_table(served), model, location


def served_table(served: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame([{"endpoint": name, "serves version": version or "(nothing)"}
                         for name, version in served.items()])


def compare_endpoints(runtime, first: str, second: str, frame: pd.DataFrame) -> str:
    """The same rows through two endpoints: how often they decide alike, how far apart the
    probabilities are."""
    from rfmkit.serving.batch import csv_body

    answers = []
    for name in (first, second):
        body = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv",
                                       Accept="application/json", Body=csv_body(frame))["Body"].read()
        answers.append(pd.DataFrame(json.loads(body)["predictions"]))
    agree = (answers[0]["churn_label"] == answers[1]["churn_label"]).mean()
    gap = (answers[0]["churn_probability"] - answers[1]["churn_probability"]).abs().mean()
    return (f"On {len(frame):,} held-out customers, {second} and {first} give the same decision for "
            f"**{agree:.1%}**; mean probability difference {gap:.3f}.")


def serve_segments(serving, model_file: Path, endpoint: str) -> tuple[ServedModel | None, str]:
    """Notebook 03's k-means model on its own endpoint, when notebook 03 has saved one."""
    if not Path(model_file).exists():
        return None, (f"{endpoint}: not deployed (no k-means model in {Path(model_file).parent}: "
                      f"run notebook 03)")
    return serving.serve_file(endpoint, model_file), f"{endpoint}: k-means from {model_file}"


def compare_with_warehouse(runtime, warehouse, endpoint: str, model: ServedModel, rows: int = 5
                           ) -> pd.DataFrame:
    """A few customers' RFM values sent to the k-means endpoint, next to the cluster notebook 03
    wrote for them: the two must agree (raises if not)."""
    from rfmkit.serving.batch import csv_body
    from rfmkit.serving.traffic import invoke
    from rfmkit.warehouse.dialect import quote_ident

    columns = ", ".join(f"s.{quote_ident(c)}" for c in model.columns)
    customers = warehouse.query(
        f"SELECT s.customer_id, {columns}, c.cluster FROM rfm_scores AS s "
        f"JOIN customer_segments AS c ON c.customer_id = s.customer_id "
        f"ORDER BY s.customer_id LIMIT {int(rows)}")
    answer = json.loads(invoke(runtime, endpoint, csv_body(customers[model.columns])))
    customers["endpoint_cluster"] = [p["closest_cluster"] for p in answer["predictions"]]
    if not (customers["endpoint_cluster"] == customers["cluster"]).all():
        raise AssertionError(f"{endpoint} and notebook 03 disagree on a customer's cluster")
    return customers


def promotion_demo(deployer, runtime, endpoint: str, body: bytes, version: str,
                   rate: float = 50.0) -> dict:
    """Promote `version` and roll it back while a client sends `rate` requests a second. The
    registry is held meanwhile (other runs wait) and every alias is restored on leaving."""
    import time

    from rfmkit.serving.traffic import Traffic

    with deployer.exclusive() as before, Traffic(runtime, endpoint, body, rate=rate) as traffic:
        time.sleep(0.5)
        promoted = deployer.promote(version)[endpoint]
        time.sleep(0.5)
        rolled_back = deployer.rollback()[endpoint]
        time.sleep(0.5)
    if traffic.failures:
        raise AssertionError(f"requests failed during the switch: {traffic.failures[:3]}")
    if rolled_back != before:
        raise AssertionError(f"rollback served version {rolled_back}, not {before}")
    return {"before": before, "promoted": promoted, "rolled_back": rolled_back, "traffic": traffic}
