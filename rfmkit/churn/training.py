"""Training: a logistic-regression baseline and gradient boosting, tuned within a budget.

Everything is a scikit-learn Pipeline (preparation + model), so the fitted object carries its own
preprocessing to serving. Class imbalance is handled with class_weight="balanced" (no resampling:
probabilities stay comparable and the threshold is chosen from costs later). Hyperparameters are
searched with RandomizedSearchCV (`budget` candidates each) on stratified folds, scored by ROC-AUC
from probabilities; every random choice is seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import loguniform
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rfmkit.churn.datasets import ChurnData, ChurnDataError

MODELS = ("logistic_regression", "gradient_boosting")


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
        return (LogisticRegression(class_weight="balanced", max_iter=5000),
                {"model__C": loguniform(1e-3, 1e2)})
    if name == "gradient_boosting":
        # Early stopping on a seeded 10 % validation split: trees stop being added once the
        # validation loss stalls, which keeps the search fast without capping the model.
        return (HistGradientBoostingClassifier(class_weight="balanced", random_state=seed,
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
                                random_state=seed, n_jobs=1, refit=True)
    search.fit(parts.x_train, parts.y_train)
    best = search.best_index_
    results = pd.DataFrame(search.cv_results_)
    return Candidate(name, search.best_estimator_,
                     float(results.loc[best, "mean_test_score"]),
                     float(results.loc[best, "std_test_score"]),
                     {k.removeprefix("model__"): _plain(v) for k, v in search.best_params_.items()},
                     results[["params", "mean_test_score", "std_test_score", "rank_test_score"]])


def train_all(data: ChurnData, parts: Split, *, models=MODELS, budget: int = 8, folds: int = 5,
              seed: int = 42, progress=print) -> list[Candidate]:
    minority = int(parts.y_train.value_counts().min())
    if minority < folds:
        raise ChurnDataError(f"{data.name}: only {minority} training customer(s) in the rarer class; "
                             f"parameter cv_folds={folds} needs at least one per fold (use more data, "
                             f"another window, or fewer folds)")
    candidates = []
    for name in models:
        candidate = tune(name, data, parts, budget=budget, folds=folds, seed=seed)
        progress(f"{name}: cross-validated ROC-AUC {candidate.cv_auc_mean:.3f} "
                 f"± {candidate.cv_auc_std:.3f} ({budget} settings × {folds} folds)")
        candidates.append(candidate)
    return candidates


def best_of(candidates: list[Candidate]) -> Candidate:
    """Chosen on cross-validated AUC only: the test split stays untouched until evaluation."""
    return max(candidates, key=lambda c: c.cv_auc_mean)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
