"""Training: a logistic-regression baseline and gradient boosting, tuned within a budget.

Everything is a scikit-learn Pipeline (preparation + model), so the fitted object carries its own
preprocessing to serving. Hyperparameters are searched with RandomizedSearchCV (`budget` candidates
each) on stratified folds, scored by ROC-AUC from probabilities; every random choice is seeded.

Three choices keep the numbers honest:
* No class weights. `class_weight="balanced"` turns probabilities into scores (when churners are the
  majority it pushes them down, and a cost-optimal threshold then lands near 0). Imbalance is
  handled by the threshold, which is chosen from costs on calibrated probabilities.
* The simpler model wins unless the other is better by more than one standard error of the
  cross-validated AUC (a difference inside the noise is no reason for a more complex model).
* The chosen model is calibrated (Platt scaling on cross-validated predictions of the training
  part), and the threshold is chosen on *out-of-fold* calibrated probabilities of the training
  part; the hold-out is only used to report.

A retraining or a challenger can reuse settings a search already found (`train_all(settings=...)`):
each model is then cross-validated once with those settings and fitted once, and its out-of-fold
predictions serve both its CV AUC and its calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV, _CalibratedClassifier, _SigmoidCalibration
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    RandomizedSearchCV,
    StratifiedKFold,
    cross_val_predict,
    train_test_split,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rfmkit.churn.datasets import ChurnData, ChurnDataError

# Processes for searches and cross-validation: every core. Each fit then runs one OpenMP thread
# (joblib caps it), which on small data is faster than one fit using every core: a search on the
# contact-center data took 17 s with one process and 12 s with two, with the same results.
JOBS = -1
# Except where fits are short: five logistic-regression folds and the final fit on the
# contact-center data take 0.3-0.4 s in the process, and a worker pool costs 1-2 s of each core to
# start (measured 5.7 s cold, 0.7 s warm, for the same fits); notebook 06's challenger, when it is
# the logistic regression, needs none.
IN_PROCESS = frozenset({"logistic_regression"})

# In order of simplicity: the one-standard-error rule prefers the earlier one.
MODELS = ("logistic_regression", "gradient_boosting")


def jobs_for(name: str) -> int | None:
    """joblib's n_jobs for cross-validating model `name` outside a search."""
    return None if name in IN_PROCESS else JOBS


@dataclass
class Split:
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


@dataclass
class Candidate:
    name: str
    pipeline: Pipeline
    cv_auc_mean: float
    cv_auc_std: float
    best_params: dict
    search: pd.DataFrame
    folds: int = 5
    # out-of-fold decision values of the training part (fixed settings: kept for calibration)
    oof_decision: np.ndarray | None = None

    @property
    def cv_auc_se(self) -> float:
        """Standard error of the mean CV AUC (fold-to-fold sd / sqrt(folds))."""
        return self.cv_auc_std / np.sqrt(self.folds)


@dataclass
class Choice:
    """Which model was chosen and why (the one-standard-error rule, stated)."""

    chosen: Candidate
    best_scoring: Candidate
    reason: str


@dataclass
class Calibrated:
    """The chosen model calibrated, and its out-of-fold probabilities on the training part."""

    pipeline: Pipeline
    oof_probability: np.ndarray       # calibrated: what the threshold is chosen on
    oof_uncalibrated: np.ndarray      # the same predictions before calibration


def split(data: ChurnData, *, test_size: float = 0.25, seed: int = 42) -> Split:
    """A stratified hold-out: the test rows are never seen by tuning or model choice."""
    x_train, x_test, y_train, y_test = train_test_split(
        data.features, data.label, test_size=test_size, stratify=data.label, random_state=seed)
    return Split(x_train, x_test, y_train, y_test)


def preprocessor(kinds: dict[str, str]) -> ColumnTransformer:
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    boolean = [c for c, k in kinds.items() if k == "boolean"]
    categorical = [c for c, k in kinds.items() if k == "categorical"]
    return ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("boolean", SimpleImputer(strategy="most_frequent"), boolean),
        ("categorical", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(missing)"),
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10,
                          sparse_output=False)), categorical),
    ], verbose_feature_names_out=False)


def model_space(name: str, seed: int):
    if name == "logistic_regression":
        return (LogisticRegression(max_iter=5000),
                {"model__C": loguniform(1e-3, 1e2)})
    if name == "gradient_boosting":
        # Early stopping on a seeded 10 % validation split: trees stop being added once the
        # validation loss stalls, which keeps the search fast without capping the model.
        return (HistGradientBoostingClassifier(random_state=seed,
                                               early_stopping=True, validation_fraction=0.1,
                                               n_iter_no_change=10, max_iter=300),
                {"model__learning_rate": loguniform(0.03, 0.3),
                 "model__max_leaf_nodes": [7, 15, 31],
                 "model__min_samples_leaf": [10, 20, 50],
                 "model__l2_regularization": loguniform(1e-3, 10.0)})
    raise ValueError(f"unknown model {name!r}; choose from {MODELS}")


def tune(name: str, data: ChurnData, parts: Split, *, budget: int = 8, folds: int = 5,
         seed: int = 42) -> Candidate:
    """Randomised search over `budget` settings, stratified `folds`-fold CV, ROC-AUC."""
    model, space = model_space(name, seed)
    pipeline = Pipeline([("prepare", preprocessor(data.kinds)), ("model", model)])
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    search = RandomizedSearchCV(pipeline, space, n_iter=budget, scoring="roc_auc", cv=cv,
                                random_state=seed, n_jobs=JOBS, refit=True)
    search.fit(parts.x_train, parts.y_train)
    best = search.best_index_
    results = pd.DataFrame(search.cv_results_)
    return Candidate(name, search.best_estimator_,
                     float(results.loc[best, "mean_test_score"]),
                     float(results.loc[best, "std_test_score"]),
                     {k.removeprefix("model__"): _plain(v) for k, v in search.best_params_.items()},
                     results[["params", "mean_test_score", "std_test_score", "rank_test_score"]],
                     folds=folds)


def fixed(name: str, params: dict, data: ChurnData, parts: Split, *, folds: int = 5,
          seed: int = 42) -> Candidate:
    """One model with settings chosen before (a search's best_params): cross-validated on the same
    stratified folds a search uses, so its CV AUC is the one a search would report for these
    settings, then fitted on the whole training part. `folds` + 1 fits instead of a search."""
    model, _ = model_space(name, seed)
    pipeline = Pipeline([("prepare", preprocessor(data.kinds)), ("model", model)])
    pipeline.set_params(**{f"model__{k}": v for k, v in params.items()})
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    y = parts.y_train.to_numpy()
    decision = cross_val_predict(clone(pipeline), parts.x_train, y, cv=cv,
                                 method="decision_function", n_jobs=jobs_for(name))
    scores = np.array([roc_auc_score(y[test], decision[test])
                       for _, test in cv.split(parts.x_train, y)])
    pipeline.fit(parts.x_train, y)
    mean, std = float(scores.mean()), float(scores.std())
    search = pd.DataFrame([{"params": {f"model__{k}": v for k, v in params.items()},
                            "mean_test_score": mean, "std_test_score": std, "rank_test_score": 1}])
    return Candidate(name, pipeline, mean, std, {k: _plain(v) for k, v in params.items()}, search,
                     folds=folds, oof_decision=decision)


def train_all(data: ChurnData, parts: Split, *, models=MODELS, budget: int = 8, folds: int = 5,
              seed: int = 42, progress=print, settings: dict[str, dict] | None = None
              ) -> list[Candidate]:
    """Every model in `models` tuned by a search of `budget` settings; or, with `settings`
    ({model name: its parameters}, in order of simplicity), each of those models with its given
    settings and no search."""
    minority = int(parts.y_train.value_counts().min())
    if minority < folds:
        raise ChurnDataError(f"{data.name}: only {minority} training customer(s) in the rarer class; "
                             f"parameter cv_folds={folds} needs at least one per fold (use more data, "
                             f"another window, or fewer folds)")
    candidates = []
    if settings:
        unknown = set(settings) - set(MODELS)
        if unknown:
            raise ValueError(f"settings for unknown model(s) {sorted(unknown)}; choose from {MODELS}")
        for name in (m for m in MODELS if m in settings):
            candidate = fixed(name, settings[name], data, parts, folds=folds, seed=seed)
            progress(f"{name}: cross-validated ROC-AUC {candidate.cv_auc_mean:.3f} "
                     f"± {candidate.cv_auc_std:.3f} (settings given, {folds} folds, no search)")
            candidates.append(candidate)
        return candidates
    for name in models:
        candidate = tune(name, data, parts, budget=budget, folds=folds, seed=seed)
        progress(f"{name}: cross-validated ROC-AUC {candidate.cv_auc_mean:.3f} "
                 f"± {candidate.cv_auc_std:.3f} ({budget} settings × {folds} folds)")
        candidates.append(candidate)
    return candidates


def best_of(candidates: list[Candidate]) -> Candidate:
    """The chosen candidate under the one-standard-error rule (see `choose`)."""
    return choose(candidates).chosen


def choose(candidates: list[Candidate]) -> Choice:
    """The simplest candidate whose CV AUC is within one standard error of the best one.

    Candidates come in order of simplicity (MODELS). Chosen on cross-validated AUC only: the
    hold-out stays untouched until evaluation."""
    top = max(candidates, key=lambda c: c.cv_auc_mean)
    if len(candidates) == 1:
        return Choice(top, top, f"{top.name} is the only model trained (cross-validated ROC-AUC "
                                f"{top.cv_auc_mean:.4f})")
    floor = top.cv_auc_mean - top.cv_auc_se
    chosen = next(c for c in candidates if c.cv_auc_mean >= floor)
    if chosen is top:
        others = [c for c in candidates if c is not top]
        reason = (f"{top.name} has the best cross-validated ROC-AUC ({top.cv_auc_mean:.4f}) and "
                  + ("no simpler model is within one standard error "
                     f"({top.cv_auc_se:.4f}) of it" if others and candidates[0] is not top
                     else "is also the simplest"))
    else:
        reason = (f"{chosen.name} ({chosen.cv_auc_mean:.4f}) is within one standard error "
                  f"({top.cv_auc_se:.4f}) of {top.name} ({top.cv_auc_mean:.4f}): the difference is "
                  f"inside the noise, so the simpler model is chosen")
    return Choice(chosen, top, reason)


def calibrate(candidate: Candidate, parts: Split, *, folds: int = 5, seed: int = 42) -> Calibrated:
    """Platt scaling (sigmoid) fitted on out-of-fold decision values of the training part, around
    the candidate's model as it was fitted on the whole training part: what CalibratedClassifierCV
    (ensemble=False) builds, without fitting the model again. Each training row is scored by a
    whole pipeline (preparation included) that did not see it, on the search's folds; the same
    out-of-fold values, calibrated, are what the threshold is chosen on."""
    decision = candidate.oof_decision
    if decision is None:
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        decision = cross_val_predict(clone(candidate.pipeline), parts.x_train, parts.y_train, cv=cv,
                                     method="decision_function", n_jobs=jobs_for(candidate.name))
    prepare, model = candidate.pipeline.steps[0][1], candidate.pipeline.steps[-1][1]
    calibrated = Pipeline([("prepare", prepare),
                           ("model", platt_scaled(model, decision, parts.y_train.to_numpy()))])
    sigmoid = calibrated.named_steps["model"].calibrated_classifiers_[0].calibrators[0]
    return Calibrated(calibrated, np.clip(sigmoid.predict(decision), 0.0, 1.0),
                      1.0 / (1.0 + np.exp(-decision)))


def platt_scaled(fitted_model, decision: np.ndarray, y: np.ndarray) -> CalibratedClassifierCV:
    """The CalibratedClassifierCV(method="sigmoid", ensemble=False) that scikit-learn would fit
    around `fitted_model` given these out-of-fold decision values: the same fitted attributes
    (serving, the row predictor and skops know this shape), built from scikit-learn's own sigmoid
    calibrator. tests/test_churn.py checks it against CalibratedClassifierCV.fit."""
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(f"Platt scaling needs two classes, got {len(classes)}")
    sigmoid = _SigmoidCalibration().fit(np.asarray(decision, dtype=float), (y == classes[1]).astype(int))
    calibrated = CalibratedClassifierCV(clone(fitted_model), method="sigmoid", ensemble=False)
    calibrated.classes_ = fitted_model.classes_
    calibrated.calibrated_classifiers_ = [
        _CalibratedClassifier(fitted_model, [sigmoid], classes=fitted_model.classes_, method="sigmoid")]
    for attribute in ("n_features_in_", "feature_names_in_"):
        if hasattr(fitted_model, attribute):
            setattr(calibrated, attribute, getattr(fitted_model, attribute))
    return calibrated


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
