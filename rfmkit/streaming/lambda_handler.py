"""AWS Lambda handler for a Kinesis event source: the same scoring as the local consumer.

The event is Lambda's Kinesis shape, `{"Records": [{"kinesis": {"data": "<base64>",
"sequenceNumber": "...", "partitionKey": "..."}, "eventSourceARN": "..."}]}`. Each record is
scored (streaming/scoring.py) and its answer written to the score stream named by
RFMKIT_SCORE_STREAM. Records whose answer could not be written are reported in
`batchItemFailures` (the event source mapping needs FunctionResponseTypes ReportBatchItemFailures),
so Lambda retries only those; a malformed record is answered with an error, never retried.
The model is loaded once per container from RFMKIT_MODEL_DIR (default: the package's model/).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from rfmkit.streaming.kinesis import StreamError, put_all
from rfmkit.streaming.scoring import score

_MODEL = None
_CLIENT = None


def decode(event: dict) -> list[tuple[str, str, bytes]]:
    """(sequence number, partition key, data) of every record in a Kinesis event."""
    records = []
    for record in event.get("Records", []):
        kinesis = record["kinesis"]
        records.append((kinesis["sequenceNumber"], kinesis.get("partitionKey", ""),
                        base64.b64decode(kinesis["data"])))
    return records


def handle(event: dict, model, client, stream: str) -> dict:
    records = decode(event)
    answers = score([data for _, _, data in records], model)
    entries = [{"Data": json.dumps({**answer, "source": {"sequence": sequence}},
                                   allow_nan=False).encode(), "PartitionKey": key or sequence}
               for (sequence, key, _), answer in zip(records, answers, strict=True)]
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        put_all(client, stream, entries)
    except (StreamError, ClientError, BotoCoreError):  # Lambda retries from the lowest one reported
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence, _, _ in records]}
    return {"batchItemFailures": []}


def handler(event, context):  # noqa: ARG001 - Lambda's signature
    global _MODEL, _CLIENT
    if _MODEL is None:
        from rfmkit.serving.inference import model_fn

        _MODEL = model_fn(os.environ.get("RFMKIT_MODEL_DIR", str(Path(__file__).parents[2] / "model")))
    if _CLIENT is None:
        import boto3

        _CLIENT = boto3.client("kinesis")
    return handle(event, _MODEL, _CLIENT, os.environ["RFMKIT_SCORE_STREAM"])
