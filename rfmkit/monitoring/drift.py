"""Data drift of one window of served rows against the model's reference (its training data).

Per column, a test and a distance, both from scipy:

* numeric: the two-sample Kolmogorov-Smirnov test, and the Wasserstein (earth mover's) distance
  divided by the reference's standard deviation ("normed Wasserstein"; 0.1 = a tenth of a standard
  deviation moved);
* categorical and yes/no: the chi-square test of homogeneity on the category counts, and the
  Jensen-Shannon distance (base 2, between 0 and 1) of the category shares;
* the population stability index (PSI, reference deciles or categories) is reported beside them,
  with its usual reading (< 0.1 stable, 0.1-0.2 moderate, > 0.2 large), but decides nothing.

A column drifts when its test is significant **and** its distance passes the threshold: the
p-value below `alpha` divided by the number of columns judged (Bonferroni, so that twenty columns
do not give twenty chances of a false alarm), and the shift large enough to matter (a large window
makes a tiny, harmless shift significant). The window drifts when any column does, the prediction
included. A window with fewer than `min_rows` rows is not judged at all: it says so instead of
flagging noise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

PREDICTION = "churn_probability"
NUMERIC, CATEGORICAL = "numeric", "categorical"
PSI_EPSILON = 1e-4  # share given to an empty bin, so that PSI stays finite


class DriftError(ValueError):
    """A setting or an input the drift check cannot use; the message names it."""


@dataclass(frozen=True)
class DriftSettings:
    # Family-wise significance over the judged columns. 0.001 keeps false alarms to about one
    # window in a thousand; a shift of a third of a standard deviation in one column is still
    # caught in a window of 500 rows (notebook 10 measures both).
    alpha: float = 0.001
    numeric_distance: float = 0.1      # normed Wasserstein distance at which a numeric column drifts
    categorical_distance: float = 0.1  # Jensen-Shannon distance at which a categorical column drifts
    min_rows: int = 200                # fewer rows in a window (or a column's values): not judged

    def __post_init__(self):
        if not 0 < self.alpha < 1:
            raise DriftError(f"alpha={self.alpha!r}: a significance level between 0 and 1, e.g. 0.001")
        for name in ("numeric_distance", "categorical_distance"):
            if not getattr(self, name) > 0:
                raise DriftError(f"{name}={getattr(self, name)!r}: a distance above 0, e.g. 0.1")
        if int(self.min_rows) < 30:
            raise DriftError(f"min_rows={self.min_rows!r}: at least 30 rows are needed for the "
                             f"tests to mean anything (200 or more is better)")

    def describe(self) -> str:
        return (f"Kolmogorov-Smirnov + normed Wasserstein ≥ {self.numeric_distance} (numeric), "
                f"chi-square + Jensen-Shannon ≥ {self.categorical_distance} (categorical), "
                f"p < {self.alpha} / columns (Bonferroni), windows of at least {self.min_rows} rows")


@dataclass
class ColumnDrift:
    column: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None
    measure: str
    distance: float | None
    threshold: float
    psi: float | None
    rows: int
    drifted: bool = False
    note: str = ""


@dataclass
class DriftResult:
    rows: int
    reference_rows: int
    judged: bool
    reason: str = ""
    columns: list[ColumnDrift] = field(default_factory=list)
    settings: DriftSettings = field(default_factory=DriftSettings)

    @property
    def drift(self) -> bool:
        return self.judged and any(c.drifted for c in self.columns)

    @property
    def drifted(self) -> list[ColumnDrift]:
        return sorted((c for c in self.columns if c.drifted), key=lambda c: -(c.distance or 0))

    def table(self) -> pd.DataFrame:
        frame = pd.DataFrame([asdict(c) for c in self.columns])
        return frame.sort_values(["drifted", "distance"], ascending=False).reset_index(drop=True) \
            if not frame.empty else frame

    def to_dict(self) -> dict:
        return {"judged": self.judged, "reason": self.reason, "drift": self.drift,
                "rows": self.rows, "reference_rows": self.reference_rows,
                "drifted": [c.column for c in self.drifted],
                "columns": [_finite(asdict(c)) for c in self.columns],
                "settings": asdict(self.settings), "method": self.settings.describe()}


def compare(reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str],
            settings: DriftSettings | None = None) -> DriftResult:
    """Drift of `current` against `reference` for every column in `kinds` (numeric, boolean or
    categorical) that both frames hold."""
    return Profile(reference, kinds).compare(current, settings)


class Profile:
    """The reference side of every test, computed once: sorted values, spread and deciles of each
    numeric column, category counts of each categorical one. Judging many windows against one
    reference (a monitor, the false-alarm measurement) then costs only the windows' side."""

    def __init__(self, reference: pd.DataFrame, kinds: dict[str, str]):
        self.rows, self.kinds = len(reference), dict(kinds)
        self.numeric: dict[str, tuple[np.ndarray, float, np.ndarray, np.ndarray]] = {}
        self.categorical: dict[str, pd.Series] = {}
        for column, kind in kinds.items():
            if column not in reference:
                continue
            if kind == NUMERIC:
                values = np.sort(_floats(reference[column]))
                scale = float(np.std(values)) if len(values) else 0.0
                scale = scale or (abs(float(np.mean(values))) if len(values) else 0.0) or 1.0
                edges = _deciles(values)
                shares = np.histogram(values, edges)[0] / max(len(values), 1)
                self.numeric[column] = (values, scale, edges, shares)
            else:
                self.categorical[column] = _labels(reference[column]).value_counts()

    def compare(self, current: pd.DataFrame, settings: DriftSettings | None = None) -> DriftResult:
        """Every column's test, distance and PSI, and whether the window drifts."""
        return self._judge(current, settings or DriftSettings(), every_p_value=True)

    def drifts(self, current: pd.DataFrame, settings: DriftSettings | None = None) -> bool:
        """`compare(...).drift`, without the p-values that cannot change it: a column whose
        distance is below its threshold never drifts, so its test is left out. Counting hundreds
        of windows (the false-alarm measurement) then costs a fraction of full reports."""
        return self._judge(current, settings or DriftSettings(), every_p_value=False).drift

    def _judge(self, current: pd.DataFrame, settings: DriftSettings, *, every_p_value: bool
               ) -> DriftResult:
        missing = [c for c in self.kinds if c not in current.columns]
        if missing:
            raise DriftError(f"the current data has no column(s) {missing}, which the reference has")
        result = DriftResult(len(current), self.rows, judged=False, settings=settings)
        if self.rows < settings.min_rows:
            result.reason = (f"the reference has {self.rows:,} rows, fewer than min_rows="
                             f"{settings.min_rows:,}")
            return result
        if len(current) < settings.min_rows:
            result.reason = (f"{len(current):,} rows, fewer than min_rows={settings.min_rows:,}: "
                             f"too few to judge (not flagged)")
            return result
        judged = []
        for column in self.kinds:
            if column in self.numeric:
                drift, tested = self._numeric(column, current[column], settings, every_p_value)
            elif column in self.categorical:
                drift, tested = self._categorical(column, current[column], settings, every_p_value)
            else:
                continue
            result.columns.append(drift)
            if tested:
                judged.append(drift)
        level = settings.alpha / max(len(judged), 1)
        for c in judged:
            c.drifted = c.p_value is not None and c.p_value < level and c.distance >= c.threshold
        result.judged = True
        return result

    def _numeric(self, column: str, current: pd.Series, settings: DriftSettings,
                 every_p_value: bool) -> tuple[ColumnDrift, bool]:
        ref, scale, edges, ref_shares = self.numeric[column]
        cur = np.sort(_floats(current))
        result = ColumnDrift(column, NUMERIC, "Kolmogorov-Smirnov", None, None,
                             "normed Wasserstein", None, settings.numeric_distance, None, len(cur))
        if len(cur) < settings.min_rows or len(ref) < settings.min_rows:
            result.note = f"{len(cur):,} values (blanks left out): too few to judge"
            return result, False
        statistic, wasserstein = ks_statistic_and_wasserstein(ref, cur)
        result.statistic, result.distance = statistic, wasserstein / scale
        if every_p_value or result.distance >= result.threshold:
            result.p_value = ks_p_value(statistic, len(ref), len(cur))
        result.psi = _psi(ref_shares, np.histogram(cur, edges)[0] / len(cur))
        return result, True

    def _categorical(self, column: str, current: pd.Series, settings: DriftSettings,
                     every_p_value: bool) -> tuple[ColumnDrift, bool]:
        ref_counts, cur_counts = self.categorical[column], _labels(current).value_counts()
        result = ColumnDrift(column, CATEGORICAL, "chi-square", None, None, "Jensen-Shannon", None,
                             settings.categorical_distance, None, int(cur_counts.sum()))
        categories = ref_counts.index.union(cur_counts.index)
        counts = np.array([ref_counts.reindex(categories, fill_value=0).to_numpy(),
                           cur_counts.reindex(categories, fill_value=0).to_numpy()])
        shares = counts / counts.sum(axis=1, keepdims=True)
        result.distance = float(jensenshannon(shares[0], shares[1], base=2))
        result.psi = _psi(shares[0], shares[1])
        if len(categories) < 2:
            result.statistic, result.p_value = 0.0, 1.0
            result.note = "one category in both: nothing can differ"
        elif every_p_value or result.distance >= result.threshold:
            test = stats.chi2_contingency(counts)
            result.statistic, result.p_value = float(test.statistic), float(test.pvalue)
        return result, True


def ks_statistic_and_wasserstein(reference: np.ndarray, current: np.ndarray
                                 ) -> tuple[float, float]:
    """The two-sample Kolmogorov-Smirnov statistic and the Wasserstein-1 distance of two sorted
    samples, from one merge of their empirical distribution functions.

    The same arithmetic as scipy's `ks_2samp` and `wasserstein_distance` (a test checks they agree
    exactly), which each sort both samples again and check their inputs on every call: judging a
    window cost 2 ms a column that way, most of it spent on the reference, which never changes."""
    merged = np.sort(np.concatenate([reference, current]), kind="mergesort")
    gap = (reference.searchsorted(merged, "right") / len(reference)
           - current.searchsorted(merged, "right") / len(current))
    statistic = max(float(np.clip(-gap.min(), 0, 1)), float(gap.max()))
    wasserstein = float(np.vecdot(np.abs(gap[:-1]), np.diff(merged)))
    return statistic, wasserstein


def ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Two-sided p-value of the KS statistic, scipy's asymptotic method (`ks_2samp(...,
    method="asymp")`): exact p-values cost O(n·m) and differ only far below alpha."""
    m, n = sorted([float(n_reference), float(n_current)], reverse=True)
    return float(np.clip(stats.kstwo.sf(statistic, np.round(m * n / (m + n))), 0, 1))


def _floats(values: pd.Series) -> np.ndarray:
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)
    numbers = (values if numeric else pd.to_numeric(values, errors="coerce")).to_numpy(
        dtype=float, na_value=np.nan)
    return numbers[~np.isnan(numbers)]


def _labels(values: pd.Series) -> pd.Series:
    """Categories as text, a blank being a category of its own ("(blank)")."""
    raw = values.to_numpy(dtype=object, na_value=None)
    return pd.Series(["(blank)" if v is None or v != v else str(v) for v in raw], dtype=object)


def _deciles(values: np.ndarray, bins: int = 10) -> np.ndarray:
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1))) if len(values) else \
        np.array([0.0])
    if len(edges) < 2:
        return np.array([-np.inf, np.inf])
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.clip(expected, PSI_EPSILON, None), np.clip(actual, PSI_EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _finite(record: dict) -> dict:
    """JSON has no NaN or Infinity: such a figure is written as null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in record.items()}
