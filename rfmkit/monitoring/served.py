"""Captured invocations turned back into the rows the model saw and the answers it gave.

Requests are parsed by the endpoint's own `input_fn` (CSV, JSON, JSON lines), so the monitor reads
exactly what the model read; answers by their content type (`{"predictions": [...]}`, JSON lines
or CSV). One output row per scored row: the model's columns, `churn_probability`, and the
event's id, inference id, row number within the request, time and endpoint.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd

from rfmkit.monitoring.drift import PREDICTION
from rfmkit.serving.capture import CaptureError
from rfmkit.serving.inference import InferenceError, input_fn

KEYS = ["event_id", "inference_id", "row", "time", "endpoint"]
BOOLEAN_WORDS = {"true": 1.0, "yes": 1.0, "false": 0.0, "no": 0.0}


def rows(events: pd.DataFrame, columns: list[str], kinds: dict[str, str]) -> pd.DataFrame:
    """One row per scored row of every captured event; a record that does not parse names its
    event id."""
    records = []
    for event in events.itertuples(index=False):
        try:
            inputs = input_fn(event.input, event.input_type)
        except InferenceError as error:
            raise CaptureError(f"captured event {event.event_id}: its request does not parse "
                               f"({error})") from None
        outputs = _predictions(event.output, event.output_type, event.event_id)
        if len(outputs) != len(inputs):
            raise CaptureError(f"captured event {event.event_id}: {len(inputs)} rows in, "
                               f"{len(outputs)} predictions out")
        for number, (values, probability) in enumerate(zip(inputs, outputs, strict=True)):
            row = dict(zip(columns, values, strict=False)) if isinstance(values, list) else \
                {c: values.get(c) for c in columns}
            records.append({**row, PREDICTION: probability, "event_id": event.event_id,
                            "inference_id": event.inference_id, "row": number, "time": event.time,
                            "endpoint": event.endpoint})
    frame = pd.DataFrame(records, columns=[*columns, PREDICTION, *KEYS])
    return typed(frame, kinds)


def typed(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Numeric and yes/no columns as numbers (as the model's preparation reads them), categories
    as text; a value that is not a number becomes blank."""
    frame = frame.copy()
    for column, kind in kinds.items():
        if column not in frame:
            continue
        values = frame[column]
        if kind == "categorical":
            frame[column] = values.astype(object).where(values.notna() & (values != ""), np.nan)
            continue
        numbers = pd.to_numeric(values.where(values != "", np.nan), errors="coerce")
        if kind == "boolean" and not pd.api.types.is_numeric_dtype(values):
            words = values.astype(str).str.strip().str.lower().map(BOOLEAN_WORDS)
            numbers = numbers.where(numbers.notna(), words)
        frame[column] = numbers.astype(float)
    if PREDICTION in frame:
        frame[PREDICTION] = pd.to_numeric(frame[PREDICTION], errors="coerce")
    return frame


def _predictions(body: str, content_type: str, event_id: str) -> list[float]:
    media = (content_type or "").split(";")[0].strip().lower()
    try:
        if media == "application/json":
            answers = json.loads(body)["predictions"]
        elif media == "application/jsonlines":
            answers = [json.loads(line) for line in body.splitlines() if line.strip()]
        elif media == "text/csv":
            return [float(r[0]) for r in csv.reader(io.StringIO(body)) if r]
        else:
            raise CaptureError(f"captured event {event_id}: answers of type {content_type!r} "
                               f"cannot be read")
        return [float(a[PREDICTION]) if isinstance(a, dict) else float(a) for a in answers]
    except (ValueError, KeyError, TypeError) as error:
        raise CaptureError(f"captured event {event_id}: the answer has no {PREDICTION} "
                           f"({error})") from None
