"""The stream capability of each backend: the two streams, a client for them, and the consumer's
checkpoint store. Local: the kit's Kinesis-API server on 127.0.0.1 and a SQLite file; AWS: the
workshop stack's Kinesis streams and DynamoDB table."""

from __future__ import annotations

from pathlib import Path

REQUESTS, SCORES = "rfmkit-churn-requests", "rfmkit-churn-scores"


class LocalStream:
    def __init__(self, run_dir: Path, *, shards: int = 2):
        self.run_dir, self.shards = Path(run_dir), shards
        self.requests, self.scores = REQUESTS, SCORES
        self.server = None

    def prepare(self) -> dict[str, str]:
        """Start the local Kinesis server and create both streams."""
        from rfmkit.streaming.kinesis import ensure_stream
        from rfmkit.streaming.local_server import LocalKinesis

        if self.server is None:
            self.server = LocalKinesis(self.run_dir).start()
        client = self.client()
        return {"server": self.server.url,
                "requests": ensure_stream(client, self.requests, self.shards),
                "scores": ensure_stream(client, self.scores, 1)}

    def client(self):
        if self.server is None:
            raise RuntimeError("the local stream is not running: call prepare() first")
        return self.server.client()

    def checkpoints(self):
        from rfmkit.streaming.checkpoints import SqliteCheckpoints

        return SqliteCheckpoints(self.run_dir / "streaming" / "checkpoints.sqlite")

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


class AwsStream:
    def __init__(self, cfg, session):
        self.cfg, self.session = cfg, session
        self.requests = cfg.aws.request_stream or REQUESTS
        self.scores = cfg.aws.score_stream or SCORES

    def prepare(self) -> dict[str, str]:
        """The stack's streams, checked to be ACTIVE."""
        client = self.client()
        found = {}
        for role, name in (("requests", self.requests), ("scores", self.scores)):
            summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            if summary["StreamStatus"] not in ("ACTIVE", "UPDATING"):
                raise RuntimeError(f"Kinesis stream {name} is {summary['StreamStatus']}")
            found[role] = summary["StreamARN"]
        return found

    def client(self):
        return self.session.client("kinesis")

    def checkpoints(self):
        from rfmkit.streaming.checkpoints import DynamoDbCheckpoints

        table = self.cfg.aws.stream_checkpoints_table
        if not table:
            raise RuntimeError("StreamCheckpointsTable is not in this run's settings: run notebook "
                               "00 with the workshop stack first")
        return DynamoDbCheckpoints(self.session.client("dynamodb"), table)

    def close(self) -> None:
        """Nothing to stop: the streams belong to the stack (notebook 99 deletes it)."""
