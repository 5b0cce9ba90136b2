"""Clustering features from rfm_scores: chosen columns, log1p for skewed ones, standardised.

k-means measures Euclidean distance, so a column in thousands (spend) would drown one in units
(orders) and a long right tail would pull centroids towards a few extreme customers. Skewed
columns are therefore log1p-transformed and every column is standardised to mean 0, sd 1. The
fitted transform travels with the model (`to_dict`) so that serving applies exactly the same one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

DEFAULT_COLUMNS = ("recency_days", "frequency", "monetary")
# Skewness above this (and no negative values) gets log1p under log_transform="auto".
SKEW_THRESHOLD = 1.0


class FeatureError(ValueError):
    """A feature parameter or the feature data is unusable; the message names which."""


def check_columns(columns: Iterable[str] | str, available: Iterable[str],
                  parameter: str = "feature_columns") -> list[str]:
    """The parameter as a clean list of existing columns (a comma-separated string works too)."""
    if isinstance(columns, str):
        columns = columns.split(",")
    chosen = list(dict.fromkeys(str(c).strip() for c in columns if str(c).strip()))
    if not chosen:
        raise FeatureError(f"parameter {parameter} is empty: choose at least one column")
    available = list(available)
    missing = [c for c in chosen if c not in available]
    if missing:
        raise FeatureError(f"parameter {parameter}: column(s) {missing} not in rfm_scores; "
                           f"available: {available}")
    return chosen


class FeatureTransform(TransformerMixin, BaseEstimator):
    """log1p on the skewed (or the named) columns, then (x - mean_) / scale_, column by column.

    A scikit-learn transformer: configuration in __init__, learned state with a trailing
    underscore (log_columns_, mean_, scale_, notes_) set by `fit`; clone-able and usable in a
    Pipeline. Takes a DataFrame holding `columns`, returns a float array."""

    def __init__(self, columns: Sequence[str] = DEFAULT_COLUMNS,
                 log_transform: str | Sequence[str] = "auto"):
        self.columns = columns
        self.log_transform = log_transform

    def fit(self, frame: pd.DataFrame, y=None) -> FeatureTransform:
        values = self._numeric(frame)
        self.log_columns_ = self._choose_log_columns(values)
        logged = self._log(values)
        self.mean_ = logged.mean(axis=0)
        scale = logged.std(axis=0)
        self.notes_ = []
        for name, sd in zip(self.columns, scale, strict=True):
            if not sd > 0:
                self.notes_.append(f"{name} has one value for every customer: it cannot separate "
                                   f"clusters (kept with scale 1)")
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        if getattr(self, "mean_", None) is None:
            raise FeatureError("FeatureTransform is not fitted: call fit() first")
        return self.transform_values(self._numeric(frame))

    def transform_values(self, values: np.ndarray) -> np.ndarray:
        """transform() on a float array already in `columns` order and checked to be finite."""
        if getattr(self, "mean_", None) is None:
            raise FeatureError("FeatureTransform is not fitted: call fit() first")
        return (self._log(values) - self.mean_) / self.scale_

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(list(self.columns), dtype=object)

    def inverse_transform(self, standardised: np.ndarray) -> np.ndarray:
        """Back to the original units (for centroids and profiles)."""
        logged = np.asarray(standardised) * self.scale_ + self.mean_
        out = logged.copy()
        for j, name in enumerate(self.columns):
            if name in self.log_columns_:
                out[:, j] = np.expm1(logged[:, j])
        return out

    def describe(self) -> pd.DataFrame:
        """One row per column: transform, mean and sd after it (what the notebook shows)."""
        return pd.DataFrame({
            "column": self.columns,
            "transform": ["log1p, standardised" if c in self.log_columns_ else "standardised"
                          for c in self.columns],
            "mean (before scaling)": self.mean_,
            "sd (before scaling)": self.scale_,
        })

    def to_dict(self) -> dict:
        return {"columns": list(self.columns), "log_columns": self.log_columns_,
                "mean": [float(x) for x in self.mean_], "scale": [float(x) for x in self.scale_]}

    @classmethod
    def from_dict(cls, values: dict) -> FeatureTransform:
        transform = cls(columns=list(values["columns"]), log_transform=list(values["log_columns"]))
        transform.log_columns_ = list(values["log_columns"])
        transform.mean_ = np.asarray(values["mean"], dtype=float)
        transform.scale_ = np.asarray(values["scale"], dtype=float)
        return transform

    # -- helpers ----------------------------------------------------------------------------
    def _numeric(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns if c not in frame.columns]  # noqa: SIM118
        if missing:
            raise FeatureError(f"feature column(s) {missing} missing; the data has "
                               f"{list(frame.columns)}")
        values = frame[list(self.columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise FeatureError(f"feature column {self.columns[col]!r} has {int(bad[:, col].sum())} "
                               f"missing or non-numeric value(s), first at row {int(row)}")
        return values

    def _choose_log_columns(self, values: np.ndarray) -> list[str]:
        if isinstance(self.log_transform, str) and self.log_transform not in ("auto", "none", ""):
            requested = [c.strip() for c in self.log_transform.split(",") if c.strip()]
        elif isinstance(self.log_transform, str):
            requested = None if self.log_transform == "auto" else []
        else:
            requested = list(self.log_transform)
        if requested is None:  # auto: skewed, non-negative columns
            skew = pd.DataFrame(values, columns=list(self.columns)).skew()
            return [c for j, c in enumerate(self.columns)
                    if skew[c] > SKEW_THRESHOLD and values[:, j].min() >= 0]
        unknown = [c for c in requested if c not in self.columns]
        if unknown:
            raise FeatureError(f"parameter log_transform: {unknown} are not feature columns "
                               f"{list(self.columns)}")
        negative = [c for c in requested if values[:, list(self.columns).index(c)].min() < 0]
        if negative:
            raise FeatureError(f"parameter log_transform: {negative} have negative values; "
                               f"log1p needs values >= 0")
        return requested

    def _log(self, values: np.ndarray) -> np.ndarray:
        out = values.copy()
        for name in self.log_columns_:
            j = list(self.columns).index(name)
            out[:, j] = np.log1p(out[:, j])
        return out
