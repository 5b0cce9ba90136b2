"""The online feature store: the latest record per customer, read and written by the handlers
during calls (pure Python: the Lambda package imports it).

`SqliteOnlineFeatures` (local, in the run folder) and `FeatureStoreOnline` (SageMaker Feature
Store's runtime `GetRecord`/`PutRecord`) answer the same `get`/`put` calls. Values travel as
strings (Feature Store's `ValueAsString`) and come back typed: STRING_FEATURES as text, the rest
as numbers. As in Feature Store, a record with an older event time never replaces a newer one.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

from rfmkit.contact_center.store import Sqlite

RECORD_ID, EVENT_TIME = "customer_id", "event_time"
SENTIMENT_COUNTS = {"positive": "pastSenti_pos", "neutral": "pastSenti_nut", "negative": "pastSenti_neg"}
# Feature Store types of the contact-center features: the state is text, everything else a number
# (the yes/no plans as 1/0, which is how the model reads them; text would cost the endpoint its
# fast numeric path).
STRING_FEATURES = ("State",)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def feature_type(name: str) -> str:
    return "String" if name in STRING_FEATURES or name in (RECORD_ID, EVENT_TIME) else "Fractional"


def typed(name: str, text: str | None):
    """A feature value from its wire string (None stays missing)."""
    if text is None or text == "":
        return None
    return text if feature_type(name) == "String" else float(text)


ONLINE_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_features (customer_id TEXT PRIMARY KEY, event_time TEXT NOT NULL,
                                            document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feature_log (customer_id TEXT NOT NULL, event_time TEXT NOT NULL,
                                        document TEXT NOT NULL);
"""


def _wire(values: dict) -> dict[str, str]:
    out = {}
    for name, value in values.items():
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            continue  # Feature Store leaves a missing feature out of the record
        out[name] = value if isinstance(value, str) else repr(float(value))
    return out


class SqliteOnlineFeatures:
    """The local online store: the newest record per customer (an older event time never
    overwrites a newer one, as in Feature Store), and a log of every write for the offline sync."""

    def __init__(self, path: str | Path):
        self.db = Sqlite(path, ONLINE_SCHEMA)
        self.description = f"SQLite {self.db.path}"

    def put(self, customer_id: str, values: dict, event_time: str | None = None) -> None:
        self.put_many([{**values, RECORD_ID: customer_id,
                        EVENT_TIME: event_time or iso(datetime.now(UTC))}], log=True)

    def put_many(self, records: list[dict], *, log: bool = False, progress=None) -> int:
        """Many records in one transaction (`log`: also into the call log)."""
        rows = [(str(r[RECORD_ID]), r[EVENT_TIME], json.dumps(_wire(r))) for r in records]
        with self.db.write() as db:
            db.executemany("INSERT INTO online_features VALUES (?, ?, ?) ON CONFLICT (customer_id) "
                           "DO UPDATE SET event_time = excluded.event_time, document = excluded.document "
                           "WHERE excluded.event_time >= online_features.event_time", rows)
            if log:
                db.executemany("INSERT INTO feature_log VALUES (?, ?, ?)", rows)
        return len(rows)

    def get(self, customer_id: str) -> dict | None:
        row = self.db.connection().execute("SELECT document FROM online_features WHERE customer_id = ?",
                                           (customer_id,)).fetchone()
        if row is None:
            return None
        return {k: typed(k, v) for k, v in json.loads(row["document"]).items()}

    def changes(self) -> list[dict]:
        """Every record written during calls (for cc_feature_history, source 'call')."""
        rows = self.db.connection().execute(
            "SELECT document FROM feature_log ORDER BY event_time").fetchall()
        return [{k: typed(k, v) for k, v in json.loads(r["document"]).items()} for r in rows]


class FeatureStoreOnline:
    """SageMaker Feature Store's online store through `sagemaker-featurestore-runtime`."""

    def __init__(self, runtime, feature_group: str):
        self.runtime, self.feature_group = runtime, feature_group
        self.description = f"SageMaker Feature Store {feature_group}"

    def put(self, customer_id: str, values: dict, event_time: str | None = None) -> None:
        record = _wire({**values, RECORD_ID: customer_id,
                        EVENT_TIME: event_time or iso(datetime.now(UTC))})
        self.runtime.put_record(FeatureGroupName=self.feature_group,
                                Record=[{"FeatureName": k, "ValueAsString": v} for k, v in record.items()])

    def put_many(self, records: list[dict], *, log: bool = False, progress=None) -> int:
        for n, record in enumerate(records, 1):  # PutRecord takes one record per call
            self.put(str(record[RECORD_ID]), {k: v for k, v in record.items() if k != RECORD_ID},
                     record[EVENT_TIME])
            if progress and n % 500 == 0:
                progress(f"{n:,} / {len(records):,} records put")
        return len(records)

    def get(self, customer_id: str) -> dict | None:
        answer = self.runtime.get_record(FeatureGroupName=self.feature_group,
                                         RecordIdentifierValueAsString=customer_id)
        record = answer.get("Record")
        if not record:
            return None
        return {f["FeatureName"]: typed(f["FeatureName"], f.get("ValueAsString")) for f in record}

    def changes(self) -> list[dict]:
        """Nothing to sync: on AWS the feature group's offline store (S3, Glue table) keeps
        every record written."""
        return []


