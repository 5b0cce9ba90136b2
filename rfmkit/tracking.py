"""MLflow tracking for every model the kit trains (segmentation, churn).

One local store per workspace: a SQLite database and an artifact folder beside the run folders
(runs/mlflow.db, runs/mlartifacts), so runs and registered versions accumulate across
`rfmkit run`s and JupyterLab sessions. A `tracking_uri` parameter points elsewhere (a team
server, SageMaker managed MLflow).
"""

from __future__ import annotations

import logging
from pathlib import Path

from rfmkit.config import RunConfig

DB_NAME = "mlflow.db"
ARTIFACTS = "mlartifacts"


def workspace(cfg: RunConfig) -> Path:
    """The folder that holds this run's folder and its siblings (normally runs/)."""
    return cfg.run_dir.parent


def tracking_uri(cfg: RunConfig, override: str = "") -> str:
    return override or f"sqlite:///{workspace(cfg) / DB_NAME}"


def use_store(cfg: RunConfig, override_uri: str = "") -> str:
    """Point MLflow (runs and registry) at the workspace store; returns the URI."""
    import mlflow

    # Alembic logs every schema migration at INFO when the SQLite store is first created, MLflow
    # says "Creating initial MLflow database tables..." and every artifact download draws a
    # progress bar: all noise in a notebook. Warnings still show.
    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    uri = tracking_uri(cfg, override_uri)
    mlflow.set_tracking_uri(uri)
    return uri


def use_experiment(cfg: RunConfig, name: str, override_uri: str = "") -> str:
    """Point MLflow at the workspace store and select (or create) `name`; returns the URI."""
    import mlflow

    uri = use_store(cfg, override_uri)
    if mlflow.get_experiment_by_name(name) is None:
        location = None
        if uri.startswith("sqlite:///"):  # keep artifacts beside the database, not in ./mlruns
            location = (workspace(cfg) / ARTIFACTS / name).resolve().as_uri()
        mlflow.create_experiment(name, artifact_location=location)
    mlflow.set_experiment(name)
    return uri
