"""A producer and a consumer on the Kinesis API (boto3), the same code locally and on AWS.

Producer: PutRecords in batches within the service's limits (500 records and 5 MiB a call, 1 MiB
a record; botocore's Stubber does not check them, tests do), records the service refused
(throttling) sent again with backoff.

Consumer: reads every shard of the request stream from its checkpoint (TRIM_HORIZON the first
time), scores a batch (streaming/scoring.py), writes the answers to the score stream, captures each
answer like an endpoint request, then saves its checkpoint. Answers carry the request's shard and
sequence number, so a consumer that died after writing answers but before saving its checkpoint
finds them on restart (reading the score stream from its saved positions) and moves past them:
no request is lost and none is answered twice.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from rfmkit.streaming.checkpoints import Checkpoint
from rfmkit.streaming.scoring import score

MAX_RECORDS_PER_PUT = 500
MAX_BYTES_PER_PUT = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024          # data + partition key
MAX_GET_RECORDS = 10_000
PUT_ATTEMPTS = 6


class StreamError(RuntimeError):
    """A record or a stream the client cannot use; the message says which."""


class SimulatedCrash(RuntimeError):
    """Raised by Consumer.poll(crash_after_put=True): the consumer stops where a killed process
    would do the most harm, after delivering answers and before saving its checkpoint."""


def ensure_stream(client, name: str, shards: int = 1) -> str:
    """Create the stream if it is missing (local runs; on AWS the stack creates them) and wait
    until it is ACTIVE; returns its ARN."""
    with contextlib.suppress(client.exceptions.ResourceInUseException):
        client.create_stream(StreamName=name, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2,
                                                                           "MaxAttempts": 150})
    return client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def batches(entries: list[dict]) -> list[list[dict]]:
    """PutRecords entries split within the per-call limits; a record over 1 MiB is refused."""
    found, current, size = [], [], 0
    for number, entry in enumerate(entries, 1):
        weight = len(entry["Data"]) + len(entry["PartitionKey"].encode())
        if weight > MAX_RECORD_BYTES:
            raise StreamError(f"record {number} is {weight:,} bytes; Kinesis takes at most "
                              f"{MAX_RECORD_BYTES:,} (data + partition key)")
        if current and (len(current) == MAX_RECORDS_PER_PUT or size + weight > MAX_BYTES_PER_PUT):
            found.append(current)
            current, size = [], 0
        current.append(entry)
        size += weight
    if current:
        found.append(current)
    return found


def put_all(client, stream: str, entries: list[dict], sleep: Callable = time.sleep) -> list[dict]:
    """PutRecords every entry, retrying the ones refused; returns each entry's result
    (ShardId, SequenceNumber) in order."""
    results: list[dict] = []
    for batch in batches(entries):
        pending = list(range(len(batch)))
        answers: list[dict | None] = [None] * len(batch)
        for attempt in range(PUT_ATTEMPTS):
            reply = client.put_records(StreamName=stream, Records=[batch[i] for i in pending])
            retry = []
            for index, record in zip(pending, reply["Records"], strict=True):
                if record.get("ErrorCode"):
                    retry.append(index)
                else:
                    answers[index] = record
            pending = retry
            if not pending:
                break
            sleep(min(2.0, 0.05 * 2 ** attempt))
        if pending:
            raise StreamError(f"{len(pending)} record(s) refused by {stream} after "
                              f"{PUT_ATTEMPTS} attempts (throttled?)")
        results += answers
    return results


class Producer:
    def __init__(self, client, stream: str):
        self.client, self.stream = client, stream

    def send(self, requests: list[dict], key: str = "customer_id") -> list[dict]:
        """Each request as one record, partitioned by `key` (one customer's requests stay in order)."""
        entries = [{"Data": json.dumps(r, allow_nan=False).encode(),
                    "PartitionKey": str(r.get(key) or r.get("request_id") or n)}
                   for n, r in enumerate(requests)]
        return put_all(self.client, self.stream, entries)


@dataclass
class Poll:
    read: int = 0
    scored: int = 0
    errors: int = 0


class Consumer:
    def __init__(self, client, requests: str, scores: str, model, checkpoints, *,
                 name: str = "rfmkit-scorer", capture=None, batch: int = 500):
        self.client, self.requests, self.scores, self.model = client, requests, scores, model
        self.checkpoints, self.name, self.capture = checkpoints, name, capture
        self.batch = min(int(batch), MAX_GET_RECORDS)
        self._iterators: dict[str, str] = {}
        self.key, self.created = name, ""  # the checkpoints' key and the stream's creation, by start()
        self.recovered = 0  # requests found already answered when the consumer started

    def shards(self, stream: str) -> list[str]:
        shards, token = [], None
        while True:
            reply = self.client.list_shards(**({"NextToken": token} if token else {"StreamName": stream}))
            shards += [s["ShardId"] for s in reply["Shards"]]
            token = reply.get("NextToken")
            if not token:
                return shards

    def start(self) -> Consumer:
        """Shard iterators from the checkpoints, after repairing any crash between an answer and
        its checkpoint. Checkpoints are kept per stream incarnation (its creation time): a stream
        deleted and created again under the same name starts again from its beginning."""
        summary = self.client.describe_stream_summary(StreamName=self.requests)
        created = summary["StreamDescriptionSummary"]["StreamCreationTimestamp"]
        self.created = f"{created.timestamp():.0f}"
        self.key = f"{self.name}/{self.requests}/{self.created}"
        for shard in self.shards(self.requests):
            checkpoint = self._recover(shard, self.checkpoints.get(self.key, shard))
            args = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "StartingSequenceNumber": checkpoint.sequence} if checkpoint.sequence \
                else {"ShardIteratorType": "TRIM_HORIZON"}
            self._iterators[shard] = self.client.get_shard_iterator(
                StreamName=self.requests, ShardId=shard, **args)["ShardIterator"]
        return self

    def poll(self, crash_after_put: bool = False) -> Poll:
        """One round over every shard: read, score, deliver, checkpoint. `crash_after_put` stops
        between delivering and checkpointing (what a killed process leaves behind; for tests)."""
        if not self._iterators:
            self.start()
        total = Poll()
        for shard, iterator in list(self._iterators.items()):
            reply = self.client.get_records(ShardIterator=iterator, Limit=self.batch)
            self._iterators[shard] = reply.get("NextShardIterator") or iterator
            records = reply["Records"]
            if not records:
                continue
            answers = score([r["Data"] for r in records], self.model)
            entries = [{"Data": json.dumps({**answer, "source": {
                            "stream": self.requests, "created": self.created, "shard": shard,
                            "sequence": record["SequenceNumber"]}}, allow_nan=False).encode(),
                        "PartitionKey": record["PartitionKey"]}
                       for record, answer in zip(records, answers, strict=True)]
            delivered = put_all(self.client, self.scores, entries)
            if crash_after_put:
                raise SimulatedCrash("stopped between delivering and checkpointing")
            checkpoint = self.checkpoints.get(self.key, shard)
            checkpoint.sequence = records[-1]["SequenceNumber"]
            for result in delivered:
                checkpoint.outputs[result["ShardId"]] = _later(
                    checkpoint.outputs.get(result["ShardId"]), result["SequenceNumber"])
            self.checkpoints.save(self.key, shard, checkpoint)
            self._capture(records, answers)
            total.read += len(records)
            total.errors += sum("error" in a for a in answers)
            total.scored += sum("error" not in a for a in answers)
        return total

    def run(self, *, idle_polls: int = 3, max_polls: int = 10_000, pause: float = 0.05) -> Poll:
        """Poll until `idle_polls` rounds in a row bring nothing (a batch job over what is there)."""
        total, idle = Poll(), 0
        for _ in range(max_polls):
            got = self.poll()
            total.read, total.scored, total.errors = (total.read + got.read,
                                                      total.scored + got.scored,
                                                      total.errors + got.errors)
            idle = idle + 1 if got.read == 0 else 0
            if idle >= idle_polls:
                break
            time.sleep(pause if got.read == 0 else 0)
        return total

    def _recover(self, shard: str, checkpoint: Checkpoint) -> Checkpoint:
        """Answers already in the score stream beyond the checkpoint mean a crash came between
        delivering and saving: move the checkpoint past the requests they answer."""
        newest = checkpoint.sequence
        for out_shard, position in list(checkpoint.outputs.items()) or \
                [(s, None) for s in self.shards(self.scores)]:
            args = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "StartingSequenceNumber": position} if position \
                else {"ShardIteratorType": "TRIM_HORIZON"}
            iterator = self.client.get_shard_iterator(StreamName=self.scores, ShardId=out_shard,
                                                      **args)["ShardIterator"]
            while iterator:
                reply = self.client.get_records(ShardIterator=iterator, Limit=MAX_GET_RECORDS)
                for record in reply["Records"]:
                    source = json.loads(record["Data"]).get("source", {})
                    if (source.get("stream"), source.get("created"), source.get("shard")) == \
                            (self.requests, self.created, shard):
                        newest = _later(newest, source["sequence"])
                        checkpoint.outputs[out_shard] = _later(checkpoint.outputs.get(out_shard),
                                                               record["SequenceNumber"])
                        self.recovered += 1
                if not reply["Records"] and reply.get("MillisBehindLatest", 0) == 0:
                    break
                iterator = reply.get("NextShardIterator")
        if newest != checkpoint.sequence:
            checkpoint.sequence = newest
            self.checkpoints.save(self.key, shard, checkpoint)
        return checkpoint

    def _capture(self, records: list[dict], answers: list[dict]) -> None:
        if self.capture is None:
            return
        for record, answer in zip(records, answers, strict=True):
            if "error" in answer:
                continue
            features = json.loads(record["Data"])["features"]
            self.capture.record(f"stream-{self.requests}",
                                json.dumps({"instances": [features]}), "application/json",
                                json.dumps({"predictions": [{k: answer[k] for k in
                                                             ("churn_probability", "churn_label")}]}),
                                "application/json", inference_id=answer.get("request_id"))


def read_all(client, stream: str) -> list[dict]:
    """Every record now in a stream, decoded (for checks and the notebook's tally)."""
    found = []
    for shard in [s["ShardId"] for s in client.list_shards(StreamName=stream)["Shards"]]:
        iterator = client.get_shard_iterator(StreamName=stream, ShardId=shard,
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            reply = client.get_records(ShardIterator=iterator, Limit=MAX_GET_RECORDS)
            found += [json.loads(r["Data"]) for r in reply["Records"]]
            if not reply["Records"] and reply.get("MillisBehindLatest", 0) == 0:
                break
            iterator = reply.get("NextShardIterator")
    return found


def _later(first: str | None, second: str | None) -> str | None:
    """The later of two sequence numbers (they compare as integers, not as text)."""
    if first is None:
        return second
    if second is None:
        return first
    return first if int(first) >= int(second) else second
