"""The churn features as a feature store: offline in the warehouse, online per customer.

Offline (`cc_feature_history`, `cc_labels`, `cc_training_set`: sql/130, sql/135): every version of
a customer's features with the time it became true, labels with the time they were known, and a
point-in-time training set. The shipped contact-center file has no times, so the kit gives each
customer's snapshot a seeded time in a SNAPSHOT_DAYS window ending LABEL_AFTER_DAYS before the
as-of day, and the label LABEL_AFTER_DAYS after it (the window in which leaving was observed), so
every label is known by the as-of day; calls add later versions.

Online: the latest record per customer (`online`), read and written by the handlers during calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from rfmkit.contact_center.online import EVENT_TIME, RECORD_ID, STRING_FEATURES, feature_type

SNAPSHOT_DAYS, LABEL_AFTER_DAYS = 90, 30
SENTIMENT_COLUMNS = ("sentiment", "pastSenti_nut", "pastSenti_pos", "pastSenti_neg")
HISTORY_TABLE, LABELS_TABLE, TRAINING_TABLE = "cc_feature_history", "cc_labels", "cc_training_set"


YES_NO = {"yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0}


def record_values(frame: pd.DataFrame) -> pd.DataFrame:
    """The shipped file's rows as feature records: customer_id and STRING_FEATURES as text, the
    yes/no plans as 1/0, every other feature a number."""
    records = frame.rename(columns={"customerID": RECORD_ID}).copy()
    records[RECORD_ID] = records[RECORD_ID].astype(str)
    for name in records.columns.drop(RECORD_ID):
        if name in STRING_FEATURES:
            records[name] = records[name].astype(str)
        elif records[name].dtype == object or records[name].dtype == "string":
            words = records[name].astype(str).str.strip().str.lower()
            if not words.isin(list(YES_NO)).all():
                bad = records.loc[~words.isin(list(YES_NO)), name].iloc[0]
                raise ValueError(f"column {name}: {bad!r} is neither a number nor yes/no")
            records[name] = words.map(YES_NO)
    return records


# -- offline --------------------------------------------------------------------------------------
def snapshot(raw: pd.DataFrame, as_of: datetime, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(feature history rows, labels) for the shipped file: each customer's features at a seeded
    time in the SNAPSHOT_DAYS before `as_of`, the label LABEL_AFTER_DAYS after it."""
    rng = np.random.default_rng(seed)
    records = record_values(raw.drop(columns=["Churn"]))
    offsets = rng.uniform(LABEL_AFTER_DAYS, SNAPSHOT_DAYS + LABEL_AFTER_DAYS, len(records))
    times = [as_of - timedelta(days=float(d)) for d in offsets]
    history = records.assign(**{EVENT_TIME: pd.to_datetime(times).tz_localize(None), "source": "snapshot"})
    churned = raw["Churn"].astype(str).str.strip().str.lower().isin({"true", "1", "yes"}).astype(int)
    labels = pd.DataFrame({RECORD_ID: records[RECORD_ID],
                           "label_time": history[EVENT_TIME] + pd.Timedelta(days=LABEL_AFTER_DAYS),
                           "churned": churned.to_numpy()})
    return history, labels


def history_columns(warehouse) -> list[str]:
    return list(warehouse.table_columns(HISTORY_TABLE)["name"])


HISTORY_KEY = (RECORD_ID, EVENT_TIME, "source")


def write_history(warehouse, rows: pd.DataFrame, folder: Path, name: str) -> int:
    """Upsert feature versions into cc_feature_history with the audited COPY, keyed by customer,
    event time and source: writing the same versions again (a re-run, a repeated sync) changes
    nothing. Returns the rows loaded."""
    warehouse.run_file("130_cc_feature_history.sql")
    columns = history_columns(warehouse)
    staged = Path(folder) / f"{name}.csv"
    staged.parent.mkdir(parents=True, exist_ok=True)
    frame = rows.copy()
    frame[EVENT_TIME] = pd.to_datetime(frame[EVENT_TIME], utc=True).dt.tz_localize(None)
    frame.reindex(columns=columns).to_csv(staged, index=False, date_format="%Y-%m-%d %H:%M:%S.%f")
    # TIMEFORMAT 'auto' (Redshift and DuckDB alike) reads the milliseconds call versions carry.
    report = warehouse.load_csv(HISTORY_TABLE, staged, mode="merge", key=HISTORY_KEY, max_errors=0,
                                allow_empty=True, time_format="auto")
    return report.rows_loaded or 0


def write_labels(warehouse, labels: pd.DataFrame, folder: Path) -> int:
    warehouse.run_file("130_cc_feature_history.sql")
    staged = Path(folder) / "cc_labels.csv"
    labels.to_csv(staged, index=False, date_format="%Y-%m-%d %H:%M:%S")
    return warehouse.load_csv(LABELS_TABLE, staged, mode="merge", key=(RECORD_ID, "label_time"),
                              max_errors=0).rows_loaded or 0


def training_set(warehouse) -> pd.DataFrame:
    """The point-in-time training set (sql/135), built and read back."""
    warehouse.run_file("135_cc_training_set.sql")
    return warehouse.query(f"SELECT * FROM {TRAINING_TABLE} ORDER BY customer_id, label_time")


def feature_definitions(columns: list[str]) -> list[dict]:
    """CreateFeatureGroup's FeatureDefinitions for these feature columns (+ id and event time)."""
    names = [RECORD_ID, EVENT_TIME, *[c for c in columns if c not in (RECORD_ID, EVENT_TIME)]]
    return [{"FeatureName": n, "FeatureType": feature_type(n)} for n in names]
