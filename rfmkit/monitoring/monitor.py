"""The monitor: served rows cut into windows, each judged for drift against the model's reference
and, once labels arrive, for quality; a report per window and an index of them all.

Windows are consecutive `window_rows` rows in time order, or calendar periods (`window="3h"`).
Only complete windows are judged while traffic is still arriving (the last partial one waits), a
file of finished data (`final=True`) has its last window judged too when it holds at least
`min_rows` rows. Checking again is idempotent: a window's report is rewritten only when its figures
changed (labels that arrived since, for example), and every action is taken once per window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rfmkit.churn.outcome import REFERENCE_LABEL
from rfmkit.monitoring import quality
from rfmkit.monitoring.drift import NUMERIC, PREDICTION, DriftError, DriftSettings, Profile
from rfmkit.monitoring.metrics import LATEST_FILE

MONITORING_FOLDER = "monitoring"
REPORTS_FOLDER = "reports"


@dataclass(frozen=True)
class MonitorSettings:
    window_rows: int = 500
    window: str = ""                    # a calendar period instead ("3h", "1d"); empty: rows
    drift: DriftSettings = field(default_factory=DriftSettings)
    quality: quality.QualitySettings = field(default_factory=quality.QualitySettings)

    def __post_init__(self):
        if not self.window and int(self.window_rows) < self.drift.min_rows:
            raise DriftError(f"window_rows={self.window_rows!r} is below min_rows="
                             f"{self.drift.min_rows}: no window could ever be judged")
        if self.window:
            self.period()

    def period(self) -> pd.Timedelta | None:
        return parse_period(self.window, "window") if self.window else None


def settings(*, window_rows: int = 500, window: str = "", min_rows: int = 200, alpha: float = 0.001,
             numeric_distance: float = 0.1, categorical_distance: float = 0.1,
             min_labelled: int = 100, min_auc: float = 0.7) -> MonitorSettings:
    """Every setting of a check by name, as the command and notebook 10 take them."""
    return MonitorSettings(
        window_rows=window_rows, window=window,
        drift=DriftSettings(alpha=alpha, numeric_distance=numeric_distance,
                            categorical_distance=categorical_distance, min_rows=min_rows),
        quality=quality.QualitySettings(min_labelled=min_labelled, min_auc=min_auc))


def parse_period(text: str, name: str = "every") -> pd.Timedelta:
    """'3h', '30min', '1d' as a Timedelta; the error names the parameter."""
    import re

    try:  # pandas wants a capital D for days; people write 1d
        period = pd.Timedelta(re.sub(r"(?<=\d)\s*d$", "D", str(text).strip()))
    except ValueError:
        raise DriftError(f"{name}={text!r}: a period such as '3h', '30min' or '1d'") from None
    if period <= pd.Timedelta(0):
        raise DriftError(f"{name}={text!r}: the period must be positive")
    return period


@dataclass
class Reference:
    """What the model was trained on: features, their kinds, and its out-of-fold predictions."""

    features: pd.DataFrame         # columns in the model's input order (how CSV requests arrive)
    kinds: dict[str, str]
    prediction: pd.Series | None = None
    source: str = ""

    @classmethod
    def load(cls, path: str | Path, kinds: dict[str, str] | None = None,
             columns: list[str] | None = None) -> Reference:
        """A reference.parquet written with a churn model, or any CSV/Parquet file of rows;
        `columns` is the model's input order (its metadata), else the file's."""
        frame = read_rows(path)
        prediction = frame.pop(PREDICTION) if PREDICTION in frame else None
        frame = frame.drop(columns=[REFERENCE_LABEL], errors="ignore")
        kinds = kinds or infer_kinds(frame)
        order = [c for c in (columns or list(frame.columns)) if c in frame and c in kinds]
        if not order:
            raise DriftError(f"{path}: none of the model's columns are in this file")
        return cls(frame[order], {c: kinds[c] for c in order}, prediction, str(path))

    @property
    def columns(self) -> list[str]:
        return list(self.features.columns)

    def without(self, columns: set[str]) -> Reference:
        keep = [c for c in self.columns if c not in columns]
        return Reference(self.features[keep], {c: self.kinds[c] for c in keep}, self.prediction,
                         self.source)

    def frame(self) -> pd.DataFrame:
        frame = self.features.copy()
        if self.prediction is not None:
            frame[PREDICTION] = self.prediction.to_numpy()
        return frame

    def judged_kinds(self) -> dict[str, str]:
        kinds = {c: (NUMERIC if k == NUMERIC else "categorical") for c, k in self.kinds.items()}
        if self.prediction is not None:
            kinds[PREDICTION] = NUMERIC
        return kinds


def infer_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """For a reference without a model: numeric for number columns with more than two values,
    categorical otherwise; identifiers (text with a distinct value for most rows, or a column named
    like an id holding a distinct whole number per row) are left out: every new customer would
    look like drift."""
    from rfmkit.churn.datasets import ID_NAME, IDENTIFIER_SHARE

    kinds = {}
    for column in frame.columns:
        values = frame[column]
        distinct = values.nunique(dropna=True)
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if not numeric and distinct > IDENTIFIER_SHARE * len(values):
            continue
        if numeric and ID_NAME.search(str(column)) and distinct == values.notna().sum() and \
                (values.dropna() % 1 == 0).all():
            continue
        kinds[column] = NUMERIC if numeric and distinct > 2 else "categorical"
    return kinds


def read_rows(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt", ".gz"):
        return pd.read_csv(path)
    raise DriftError(f"{path}: rows are read from .csv or .parquet files")


@dataclass
class Window:
    endpoint: str
    index: int
    rows: pd.DataFrame
    complete: bool
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    @property
    def id(self) -> str:
        """Stable across checks of the same traffic, distinct for different traffic: the time its
        first row was served, when rows have times."""
        start = f"-{self.start:%Y%m%dT%H%M%S}" if self.start is not None and not pd.isna(self.start) \
            else ""
        return f"{self.endpoint}{start}-{self.index:04d}"


def windows(rows: pd.DataFrame, endpoint: str, settings: MonitorSettings, *, final: bool = False
            ) -> list[Window]:
    """The rows cut into windows (in the order given; capture rows are in time order)."""
    period = settings.period()
    times = pd.to_datetime(rows["time"], utc=True) if "time" in rows else None
    found = []
    if period is not None:
        if times is None or times.isna().all():
            raise DriftError("window=<period> needs times; these rows have none (use window_rows)")
        origin = times.min().floor(period)
        slots = ((times - origin) // period).astype(int)
        now = pd.Timestamp.now(tz="UTC")
        for n in sorted(slots.unique()):
            start = origin + n * period
            part = rows[slots.to_numpy() == n]
            found.append(Window(endpoint, int(n), part, final or start + period <= now,
                                start, start + period))
        return found
    size = int(settings.window_rows)
    for n, begin in enumerate(range(0, len(rows), size)):
        part = rows.iloc[begin:begin + size]
        complete = len(part) == size or final
        span = times.iloc[begin:begin + size] if times is not None else None
        found.append(Window(endpoint, n, part, complete,
                            span.min() if span is not None and len(span) else None,
                            span.max() if span is not None and len(span) else None))
    return found


def judge(window: Window, profile: Profile, settings: MonitorSettings) -> dict:
    """Drift (and quality, for labelled rows) of one window, as the JSON summary written for it."""
    result = profile.compare(window.rows, settings.drift)
    labels = window.rows["label"] if "label" in window.rows else pd.Series(np.nan, index=window.rows.index)
    performance = quality.measure(labels, window.rows[PREDICTION], settings.quality) \
        if PREDICTION in window.rows else None
    reasons = [f"{c.column} drifted ({c.measure} {c.distance:.3f} ≥ {c.threshold}, "
               f"{c.test} p = {c.p_value:.2g})" for c in result.drifted]
    if performance and performance["below_min_auc"]:
        reasons.append(f"ROC-AUC {performance['roc_auc']:.3f} below {settings.quality.min_auc}")
    return {"endpoint": window.endpoint, "window": window.id, "index": window.index,
            "start": _iso(window.start), "end": _iso(window.end),
            "end_epoch": window.end.timestamp() if window.end is not None else None,
            **result.to_dict(), "performance": performance,
            "alarm": bool(result.drift or (performance and performance["below_min_auc"])),
            "reasons": reasons, "window_rows": settings.window_rows, "window_period": settings.window}


class Monitor:
    """Judges windows of served rows and keeps their reports under `folder` (monitoring/)."""

    def __init__(self, folder: str | Path, reference: Reference, settings: MonitorSettings | None = None):
        self.folder, self.reference = Path(folder), reference
        self.settings = settings or MonitorSettings()
        self.summaries: list[dict] = []  # the last check's judged windows
        self.profile = Profile(reference.frame(), reference.judged_kinds())

    def check(self, rows: pd.DataFrame, endpoint: str, *, final: bool = False) -> pd.DataFrame:
        """Judge every complete window; returns one line per window (judged or not) and writes
        each judged window's JSON summary and HTML report, the index page and latest.json."""
        from rfmkit.monitoring import report

        summaries, lines = [], []
        for window in windows(rows, endpoint, self.settings, final=final):
            if not window.complete:
                lines.append(_line(window, None, f"waiting: {len(window.rows):,} rows so far"))
                continue
            summary = judge(window, self.profile, self.settings)
            report.write_window(self.reports, summary, self.reference, window.rows)
            summaries.append(summary)
            lines.append(_line(window, summary, summary["reason"]))
        self.summaries = summaries
        if summaries:
            self._write_latest(endpoint, next((s for s in reversed(summaries) if s["judged"]),
                                              summaries[-1]))
        report.write_index(self.reports, self.settings)
        return pd.DataFrame(lines)

    @property
    def reports(self) -> Path:
        return self.folder / REPORTS_FOLDER

    def _write_latest(self, endpoint: str, summary: dict) -> None:
        path = self.folder / LATEST_FILE
        latest = json.loads(path.read_text()) if path.exists() else {}
        latest[endpoint] = summary
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(latest, indent=1, allow_nan=False))
        temporary.replace(path)  # a scrape never reads half a file


def _line(window: Window, summary: dict | None, note: str) -> dict:
    performance = (summary or {}).get("performance") or {}
    return {"window": window.id, "start": window.start, "end": window.end,
            "rows": len(window.rows), "judged": bool(summary and summary["judged"]),
            "drift": bool(summary and summary["drift"]),
            "drifted": ", ".join((summary or {}).get("drifted", [])),
            "labelled": performance.get("labelled"), "roc_auc": performance.get("roc_auc"),
            "alarm": bool(summary and summary["alarm"]), "note": note}


def _iso(when) -> str | None:
    return None if when is None or pd.isna(when) else pd.Timestamp(when).isoformat()
