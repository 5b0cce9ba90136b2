"""Notebook 10's stream run: requests produced, a consumer that dies halfway (between delivering
answers and saving its checkpoint, the worst moment), a new consumer that takes over, and a tally
that shows no request lost and none answered twice; then the Lambda handler on a Kinesis event of
the same records, its answers written to the same score stream (marked by their source, which
holds no stream name) and compared with the consumer's."""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass

import pandas as pd

from rfmkit.streaming.kinesis import Consumer, Producer, SimulatedCrash, read_all


@dataclass
class StreamRun:
    sent: int
    answered: int
    unique: int
    duplicates: int
    missing: int
    errors: int
    recovered: int
    lambda_matches: int
    lambda_checked: int

    def __str__(self) -> str:
        return (f"{self.sent:,} requests sent; {self.answered:,} answers in the score stream for "
                f"{self.unique:,} requests: lost {self.missing}, answered twice {self.duplicates}, "
                f"errors {self.errors}; the second consumer found {self.recovered} answer(s) the "
                f"first delivered without checkpointing. Lambda handler: {self.lambda_matches} of "
                f"{self.lambda_checked} scores identical to the consumer's.")


def requests_from(rows: pd.DataFrame, prefix: str = "stream") -> list[dict]:
    """One request record per row, values exactly as in the frame (to_json would round floats to
    ten digits), a blank as null."""
    records = [{k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                for k, v in row.items()} for row in rows.to_dict(orient="records")]
    return [{"request_id": f"{prefix}-{n}", "customer_id": f"customer-{n % 997}", "features": r}
            for n, r in enumerate(records)]


def run(stream, model, rows: pd.DataFrame, *, capture=None, batch: int = 100) -> StreamRun:
    from rfmkit.streaming import lambda_handler

    client = stream.client()
    before = {a.get("request_id") for a in read_all(client, stream.scores)}
    requests = requests_from(rows, prefix=f"stream-{len(before)}")
    Producer(client, stream.requests).send(requests)
    checkpoints = stream.checkpoints()
    first = Consumer(client, stream.requests, stream.scores, model, checkpoints, batch=batch,
                     capture=capture).start()
    first.poll()
    with contextlib.suppress(SimulatedCrash):  # answers delivered, checkpoint not saved
        first.poll(crash_after_put=True)
    second = Consumer(client, stream.requests, stream.scores, model, checkpoints, batch=batch,
                      capture=capture).start()
    second.run(idle_polls=2)
    answers = [a for a in read_all(client, stream.scores) if a.get("request_id") not in before]
    ids = pd.Series([a.get("request_id") for a in answers])
    wanted = {r["request_id"] for r in requests}
    # the Lambda handler scores the first records again, from a Kinesis event of the same bytes
    sample = requests[:5]
    event = {"Records": [{"kinesis": {"data": base64.b64encode(json.dumps(r).encode()).decode(),
                                      "sequenceNumber": str(n), "partitionKey": r["customer_id"]},
                          "eventSource": "aws:kinesis"} for n, r in enumerate(sample)]}
    by_id = {a["request_id"]: a for a in answers}
    result = lambda_handler.handle(event, model, client, stream.scores)
    if result["batchItemFailures"]:
        raise RuntimeError(f"the Lambda handler reported failures: {result}")
    lambda_answers = [a for a in read_all(client, stream.scores)
                      if a.get("request_id") in by_id and "stream" not in a.get("source", {})]
    matches = sum(abs(a["churn_probability"] - by_id[a["request_id"]]["churn_probability"]) < 1e-12
                  for a in lambda_answers)
    return StreamRun(len(requests), len(answers), int(ids.nunique()),
                     int(ids.duplicated().sum()), len(wanted - set(ids)),
                     sum("error" in a for a in answers), second.recovered, matches, len(sample))
