"""One monitoring check of a run: served rows (captured requests, or a file of rows), ground truth
joined by id, windows judged against the model's reference, reports written, and the retraining an
alarm sets off. `python -m rfmkit monitor` and notebook 10 both call `check`.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rfmkit.churn.outcome import REFERENCE_FILE
from rfmkit.monitoring import ground_truth, served
from rfmkit.monitoring.actions import ActionLog
from rfmkit.monitoring.drift import PREDICTION, DriftError
from rfmkit.monitoring.monitor import MONITORING_FOLDER, Monitor, MonitorSettings, Reference, read_rows


@dataclass
class Sources:
    """Where a check reads from; the defaults are the run folder's own files."""

    run_dir: Path
    capture: str = ""           # capture root (folder or s3:// prefix); default <run>/capture
    ground_truth: str = ""      # ground-truth root; default <run>/groundtruth
    reference: str = ""         # reference rows; default <run>/models/churn-<data>/reference.parquet
    current: str = ""           # a CSV/Parquet file of rows to judge instead of captured requests
    model: str = ""             # model.tar.gz: column kinds, and scores for a file without them
    churn_data: str = "contact_center"
    label_column: str = ""      # in a `current` file: the known outcome (1 = churned), if any
    since: str = ""             # only requests captured at or after this time (ISO 8601)

    def model_folder(self) -> Path:
        return self.run_dir / "models" / f"churn-{self.churn_data}"

    def reference_path(self) -> Path:
        return Path(self.reference) if self.reference else self.model_folder() / REFERENCE_FILE

    def model_path(self) -> Path | None:
        path = Path(self.model) if self.model else self.model_folder() / "model.tar.gz"
        return path if path.exists() else None


@dataclass
class CheckResult:
    endpoint: str
    windows: pd.DataFrame
    index: Path
    actions: pd.DataFrame
    rows: int
    summaries: list[dict]

    @property
    def alarms(self) -> int:
        return int(self.windows["alarm"].sum()) if not self.windows.empty else 0

    def __str__(self) -> str:
        judged = int(self.windows["judged"].sum()) if not self.windows.empty else 0
        return (f"{self.endpoint}: {self.rows:,} rows in {len(self.windows)} window(s), {judged} "
                f"judged, {self.alarms} alarm(s); reports: {self.index}")


def model_metadata(model: Path | None) -> dict:
    """metadata.json of a churn model.tar.gz (or folder) without loading the model itself."""
    if model is None:
        return {}
    if model.is_dir():
        return json.loads((model / "metadata.json").read_text())
    with tarfile.open(model, "r:gz") as archive:
        return json.loads(archive.extractfile("metadata.json").read())


def load_reference(sources: Sources) -> Reference:
    path = sources.reference_path()
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no reference rows. Notebook 04 writes one beside each churn model; or give "
            f"any file of the model's training rows with --reference")
    metadata = model_metadata(sources.model_path())
    reference = Reference.load(path, metadata.get("kinds"), metadata.get("columns"))
    # the outcome is not a feature (a reference file of training rows may well hold it)
    return reference.without({sources.label_column}) if sources.label_column else reference


def served_rows(sources: Sources, reference: Reference, endpoint: str) -> pd.DataFrame:
    """The rows to judge: the captured requests of `endpoint` with their ground truth, or the
    rows of `current` (scored by the model when the file has no churn_probability)."""
    from rfmkit.serving.capture import read_events

    if sources.current:
        rows = read_rows(sources.current)
        missing = [c for c in reference.kinds if c not in rows.columns]
        if missing and sources.model_path() is not None:
            raise DriftError(f"{sources.current}: no column(s) {missing}, which the model "
                             f"reads; the file has {list(rows.columns)}")
        if sources.label_column:
            if sources.label_column not in rows:
                raise DriftError(f"--label-column {sources.label_column}: not a column of "
                                 f"{sources.current}")
            rows["label"] = outcome_labels(rows[sources.label_column], sources)
        rows = served.typed(rows, reference.kinds)
        if PREDICTION not in rows and sources.model_path() is not None:
            rows[PREDICTION] = _score(sources.model_path(), rows[list(reference.kinds)])
        return rows
    capture = sources.capture or str(sources.run_dir / "capture")
    events = read_events(capture, endpoint)
    if sources.since:
        since = pd.Timestamp(sources.since)
        since = since.tz_localize("UTC") if since.tzinfo is None else since
        events = events[events["time"] >= since].reset_index(drop=True)
    rows = served.rows(events, reference.columns, reference.kinds)
    truth_root = sources.ground_truth or str(sources.run_dir / ground_truth.GROUND_TRUTH_FOLDER)
    truth = ground_truth.read(truth_root) if _exists(truth_root) else ground_truth.read_empty()
    return ground_truth.join(rows, truth)


def check(sources: Sources, endpoint: str, settings: MonitorSettings | None = None, *,
          on_alarm: Callable | None = None, progress: Callable = print) -> CheckResult:
    """Judge the windows, write the reports; for each window that newly raised an alarm, record
    it and (once per check) call `on_alarm(window, labelled rows, log)` — the retrainer."""
    settings = settings or MonitorSettings()
    reference = load_reference(sources)
    if sources.current and sources.model_path() is None:  # two files, no model: what they share
        shared = set(read_rows(sources.current).columns)
        left_out = [c for c in reference.columns if c not in shared]
        if left_out:
            progress(f"not in {sources.current}, left out: {', '.join(left_out)}")
            reference = reference.without(set(left_out))
        if not reference.kinds:
            raise DriftError(f"{sources.current} shares no column with {sources.reference_path()}")
    rows = served_rows(sources, reference, endpoint)
    label = Path(sources.current).stem if sources.current else endpoint
    folder = sources.run_dir / MONITORING_FOLDER
    monitor = Monitor(folder, reference, settings)
    windows = monitor.check(rows, label, final=bool(sources.current))
    log = ActionLog(folder)
    new = [w for w in windows.loc[windows["alarm"], "window"] if w not in log.handled()] \
        if not windows.empty and on_alarm is not None else []
    for window in new:  # acted on once: a later check does not retrain for it again
        log.add(window, "trigger", "alarm", reasons=_reasons(folder, window))
    if new:
        labelled = rows[rows["label"].notna()] if "label" in rows else rows.iloc[0:0]
        progress(f"alarm in {', '.join(new)}: retraining a candidate on the training data and "
                 f"{len(labelled):,} served rows with known outcomes")
        on_alarm(new[-1], labelled, log)
    return CheckResult(label, windows, monitor.reports / "index.html", log.entries(), len(rows),
                       monitor.summaries)


def outcome_labels(values: pd.Series, sources: Sources) -> pd.Series:
    """1 (churned) / 0 (stayed) from 1/0, true/false, yes/no or a churn word such as "churned";
    a blank stays unknown; anything else is refused, naming the file, column and value."""
    from rfmkit.churn.datasets import CHURN_WORDS, FALSE_WORDS, TRUE_WORDS

    text = values.astype(object).where(values.notna(), None)
    words = {**{w: 1 for w in TRUE_WORDS | CHURN_WORDS}, **{w: 0 for w in FALSE_WORDS}}
    labels = []
    for row, value in enumerate(text, 2):  # line 1 is the header
        key = None if value is None else str(value).strip().lower().rstrip(".")
        if key is not None and key not in words:
            raise DriftError(f"{sources.current}, line {row}, column {sources.label_column!r}: "
                             f"{value!r} is not an outcome (1/0, true/false, yes/no, churned)")
        labels.append(None if key is None else words[key])
    return pd.Series(labels, index=values.index, dtype="Float64")


def _score(model: Path, frame: pd.DataFrame) -> pd.Series:
    from rfmkit.serving.inference import model_fn

    served_model = model_fn(model)
    return served_model.predict(frame[served_model.columns])[PREDICTION].set_axis(frame.index)


def _reasons(folder: Path, window: str) -> list[str]:
    path = folder / "reports" / f"{window}.json"
    return json.loads(path.read_text()).get("reasons", []) if path.exists() else []


def _exists(location: str) -> bool:
    return location.startswith("s3://") or Path(location).exists()
