"""What notebook 09 does before the first call, written once against the backend objects:
serve the contact-center churn model, load the offline feature store, fill the online store,
build the phone directory and the prompts."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from rfmkit.contact_center import directory, features
from rfmkit.contact_center.online import EVENT_TIME, RECORD_ID

ENDPOINT = "rfmkit-contact-center"
# The contact flow's prompts per language: changed here (or in the table) without republishing
# the flow, which asks get_prompts for them at each call.
PROMPTS = {
    "en-US": {"welcome": "Thank you for calling. One moment while we find your account.",
              "vip_welcome": "Welcome back. We are connecting you to a priority agent.",
              "not_found": "We could not find your account. An agent will help you shortly."},
    "es-ES": {"welcome": "Gracias por llamar. Un momento mientras buscamos su cuenta.",
              "vip_welcome": "Bienvenido de nuevo. Le pasamos con un agente prioritario.",
              "not_found": "No hemos encontrado su cuenta. Un agente le atenderá en breve."},
    "pt-BR": {"welcome": "Obrigado por ligar. Um momento enquanto localizamos sua conta.",
              "vip_welcome": "Bem-vindo de volta. Vamos transferir você para um atendente prioritário.",
              "not_found": "Não encontramos sua conta. Um atendente vai ajudar você em breve."},
}


@dataclass
class Prepared:
    profiles: pd.DataFrame
    history_rows: int
    labels: int
    online_records: int
    clv_vip_from: float | None

    def __str__(self) -> str:
        vip = int(self.profiles["vip"].sum())
        return (f"{len(self.profiles):,} profiles ({vip:,} VIP), {self.online_records:,} online "
                f"feature records, {self.history_rows:,} feature-history rows and "
                f"{self.labels:,} labels in the warehouse")


def serve_model(serving, registry, endpoint: str = ENDPOINT):
    """The registry's production version (else its newest, said so) behind `endpoint`; returns
    (model, where its file lives, a sentence saying which version)."""
    from rfmkit.churn.registry import PRODUCTION
    from rfmkit.serving.operations import load_registered

    version, note = registry.alias(PRODUCTION), "approved (production)"
    if version is None:
        listed = registry.versions()
        if listed.empty:
            raise RuntimeError(f"{registry.name} has no version: run notebook 04 first")
        version, note = str(listed.iloc[0]["version"]), "NOT approved: the newest version"
    model, location = load_registered(registry, version)
    serving.serve(endpoint, model, location)
    return model, location, f"{endpoint} serves {registry.name} version {version}, {note}"


def read_shipped(path: str | Path | None = None) -> pd.DataFrame:
    """The contact-center file (data/contact_center/churn_processed.csv unless given)."""
    from rfmkit.churn.datasets import CONTACT_CENTER_CSV

    path = Path(path or CONTACT_CENTER_CSV)
    if not path.exists():
        raise FileNotFoundError(f"{path}: the contact-center file is missing (it ships in data/)")
    raw = pd.read_csv(path, keep_default_na=False, na_values=[""])
    missing = {"customerID", "Churn", "mth_remain", *features.SENTIMENT_COLUMNS} - set(raw.columns)
    if missing:
        raise ValueError(f"{path}: column(s) {sorted(missing)} missing; the contact-center flow "
                         f"needs the customer id, label, contract and sentiment columns")
    return raw


def _plain(value):
    """numpy and pandas scalars as JSON-ready Python values (missing → None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def snapshot_day(folder: Path) -> datetime:
    """The as-of time of this run's snapshot: now the first time, the same on every re-run (so a
    re-run writes the same feature versions, which replace themselves)."""
    path = folder / "snapshot.json"
    if path.exists():
        return datetime.fromisoformat(json.loads(path.read_text())["as_of"])
    as_of = datetime.now(UTC).replace(microsecond=0)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"as_of": as_of.isoformat()}))
    return as_of


def prepare(warehouse, kit, center, model, model_location: str, batch, *, seed: int,
            as_of: datetime | None = None, progress=print) -> Prepared:
    """Load the offline store and labels, put every customer's latest record online, score every
    customer with the served model for their profile, write the directory and the prompts."""
    folder = kit.cfg.run_dir / "contact_center"
    as_of = as_of or snapshot_day(folder)
    raw = read_shipped()
    history, labels = features.snapshot(raw, as_of, seed)
    features.write_history(warehouse, history, folder, "cc_feature_history_snapshot")
    features.write_labels(warehouse, labels, folder)
    history_rows = warehouse.row_count(features.HISTORY_TABLE)
    label_rows = warehouse.row_count(features.LABELS_TABLE)
    progress(f"offline feature store: {history_rows:,} rows in {features.HISTORY_TABLE}, "
             f"{label_rows:,} labels")

    online = history.copy()
    online[EVENT_TIME] = pd.to_datetime(online[EVENT_TIME]).dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    online_rows = center.features.put_many(records(online.drop(columns=["source"])), progress=progress)
    progress(f"online feature store: {online_rows:,} records")

    predictions = batch.score(history[model.columns], model, model_location, progress=False)
    scores = (warehouse.query("SELECT customer_id, segment, clv FROM customer_scores")
              if warehouse.table_exists("customer_scores") else None)
    profiles = directory.build_profiles(history[[RECORD_ID, "mth_remain"]].reset_index(drop=True),
                                        predictions.reset_index(drop=True), scores, seed=seed)
    center.store.put_profiles(records(profiles), progress=progress)
    for language, prompts in PROMPTS.items():
        center.store.put_prompts("rfmkit-inbound", language, prompts)
    progress(f"directory: {len(profiles):,} profiles; prompts in {', '.join(PROMPTS)}")
    return Prepared(profiles, history_rows, label_rows, online_rows, profiles.attrs["clv_vip_from"])


def sync_calls(warehouse, kit, center) -> int:
    """Bring every version calls wrote to the online store into cc_feature_history (source
    'call'; versions synced before are replaced by themselves); on AWS the feature group's offline
    store does this itself. Returns the call versions in the table."""
    changes = pd.DataFrame(center.features.changes())
    if not changes.empty:
        changes["source"] = "call"
        features.write_history(warehouse, changes, kit.cfg.run_dir / "contact_center",
                               "cc_feature_history_calls")
    return int(warehouse.query(f"SELECT COUNT(*) AS n FROM {features.HISTORY_TABLE} "
                               f"WHERE source = 'call'")["n"].iloc[0])


def routing_table(profiles: pd.DataFrame) -> pd.DataFrame:
    """How many customers get each routing priority, and why (the stated rule)."""
    why = {1: "VIP at churn risk", 2: "VIP", 3: "at churn risk", 5: "everyone else (default)"}
    table = profiles.groupby("routing_priority").agg(customers=("customer_id", "size"),
                                                     mean_churn_risk=("churn_risk", "mean"))
    table["rule"] = [why.get(int(p), "") for p in table.index]
    return table.reset_index()
