"""Notebook 10's traffic: customers the model never saw (the hold-out part of its data), replayed
through the endpoint with a drift planted halfway; their real outcomes recorded afterwards as
ground truth; and the false-alarm rate and detection power of the drift check, measured over many
windows without the endpoint in the way.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, cpu_count, delayed

from rfmkit.monitoring.drift import DriftSettings, Profile
from rfmkit.serving.inference import CSV, JSON

WORKERS = cpu_count()  # processes judging the false-alarm windows


def now() -> str:
    """This moment (UTC, ISO 8601): what `Sources.since` takes to judge only later requests."""
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def holdout(churn_data: str, kit, seed: int = 42) -> tuple[pd.DataFrame, pd.Series]:
    """The hold-out part of the churn data (notebook 04's split, same seed): customers the model
    never saw, with their real outcomes."""
    from rfmkit.churn import experiment, training

    with kit.warehouse() as warehouse:
        data = experiment.load_data(churn_data, warehouse, progress=lambda *_: None)
    parts = training.split(data, seed=seed)
    return parts.x_test.reset_index(drop=True), parts.y_test.reset_index(drop=True)


@dataclass
class Plan:
    rows: pd.DataFrame          # the features to send, in order
    labels: pd.Series           # each row's real outcome (1 = churned)
    drift_column: str
    drift_from: int             # first row with the planted shift
    shift: float                # in reference standard deviations

    def describe(self) -> str:
        if not self.shift:
            return f"{len(self.rows):,} rows, no drift planted"
        return (f"{len(self.rows):,} rows; from row {self.drift_from:,} on, {self.drift_column} is "
                f"moved up by {self.shift:g} standard deviation(s) of the training data")


def plan(holdout: pd.DataFrame, labels: pd.Series, reference: pd.DataFrame, *, rows: int,
         drift_column: str, shift: float, seed: int = 42) -> Plan:
    """`rows` rows from the hold-out part, the second half shifted. Each stretch of
    len(holdout) rows is a fresh permutation (rows drawn without replacement), so a window is a
    true sample of customers: drawing with replacement repeats customers and makes a window look
    further from the reference than any real window of that size would."""
    if drift_column not in holdout:
        numeric = [c for c in holdout if pd.api.types.is_numeric_dtype(holdout[c])]
        raise ValueError(f"drift_column={drift_column!r}: not a column of the model; numeric "
                         f"ones are {numeric}")
    if not pd.api.types.is_numeric_dtype(holdout[drift_column]):
        raise ValueError(f"drift_column={drift_column!r} is not numeric: the planted drift is a "
                         f"shift of a number")
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.permutation(len(holdout))
                             for _ in range(-(-int(rows) // len(holdout)))])[:int(rows)]
    sent = holdout.iloc[picked].reset_index(drop=True).copy()
    outcome = labels.iloc[picked].reset_index(drop=True)
    start = int(rows) // 2
    step = float(shift) * float(pd.to_numeric(reference[drift_column]).std())
    sent.loc[start:, drift_column] = sent.loc[start:, drift_column].astype(float) + step
    return Plan(sent, outcome, drift_column, start, float(shift))


@dataclass
class Sent:
    requests: pd.DataFrame      # request_id, first row, rows
    plan: Plan


def send(runtime, endpoint: str, traffic: Plan, *, rows_per_request: int = 10) -> Sent:
    """Every row through boto3's invoke_endpoint (CSV in, JSON out), each request with an
    InferenceId, as a CRM system would tag its calls so that outcomes can be joined later."""
    ids = []
    for first in range(0, len(traffic.rows), rows_per_request):
        part = traffic.rows.iloc[first:first + rows_per_request]
        request_id = f"req-{uuid.uuid4()}"
        body = part.to_csv(header=False, index=False, lineterminator="\n").encode()
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType=CSV, Accept=JSON, Body=body,
                                InferenceId=request_id)["Body"].read()
        ids.append({"request_id": request_id, "first": first, "rows": len(part)})
    return Sent(pd.DataFrame(ids), traffic)


def record_outcomes(location: str, sent: Sent, *, share: float = 1.0, seed: int = 42) -> int:
    """Ground truth for a share of the requests (outcomes are known for some customers only),
    keyed by inference id; returns how many rows got a label."""
    from rfmkit.monitoring import ground_truth

    rng = np.random.default_rng(seed)
    chosen = sent.requests[rng.random(len(sent.requests)) < share]
    labels = {r.request_id: sent.plan.labels.iloc[r.first:r.first + r.rows].astype(int).tolist()
              for r in chosen.itertuples(index=False)}
    if labels:
        ground_truth.write(location, labels)
    return int(chosen["rows"].sum())


def first_alarm(windows: pd.DataFrame, traffic: Plan, window_rows: int) -> str:
    """Where the check first raised an alarm, against where the drift began."""
    drift_window = traffic.drift_from // window_rows
    alarms = windows.index[windows["alarm"]].tolist()
    if not traffic.shift:
        return f"No drift planted; {len(alarms)} window(s) raised an alarm."
    if not alarms:
        return (f"The drift planted from window {drift_window} on was **not** caught: the shift is "
                f"below what the check can see in windows of {window_rows} rows.")
    first = alarms[0]
    before = [a for a in alarms if a < drift_window]
    text = (f"Drift planted from row {traffic.drift_from:,} (window {drift_window}); first alarm in "
            f"window {first} ({windows.loc[first, 'drifted'] or 'quality'}), "
            f"{'the same window' if first == drift_window else f'{first - drift_window} window(s) later'}.")
    if before:
        text += f" {len(before)} alarm(s) before the drift: false alarms."
    return text


def false_alarm_rate(reference, holdout: pd.DataFrame, model, settings: DriftSettings, *,
                     windows: int = 200, rows: int = 500, shift_column: str | None = None,
                     shifts: tuple[float, ...] = (), power_windows: int = 50,
                     seed: int = 42) -> pd.DataFrame:
    """Share of `windows` windows flagged when they are drawn from the hold-out part (no drift:
    every flag is a false alarm) and, per shift size, of `power_windows` windows with
    `shift_column` moved (detection power). The model's prediction is judged too, as in the real
    check."""
    from rfmkit.monitoring.drift import PREDICTION

    rng = np.random.default_rng(seed)
    base, kinds = reference.frame(), reference.judged_kinds()
    profile = Profile(base, kinds)
    scale = float(pd.to_numeric(base[shift_column]).std()) if shift_column else 0.0
    results = []
    for shift in (0.0, *shifts):
        count = windows if not shift else power_windows
        shifted = holdout.copy()
        if shift:
            shifted[shift_column] = shifted[shift_column].astype(float) + shift * scale
        if PREDICTION in kinds:  # scored once per shift; windows are resamples of these rows
            shifted[PREDICTION] = model.predict(shifted[model.columns])[PREDICTION].to_numpy()
        # windows drawn in order from one generator (the same windows whatever the cores), then
        # judged in parallel: a judgement is pure NumPy/SciPy, 10-20 ms each, hundreds of them
        picks = [rng.choice(len(shifted), size=rows, replace=rows > len(shifted)) for _ in range(count)]
        batches = [picks[i::WORKERS] for i in range(WORKERS)]
        flagged = sum(Parallel(n_jobs=WORKERS)(delayed(_count_drifted)(profile, shifted, batch, settings)
                                               for batch in batches if batch))
        results.append({"shift_sd": shift, "windows": count, "flagged": flagged,
                        "rate": flagged / count, "upper_95": _upper_bound(flagged, count)})
    return pd.DataFrame(results)


def _count_drifted(profile: Profile, rows: pd.DataFrame, picks: list[np.ndarray],
                   settings: DriftSettings) -> int:
    return sum(profile.drifts(rows.iloc[pick], settings) for pick in picks)


def false_alarm_text(table: pd.DataFrame, rows: int) -> str:
    calm = table.iloc[0]
    text = (f"**False alarms:** {int(calm.flagged)} of {int(calm.windows)} windows of {rows} rows "
            f"drawn from customers the model never saw were flagged ({calm.rate:.1%}; at most "
            f"{calm.upper_95:.1%} with 95 % confidence).")
    for row in table.iloc[1:].itertuples(index=False):
        text += f" Shift of {row.shift_sd:g} sd: caught in {row.rate:.0%} of {row.windows} windows."
    return text


def _upper_bound(flagged: int, n: int) -> float:
    """One-sided 95 % upper confidence bound of a rate (Clopper-Pearson)."""
    from scipy.stats import beta

    return 1.0 if flagged >= n else float(beta.ppf(0.95, flagged + 1, n - flagged))


def metrics_table(text: str) -> pd.DataFrame:
    """The Prometheus text an endpoint serves, parsed with the client library's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    rows = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            rows.append({"metric": sample.name, "labels": json.dumps(sample.labels, sort_keys=True),
                         "value": sample.value})
    return pd.DataFrame(rows)


def histogram_quantile(table: pd.DataFrame, metric: str, quantile: float, endpoint: str) -> float:
    """A quantile from a Prometheus histogram's buckets (what Grafana's histogram_quantile does):
    the upper bound of the bucket that holds it."""
    buckets = table[table["metric"] == f"{metric}_bucket"].copy()
    buckets["labels"] = buckets["labels"].map(json.loads)
    buckets = buckets[buckets["labels"].map(lambda x: x.get("endpoint") == endpoint)]
    if buckets.empty:
        return math.nan
    buckets["le"] = buckets["labels"].map(lambda x: float(x["le"]))
    buckets = buckets.sort_values("le")
    total = buckets["value"].max()
    return float(buckets.loc[buckets["value"] >= quantile * total, "le"].iloc[0])
