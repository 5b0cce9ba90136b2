"""Scoring stream records: the same code in the consumer and in the Lambda handler.

A request record is a JSON object `{"request_id": "...", "customer_id": "...", "features":
{column: value, ...}}`. Its score is `{"request_id", "customer_id", "churn_probability",
"churn_label", "model"}`; a record that cannot be scored gets `{"request_id", "error"}` instead
(answered, not retried: retrying a malformed record would block its shard for ever).
"""

from __future__ import annotations

import json

from rfmkit.serving.inference import InferenceError, ServedModel, output_fn, predict_columns


def parse(payload: bytes) -> dict:
    try:
        record = json.loads(payload.decode("utf-8"), parse_constant=_refuse)
    except (UnicodeDecodeError, ValueError) as error:
        raise InferenceError(f"not a JSON object ({error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("features"), dict):
        raise InferenceError('a request record is {"request_id": ..., "features": {column: value}}')
    return record


def score(payloads: list[bytes], model: ServedModel) -> list[dict]:
    """One answer per payload, in order. Valid records are scored in one call; when that call
    refuses a value, each record is scored alone so that only the bad one gets an error."""
    parsed: list[dict | InferenceError] = []
    for payload in payloads:
        try:
            parsed.append(parse(payload))
        except InferenceError as error:
            parsed.append(error)
    valid = [p for p in parsed if isinstance(p, dict)]
    answers: dict[int, dict] = {}
    try:
        answers = dict(zip(map(id, valid), _predict(valid, model), strict=True)) if valid else {}
    except InferenceError:
        for record in valid:
            try:
                answers[id(record)] = _predict([record], model)[0]
            except InferenceError as error:
                answers[id(record)] = {"error": str(error)}
    results = []
    for record in parsed:
        if isinstance(record, InferenceError):
            results.append({"request_id": None, "error": str(record)})
            continue
        results.append({"request_id": record.get("request_id"),
                        "customer_id": record.get("customer_id"), **answers[id(record)]})
    return results


def _predict(records: list[dict], model: ServedModel) -> list[dict]:
    prediction = predict_columns([r["features"] for r in records], model)
    text, _ = output_fn(prediction, "application/json")
    name = str(model.metadata.get("name") or model.kind)
    return [{**p, "model": name} for p in json.loads(text)["predictions"]]


def _refuse(name: str):
    raise ValueError(f"{name} is not a number JSON allows")
