"""The contact-center stores: one contract, checked on SQLite (local) and on DynamoDB (moto), the
tables created from the CloudFormation template's own definitions; the online feature store;
the offline feature store's point-in-time training set; the phone directory and routing rule."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import boto3
import pandas as pd
import pytest

from rfmkit.contact_center import directory, features, online, routing
from rfmkit.contact_center.store import APPLIED, CONFLICT, DUPLICATE, Contact, SqliteContactStore
from rfmkit.paths import PROJECT_ROOT

REGION = "us-east-1"


def template_tables() -> dict[str, dict]:
    from cfnlint.decode import decode

    parsed, problems = decode(str(PROJECT_ROOT / "cloudformation" / "rfmkit-contact-center.yaml"))
    assert not problems
    return {name: r["Properties"] for name, r in parsed["Resources"].items()
            if r["Type"] == "AWS::DynamoDB::Table"}


def create_template_tables(client) -> dict[str, str]:
    """The template's DynamoDB tables (prefix rfmkit) created in moto: logical name → table name."""
    names = {}
    for logical, props in template_tables().items():
        name = props["TableName"]["Fn::Sub"].replace("${Prefix}", "rfmkit")
        client.create_table(TableName=name, AttributeDefinitions=props["AttributeDefinitions"],
                            KeySchema=props["KeySchema"], BillingMode=props["BillingMode"])
        names[logical] = name
    return names


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request, tmp_path, monkeypatch):
    if request.param == "sqlite":
        yield SqliteContactStore(tmp_path / "cc.sqlite")
        return
    from moto import mock_aws

    from rfmkit.contact_center.dynamodb import DynamoContactStore

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        names = create_template_tables(client)
        yield DynamoContactStore(client, names["ProfilesTable"], names["ContactsTable"], names["PromptsTable"])


PROFILE = {"customer_id": "4032562", "first_name": "Ana", "last_name": "Silva", "phone": "+12015550100",
           "account_id": None, "segment": "Champions", "clv": 812.5, "contract_months": 12,
           "churn_risk": 0.42, "at_risk": False, "vip": True, "routing_priority": 2}


def test_profiles_round_trip_and_update(store):
    assert store.put_profiles([PROFILE]) == 1
    assert store.profile_by_phone("+12015550100") == PROFILE
    assert store.profile_by_phone("+12015550199") is None
    changed = store.update_profile("+12015550100", {"contract_months": 24, "churn_risk": 0.1})
    assert changed["contract_months"] == 24 and changed["churn_risk"] == 0.1 and changed["first_name"] == "Ana"
    assert store.update_profile("+19995550100", {"contract_months": 24}) is None  # no such customer


def contact(contact_id="c-1") -> Contact:
    return Contact(contact_id, "4032562", "+12015550100", "2026-12-03T10:00:00.000Z",
                   {"pastSenti_pos": 3.0, "mth_remain": 12.0, "State": "PA"})


def test_an_event_applies_once_and_a_stale_version_conflicts(store):
    started = store.start_contact(contact())
    assert started.version == 0 and started.scores == []
    again = store.start_contact(contact())  # a repeated lookup keeps the call's state
    assert again.version == 0

    changed = store.contact("c-1")
    changed.counts["negative"] += 1
    changed.current = -1
    assert store.commit_event(changed, "event-1", {"event_id": "event-1", "churn_probability": 0.7}) == APPLIED
    assert store.commit_event(changed, "event-1", {"event_id": "event-1", "churn_probability": 0.7}) == DUPLICATE
    assert store.commit_event(changed, "event-2", {"event_id": "event-2", "churn_probability": 0.8}) == CONFLICT
    now = store.contact("c-1")
    assert now.version == 1 and now.counts == {"positive": 0, "neutral": 0, "negative": 1}
    assert now.current == -1 and [s["event_id"] for s in now.scores] == ["event-1"]
    assert now.base == {"pastSenti_pos": 3.0, "mth_remain": 12.0, "State": "PA"}


def test_ending_is_kept_and_listed(store):
    store.start_contact(contact("c-1"))
    store.start_contact(contact("c-2"))
    assert set(store.active_contacts()) == {"c-1", "c-2"}
    ending = store.contact("c-1")
    ending.ended_at = "2026-12-03T10:05:00.000Z"
    assert store.commit_event(ending, "hangup", None) == APPLIED
    later = store.contact("c-1")
    later.ended_at = "2026-12-03T11:00:00.000Z"  # a later event never moves the end
    assert store.commit_event(later, "late-event", None) == APPLIED
    assert store.contact("c-1").ended_at == "2026-12-03T10:05:00.000Z"
    assert store.active_contacts() == ["c-2"]
    assert store.contact("nobody") is None


def test_prompts_per_flow_and_language(store):
    store.put_prompts("rfmkit-inbound", "es-ES", {"welcome": "Hola"})
    assert store.prompts("rfmkit-inbound", "es-ES") == {"welcome": "Hola"}
    assert store.prompts("rfmkit-inbound", "fr-FR") is None


def test_sqlite_concurrent_writers_lose_nothing(tmp_path):
    store = SqliteContactStore(tmp_path / "cc.sqlite")
    store.start_contact(contact())

    def writer(n: int) -> None:
        while True:  # the handler's loop: read, change, commit, retry on a conflict
            current = store.contact("c-1")
            current.counts["neutral"] += 1
            if store.commit_event(current, f"e{n}", {"event_id": f"e{n}"}) != CONFLICT:
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = store.contact("c-1")
    assert final.counts["neutral"] == 16 and final.version == 16 and len(final.scores) == 16


# -- online features ------------------------------------------------------------------------------
def test_online_store_keeps_the_newest_record_and_logs_call_writes(tmp_path):
    store = online.SqliteOnlineFeatures(tmp_path / "online.sqlite")
    store.put_many([{"customer_id": "1", "event_time": "2026-12-01T00:00:00.000Z", "State": "PA",
                     "mth_remain": 12.0, "Day_Mins": float("nan")}])
    assert store.get("1") == {"customer_id": "1", "event_time": "2026-12-01T00:00:00.000Z", "State": "PA",
                              "mth_remain": 12.0}  # a missing value is left out, as Feature Store does
    store.put("1", {"State": "PA", "mth_remain": 24.0}, "2026-12-03T00:00:00.000Z")
    store.put("1", {"State": "PA", "mth_remain": 36.0}, "2026-12-02T00:00:00.000Z")  # older: ignored
    assert store.get("1")["mth_remain"] == 24.0
    assert [r["mth_remain"] for r in store.changes()] == [36.0, 24.0]  # every call write, for the offline sync
    assert store.get("2") is None


# -- offline features: point in time --------------------------------------------------------------
def test_training_set_takes_the_latest_features_at_or_before_each_label(warehouse):
    history = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "c"],
        "event_time": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-15", "2026-02-10", "2026-05-01"]),
        "source": ["snapshot", "call", "call", "snapshot", "snapshot"],
        "mth_remain": [10.0, 20.0, 30.0, 5.0, 7.0], "State": ["PA", "PA", "PA", "SC", "NY"]})
    labels = pd.DataFrame({"customer_id": ["a", "a", "b", "c"],
                           "label_time": pd.to_datetime(["2026-02-01", "2026-03-01", "2026-02-10", "2026-04-01"]),
                           "churned": [0, 1, 1, 0]})
    features.write_history(warehouse, history, _folder(warehouse), "history")
    features.write_labels(warehouse, labels, _folder(warehouse))
    got = features.training_set(warehouse)
    rows = {(r.customer_id, str(r.label_time.date())): (r.mth_remain, str(r.feature_time.date()))
            for r in got.itertuples()}
    assert rows == {("a", "2026-02-01"): (20.0, "2026-02-01"),   # equal times count as known
                    ("a", "2026-03-01"): (20.0, "2026-02-01"),   # the 2026-03-15 call came later
                    ("b", "2026-02-10"): (5.0, "2026-02-10")}    # c: nothing known before its label
    assert (got["feature_time"] <= got["label_time"]).all()


def test_writing_the_same_versions_again_changes_nothing(warehouse, tmp_path):
    rows = pd.DataFrame({"customer_id": ["a", "a"], "source": ["call", "call"], "mth_remain": [12.0, 24.0],
                         "event_time": pd.to_datetime(["2026-01-01 10:00:00.123", "2026-01-01 10:00:00.456"])})
    features.write_history(warehouse, rows, tmp_path, "calls")
    features.write_history(warehouse, pd.concat([rows, rows.assign(customer_id="b")]), tmp_path, "calls")
    table = warehouse.query("SELECT customer_id, mth_remain FROM cc_feature_history ORDER BY 1, 2")
    assert table.values.tolist() == [["a", 12.0], ["a", 24.0], ["b", 12.0], ["b", 24.0]]  # milliseconds kept


_FOLDERS: dict[int, object] = {}


def _folder(warehouse):
    import tempfile
    from pathlib import Path

    return _FOLDERS.setdefault(id(warehouse), Path(tempfile.mkdtemp(prefix="rfmkit-cc-")))


def test_shipped_snapshot_labels_follow_their_features():
    from rfmkit.contact_center.prepare import read_shipped

    raw = read_shipped()
    as_of = datetime(2026, 12, 3, tzinfo=UTC)
    history, labels = features.snapshot(raw, as_of, seed=1)
    assert len(history) == len(labels) == len(raw) == 5000
    gap = labels["label_time"] - history["event_time"]
    assert (gap == pd.Timedelta(days=features.LABEL_AFTER_DAYS)).all()
    assert (labels["label_time"] <= as_of.replace(tzinfo=None)).all()
    assert labels["churned"].mean() == pytest.approx(raw["Churn"].astype(str).str.lower().eq("true").mean())
    assert set(history["Int_l_Plan"]) == {0.0, 1.0} and history["State"].map(type).eq(str).all()


# -- directory and routing ------------------------------------------------------------------------
def test_phone_numbers_are_fictional_distinct_e164():
    numbers = directory.fictional_numbers(5000)
    assert len(set(numbers)) == 5000
    assert all(routing.normalise_phone(n) == n and n[5:10] == "55501" for n in numbers)
    with pytest.raises(directory.DirectoryError):
        directory.fictional_numbers(10**6)


@pytest.mark.parametrize("address, expected", [
    ("+1 201-555-0100", "+12015550100"), ("+1 (201) 555 0100", "+12015550100"),
    ("2015550100", None), ("+0123", None), ("", None), (None, None), (12015550100, None),
    ("+1201555010O", None), ("+" + "1" * 20, None)])
def test_normalise_phone(address, expected):
    assert routing.normalise_phone(address) == expected


@pytest.mark.parametrize("segment, clv, at_risk, vip, priority", [
    ("Champions", None, True, True, 1), ("Loyal", 1.0, False, True, 2), ("Hibernating", 900.0, True, True, 1),
    ("Hibernating", 100.0, True, False, 3), (None, None, False, False, 5)])
def test_routing_rule(segment, clv, at_risk, vip, priority):
    assert routing.is_vip(segment, clv, 500.0) is vip
    assert routing.routing_priority(vip, at_risk) == priority


def test_profiles_are_seeded_and_use_predictions_not_labels():
    ids = pd.Series(["1", "2", "3", "4"])
    feats = pd.DataFrame({"customer_id": ids, "mth_remain": [12, 24, 36, 6]})
    predictions = pd.DataFrame({"churn_probability": [0.9, 0.1, 0.6, 0.2], "churn_label": [1, 0, 1, 0]})
    scores = pd.DataFrame({"customer_id": list("abcdefghij"), "segment": ["Champions"] + ["Hibernating"] * 9,
                           "clv": [10.0, 20, 30, 40, 50, 60, 70, 80, 90, 1000]})
    first = directory.build_profiles(feats, predictions, scores, seed=3)
    assert first.equals(directory.build_profiles(feats, predictions, scores, seed=3))
    assert list(first["churn_risk"]) == [0.9, 0.1, 0.6, 0.2]
    for row in first.itertuples():
        assert row.vip == routing.is_vip(row.segment, row.clv, first.attrs["clv_vip_from"])
        assert row.routing_priority == routing.routing_priority(row.vip, row.at_risk)
    without = directory.build_profiles(feats, predictions, None, seed=3)
    assert without["segment"].isna().all() and not without["vip"].any()
    with pytest.raises(directory.DirectoryError, match="4 customers"):
        directory.build_profiles(feats, predictions.head(2), None, seed=3)
