"""Notebook 03's MLflow run: the chosen k-means model with its parameters, quality metrics and
artefacts, in the workspace's tracking store (shared by every run, so runs can be compared)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rfmkit.config import RunConfig

EXPERIMENT = "rfmkit-segmentation"
SCORES_AT_K = ("silhouette", "calinski_harabasz", "davies_bouldin")


def log_run(cfg: RunConfig, model, *, metrics: pd.DataFrame, recommended_k: int,
            stability: pd.DataFrame, customers: int, train_seconds: float,
            artefacts: dict[Path, str | None],
            figures: Path, tracking_uri: str = "") -> str:
    """Log the model (k, seed, features, where it trained), its scores at the chosen k, the mean
    adjusted Rand index across seeds, and the files (path → artefact folder, None for the top);
    returns a line saying where it went."""
    import mlflow

    from rfmkit import tracking

    uri = tracking.use_experiment(cfg, EXPERIMENT, tracking_uri)
    chosen = metrics.set_index("k").reindex([model.k])
    features = model.features
    with mlflow.start_run(run_name=f"kmeans-k{model.k}-{cfg.run_dir.name}") as run:
        mlflow.log_params({"k": model.k, "seed": model.seed, "n_init": model.n_init,
                           "feature_columns": ",".join(features.columns),
                           "log_columns": ",".join(features.log_columns_) or "none",
                           "customers": customers, "recommended_k": recommended_k,
                           "trained_with": model.trained_with_, **model.info_})
        mlflow.log_metrics({
            "inertia": model.inertia_, "train_seconds": train_seconds,
            "mean_adjusted_rand": float(stability["adjusted_rand_vs_first"][1:].mean()),
            **{f"{name}_at_k": float(chosen[name].iloc[0]) for name in SCORES_AT_K
               if name in chosen and chosen[name].notna().all()}})
        for path, folder in artefacts.items():
            mlflow.log_artifact(str(path), folder)
        mlflow.log_artifacts(str(figures), "figures")
    runs = mlflow.search_runs(experiment_names=[EXPERIMENT])
    return (f"MLflow run {run.info.run_id} in {uri}; {len(runs)} segmentation run(s) in this "
            f"workspace so far")
