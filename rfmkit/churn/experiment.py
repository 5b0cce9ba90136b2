"""One churn experiment around the core (outcome.py): train with the backend's trainer, an MLflow
run with parameters, metrics and artefacts, a registry version behind the quality gate, and the
approval decision. `fit_and_evaluate` and `log_and_register` are what notebooks 04 and 06 call.
"""

from __future__ import annotations

from pathlib import Path

import sklearn

from rfmkit.churn.datasets import ChurnData
from rfmkit.churn.evaluation import Costs
from rfmkit.churn.outcome import (  # noqa: F401 - the core, as notebooks and benchmarks know it
    Outcome,
    model_folder,
    model_name,
    save,
    train_and_evaluate,
)
from rfmkit.churn.registry import ModelRef, Registered

EXPERIMENT = "rfmkit-churn"
# MLflow stores scikit-learn models with skops, which refuses types it cannot audit. These are the
# ones our pipelines contain (reviewed: our own freshly trained models, never a downloaded file).
SKOPS_TRUSTED_TYPES = ["numpy.dtype",
                       "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
                       "sklearn.calibration._CalibratedClassifier",
                       "sklearn.calibration._SigmoidCalibration",
                       "sklearn.model_selection._split.StratifiedKFold"]


class LocalChurnTrainer:
    """Trains in this process with scikit-learn (the local backend's churn trainer)."""

    def fit_and_evaluate(self, data: ChurnData, costs: Costs, *, budget: int = 6, folds: int = 5,
                         seed: int = 42, progress=print, folder: Path, explain: bool = True,
                         settings: dict[str, dict] | None = None) -> Outcome:
        outcome = train_and_evaluate(data, costs, budget=budget, folds=folds, seed=seed,
                                     progress=progress, explain=explain, settings=settings)
        return save(outcome, folder)

    def model_ref(self, outcome: Outcome, tracked_uri: str) -> ModelRef:
        """The MLflow registry registers the logged model itself."""
        return ModelRef(tracked_uri=tracked_uri)


def fit_and_evaluate(data: ChurnData, backend, costs: Costs, *, budget: int = 6, folds: int = 5,
                     seed: int = 42, progress=print, folder: Path | None = None,
                     explain: bool = True, settings: dict[str, dict] | None = None) -> Outcome:
    """Train with the backend's churn trainer (scikit-learn here, or a SageMaker job); the same
    Outcome either way. Files go to `folder` (default: the run's models/churn-<data>).
    explain=False skips the permutation importance (a challenger nobody plots). `settings`
    ({model: parameters}, e.g. `recipe(metadata)`) fits those instead of searching."""
    return backend.churn_trainer().fit_and_evaluate(
        data, costs, budget=budget, folds=folds, seed=seed, progress=progress,
        folder=folder or model_folder(backend.cfg, data), explain=explain, settings=settings)


def recipe(metadata: dict) -> dict[str, dict]:
    """A registered model's own settings, {model: parameters}: what a retraining on new rows
    reuses instead of searching again (the search is the expensive part; its choice stays)."""
    chosen = metadata["model"]
    return {chosen: _settings_of(metadata, chosen)}


def runner_up(metadata: dict) -> dict[str, dict] | None:
    """The settings a registered model's search found for the model it did not choose: a
    challenger that differs from production without a search of its own. None when the model
    records no other candidate (it was itself trained with given settings): then search."""
    others = [c for c in metadata.get("candidates", []) if c["model"] != metadata["model"]]
    return {others[0]["model"]: dict(others[0]["best_params"])} if others else None


def production_recipe(registry) -> dict[str, dict] | None:
    """`recipe` of the registry's production version; None when nothing is in production or its
    metadata records no settings (then a retraining searches)."""
    import tempfile

    from rfmkit.churn import artifact
    from rfmkit.churn.registry import PRODUCTION

    version = registry.alias(PRODUCTION)
    if version is None:
        return None
    with tempfile.TemporaryDirectory(prefix="rfmkit-recipe-") as folder:
        _, metadata = artifact.load(registry.download(version, Path(folder)))
    try:
        return recipe(metadata)
    except (KeyError, ValueError):
        return None


def _settings_of(metadata: dict, name: str) -> dict:
    for candidate in metadata.get("candidates", []):
        if candidate["model"] == name:
            return dict(candidate["best_params"])
    raise ValueError(f"{metadata.get('name', 'the model')} records no settings for {name}")


def log_and_register(outcome: Outcome, backend, *, min_auc: float, seed: int, costs: Costs,
                     figures: list[Path] = (), tracking_uri: str = "") -> Outcome:
    """An MLflow run with parameters, metrics and artefacts, and a new version in the backend's
    registry."""
    import mlflow

    from rfmkit import tracking

    cfg = backend.cfg
    tracking.use_experiment(cfg, EXPERIMENT, tracking_uri)
    result, best, data = outcome.evaluation, outcome.best, outcome.data
    with mlflow.start_run(run_name=f"{data.name}-{best.name}-{cfg.run_dir.name}") as run:
        mlflow.log_params({"data": data.name, "model": best.name, "seed": seed,
                           "rows": len(data.label), "features": len(data.kinds),
                           "cost_missed_churner": costs.missed_churner,
                           "cost_intervention": costs.intervention, "min_auc": min_auc,
                           **{f"hp_{k}": v for k, v in best.best_params.items()}})
        mlflow.log_metrics({"roc_auc": result.roc_auc, "pr_auc": result.pr_auc,
                            "cv_auc_mean": best.cv_auc_mean, "cv_auc_std": best.cv_auc_std,
                            "threshold": result.threshold, "expected_cost": result.expected_cost,
                            "base_rate": result.base_rate,
                            **({"brier": result.brier} if result.brier is not None else {})})
        mlflow.log_artifact(str(outcome.evaluation_path))
        mlflow.log_artifact(str(outcome.artifact_path), "sagemaker")
        for figure in figures:
            mlflow.log_artifact(str(figure), "figures")
        example = outcome.parts.x_test.head(3)
        signature = mlflow.models.infer_signature(example, best.pipeline.predict_proba(example))
        logged = mlflow.sklearn.log_model(best.pipeline, name="model", signature=signature,
                                          pyfunc_predict_fn="predict_proba",
                                          pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
                                          skops_trusted_types=SKOPS_TRUSTED_TYPES)
    outcome.run_id = run.info.run_id
    reference = backend.churn_trainer().model_ref(outcome, logged.model_uri)
    outcome.registered = registry_for(backend, data, tracking_uri).register(
        reference, roc_auc=result.roc_auc, min_auc=min_auc)
    return outcome


BUILT_IN = ("contact_center", "transactions")  # the data sets a notebook can rebuild by name


def check_built_in(source: str) -> str:
    """Notebook 06 serves models of the built-in data sets (it rebuilds their rows by name)."""
    if source not in BUILT_IN:
        from rfmkit.config import ConfigError

        raise ConfigError(f"churn_data={source!r}: this notebook serves {' or '.join(map(repr, BUILT_IN))}")
    return source


def load_data(source: str, warehouse, *, cutoff_date: str = "", horizon_days: int = 180,
              label_column: str = "Churn", positive_label: str = "", id_columns=(),
              drop_columns=(), progress=print) -> ChurnData:
    """Notebooks 04 and 06's `churn_data` parameter: "contact_center" (the shipped file),
    "transactions" (labels from the warehouse: no purchase within `horizon_days` after the
    cutoff), or the path of any labelled CSV."""
    from rfmkit.churn.datasets import contact_center, read_labelled_csv
    from rfmkit.churn.transaction_labels import choose_window, transaction_dataset

    if source == "contact_center":
        return contact_center()
    if source == "transactions":
        window = choose_window(warehouse, cutoff_date, int(horizon_days))
        progress(f"transaction labels: {window}")
        return transaction_dataset(warehouse, window)
    return read_labelled_csv(source, label_column, positive_label=positive_label or None,
                             id_columns=list(id_columns), drop_columns=list(drop_columns))


def transaction_churn(warehouse, backend, costs: Costs, *, cutoff_date: str, horizon_days: int,
                      drop_leaks: bool, min_auc: float, budget: int, folds: int, seed: int,
                      tracking_uri: str = "", progress=print) -> Outcome:
    """Notebook 04 section 6: churn labels from the warehouse's transactions, trained, evaluated,
    figure saved, logged and registered (approval stays the caller's decision)."""
    from rfmkit import plots
    from rfmkit.churn.leakage import guard
    from rfmkit.churn.transaction_labels import choose_window, transaction_dataset

    window = choose_window(warehouse, cutoff_date, horizon_days)
    progress(f"transaction labels: {window}")
    data = transaction_dataset(warehouse, window)
    guard(data, drop=drop_leaks)
    outcome = fit_and_evaluate(data, backend, costs, budget=budget, folds=folds, seed=seed,
                               progress=progress)
    figure = plots.save_figure(plots.churn_evaluation(outcome.evaluation, outcome.importance),
                               backend.cfg.run_dir / "figures", "04_evaluation_transactions")
    log_and_register(outcome, backend, min_auc=min_auc, seed=seed, costs=costs, figures=[figure],
                     tracking_uri=tracking_uri)
    progress(str(outcome.registered))
    return outcome


def approve_if_candidate(registry, registered: Registered, *, approve: bool, min_auc: float) -> str:
    """The approval decision (a person's call in a real team, `approve_candidate` in notebook 04):
    a version that passed the quality gate becomes production when approved; says what happened."""
    if not approve:
        return (f"not approved (approve_candidate=False); production stays "
                f"{registry.alias('production')}")
    if not registered.passed_gate:
        return f"version {registered.version} is below the gate (ROC-AUC < {min_auc}): not approved"
    registry.approve(registered.version)
    return (f"{registered.name}: production = version {registry.alias('production')}, "
            f"previous-production = {registry.alias('previous-production')}")


def registry_for(backend, data: ChurnData | str, tracking_uri: str = ""):
    """The backend's registry for a data set (or its name)."""
    return backend.registry(model_name(data) if isinstance(data, ChurnData)
                            else f"rfmkit-churn-{data}", tracking_uri)
