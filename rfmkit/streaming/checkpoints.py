"""Where a stream consumer keeps its place: per input shard, the last sequence number it has
scored and delivered, and the position its answers reached in each output shard.

Both are saved in one write after the answers are in the output stream, so a restarted consumer
resumes after the last delivered record. A crash between delivering and saving is repaired on
restart by reading the output stream from the saved positions (consumer.py). Locally a SQLite file
in the run folder; on AWS a DynamoDB table (as the Kinesis Client Library keeps its leases).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Checkpoint:
    sequence: str | None = None                            # last input record delivered
    outputs: dict[str, str] = field(default_factory=dict)  # output shard → last sequence written


class SqliteCheckpoints:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS checkpoints (consumer TEXT, shard TEXT, "
                       "sequence TEXT, outputs TEXT, PRIMARY KEY (consumer, shard))")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get(self, consumer: str, shard: str) -> Checkpoint:
        with self._connect() as db:
            row = db.execute("SELECT sequence, outputs FROM checkpoints WHERE consumer = ? AND "
                             "shard = ?", (consumer, shard)).fetchone()
        return Checkpoint(row[0], json.loads(row[1])) if row else Checkpoint()

    def save(self, consumer: str, shard: str, checkpoint: Checkpoint) -> None:
        with self._lock, self._connect() as db:
            db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)",
                       (consumer, shard, checkpoint.sequence, json.dumps(checkpoint.outputs)))


class DynamoDbCheckpoints:
    """The stack's StreamCheckpoints table: key (consumer, shard)."""

    def __init__(self, client, table: str):
        self.client, self.table = client, table

    def get(self, consumer: str, shard: str) -> Checkpoint:
        item = self.client.get_item(TableName=self.table, ConsistentRead=True,
                                    Key={"consumer": {"S": consumer}, "shard": {"S": shard}}
                                    ).get("Item")
        if not item:
            return Checkpoint()
        return Checkpoint(item.get("sequence", {}).get("S") or None,
                          json.loads(item.get("outputs", {}).get("S", "{}")))

    def save(self, consumer: str, shard: str, checkpoint: Checkpoint) -> None:
        self.client.put_item(TableName=self.table, Item={
            "consumer": {"S": consumer}, "shard": {"S": shard},
            "sequence": {"S": checkpoint.sequence or ""},
            "outputs": {"S": json.dumps(checkpoint.outputs)}})
