"""Profiles, contacts and prompts: the contact center's operational data.

`Contact` is one call's state: the caller, the features at the start of the call (`base`), the
sentiment counts so far, the current sentiment, the scores over time, and a version. Every change
to a contact goes through `commit_event`, which applies it only if the event was not applied before
(EventBridge delivers at least once, so a redelivered event must not add a second prediction) and
only if nobody changed the contact since it was read (two events of one call may be handled at
once); the handler re-reads and retries on a conflict.

`SqliteContactStore` keeps all of it in one SQLite file in the run folder (the local backend);
`dynamodb.DynamoContactStore` keeps it in DynamoDB (the AWS backend). Same methods, same answers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

APPLIED, DUPLICATE, CONFLICT = "applied", "duplicate", "conflict"
PROFILE_FIELDS = ("customer_id", "first_name", "last_name", "phone", "account_id", "segment", "clv",
                  "contract_months", "churn_risk", "at_risk", "vip", "routing_priority")


@dataclass
class Contact:
    contact_id: str
    customer_id: str
    phone: str
    started_at: str
    base: dict                         # the caller's features when the call started
    counts: dict = field(default_factory=lambda: {"positive": 0, "neutral": 0, "negative": 0})
    current: int | None = None         # the latest sentiment: 1, 0 or -1
    scores: list = field(default_factory=list)   # {"at", "event", "churn_probability", ...}
    version: int = 0
    ended_at: str | None = None
    language: str | None = None

    def to_dict(self) -> dict:
        return dict(vars(self))


class Sqlite:
    """One SQLite file, a connection per thread, WAL so readers never wait for the writer.

    Writers of this process queue on a lock before SQLite's own: SQLite's busy handler waits by
    sleeping (up to 100 ms a time), which at 50 concurrent calls costs more than the work."""

    def __init__(self, path: str | Path, schema: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._writer = threading.Lock()
        with self.connection() as db:
            db.executescript(schema)

    @contextmanager
    def write(self):
        """A write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on an exception)."""
        db = self.connection()
        with self._writer, db:
            db.execute("BEGIN IMMEDIATE")
            yield db

    def connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db


SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (phone TEXT PRIMARY KEY, customer_id TEXT NOT NULL,
                                     document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (contact_id TEXT PRIMARY KEY, document TEXT NOT NULL,
                                     version INTEGER NOT NULL, ended INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS contact_events (contact_id TEXT NOT NULL, event_id TEXT NOT NULL,
                                           PRIMARY KEY (contact_id, event_id));
CREATE TABLE IF NOT EXISTS prompts (flow TEXT NOT NULL, language TEXT NOT NULL,
                                    document TEXT NOT NULL, PRIMARY KEY (flow, language));
"""


class SqliteContactStore:
    """The local backend's store: `<run>/contact_center/contact_center.sqlite`."""

    description = "SQLite"

    def __init__(self, path: str | Path):
        self.db = Sqlite(path, SCHEMA)
        self.description = f"SQLite {self.db.path}"

    # -- profiles ---------------------------------------------------------------------------
    def put_profiles(self, profiles: list[dict], progress=None) -> int:
        with self.db.write() as db:
            db.executemany("INSERT OR REPLACE INTO profiles VALUES (?, ?, ?)",
                           [(p["phone"], str(p["customer_id"]), json.dumps(p, allow_nan=False))
                            for p in profiles])
        return len(profiles)

    def profile_by_phone(self, phone: str) -> dict | None:
        row = self.db.connection().execute("SELECT document FROM profiles WHERE phone = ?",
                                           (phone,)).fetchone()
        return json.loads(row["document"]) if row else None

    def update_profile(self, phone: str, changes: dict) -> dict | None:
        with self.db.write() as db:
            row = db.execute("SELECT document FROM profiles WHERE phone = ?", (phone,)).fetchone()
            if row is None:
                return None
            profile = {**json.loads(row["document"]), **changes}
            db.execute("UPDATE profiles SET document = ? WHERE phone = ?",
                       (json.dumps(profile, allow_nan=False), phone))
        return profile

    # -- contacts ---------------------------------------------------------------------------
    def start_contact(self, contact: Contact) -> Contact:
        """Create the contact unless it exists (a repeated lookup keeps the call's state)."""
        with self.db.write() as db:
            db.execute("INSERT OR IGNORE INTO contacts (contact_id, document, version) VALUES (?, ?, ?)",
                       (contact.contact_id, json.dumps(contact.to_dict(), allow_nan=False),
                        contact.version))
        return self.contact(contact.contact_id)

    def contact(self, contact_id: str) -> Contact | None:
        row = self.db.connection().execute("SELECT document FROM contacts WHERE contact_id = ?",
                                           (contact_id,)).fetchone()
        return Contact(**json.loads(row["document"])) if row else None

    def commit_event(self, contact: Contact, event_id: str, score: dict | None) -> str:
        """Apply `contact` (as changed by the handler from version contact.version) and append
        `score`, once per event id; APPLIED, DUPLICATE or CONFLICT."""
        with self.db.write() as db:
            seen = db.execute("SELECT 1 FROM contact_events WHERE contact_id = ? AND event_id = ?",
                              (contact.contact_id, event_id)).fetchone()
            if seen:
                return DUPLICATE
            row = db.execute("SELECT document FROM contacts WHERE contact_id = ?",
                             (contact.contact_id,)).fetchone()
            stored = Contact(**json.loads(row["document"]))
            if stored.version != contact.version:
                return CONFLICT
            stored.base, stored.counts, stored.current = contact.base, contact.counts, contact.current
            stored.ended_at = stored.ended_at or contact.ended_at
            if score is not None:
                stored.scores.append(score)
            stored.version += 1
            db.execute("INSERT INTO contact_events VALUES (?, ?)", (contact.contact_id, event_id))
            db.execute("UPDATE contacts SET document = ?, version = ?, ended = ? WHERE contact_id = ?",
                       (json.dumps(stored.to_dict(), allow_nan=False), stored.version,
                        int(stored.ended_at is not None), contact.contact_id))
        return APPLIED

    def active_contacts(self) -> list[str]:
        rows = self.db.connection().execute(
            "SELECT contact_id FROM contacts WHERE ended = 0 ORDER BY rowid DESC").fetchall()
        return [r["contact_id"] for r in rows]

    # -- prompts ----------------------------------------------------------------------------
    def put_prompts(self, flow: str, language: str, prompts: dict[str, str]) -> None:
        with self.db.write() as db:
            db.execute("INSERT OR REPLACE INTO prompts VALUES (?, ?, ?)",
                       (flow, language, json.dumps(prompts)))

    def prompts(self, flow: str, language: str) -> dict[str, str] | None:
        row = self.db.connection().execute(
            "SELECT document FROM prompts WHERE flow = ? AND language = ?", (flow, language)).fetchone()
        return json.loads(row["document"]) if row else None

    def close(self) -> None:
        """Nothing to release: connections close with their threads."""
