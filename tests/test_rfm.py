"""The RFM SQL pipeline on DuckDB against the independent pandas reference, and its edge cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rfm_reference import order_values_from_olist, rfm_reference

from rfmkit import backends, rfm
from rfmkit.config import RunConfig
from rfmkit.exports import LocalExporter
from rfmkit.warehouse.duckdb import DuckDBWarehouse

CUSTOMERS_HEADER = ("customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,"
                    "customer_state")
ORDERS_HEADER = ("order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,"
                 "order_delivered_carrier_date,order_delivered_customer_date,"
                 "order_estimated_delivery_date")
PAYMENTS_HEADER = "order_id,payment_sequential,payment_type,payment_installments,payment_value"


def load_olist(warehouse, files: dict[str, Path]) -> None:
    for table in ("olist_customers", "olist_orders", "olist_order_payments"):
        report = warehouse.load_csv(table, files[table])
        assert report.balanced and report.rows_rejected == 0
    rfm.use_olist(warehouse)


def sql_rfm(warehouse) -> pd.DataFrame:
    frame = warehouse.query("SELECT * FROM rfm_scores").set_index("customer_id").sort_index()
    frame["monetary_cents"] = (frame["monetary"].astype(float) * 100).round().astype("int64")
    return frame


def assert_matches_reference(sql: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(sql.index) == list(ref.index)
    for column in ("recency_days", "frequency", "monetary_cents", "tenure_days",
                   "r_score", "f_score", "m_score"):
        assert sql[column].astype("int64").tolist() == ref[column].astype("int64").tolist(), column
    assert (pd.to_datetime(sql["last_purchase_date"]) == ref["last_day"]).all()
    assert (pd.to_datetime(sql["first_purchase_date"]) == ref["first_day"]).all()


# -- generated data -------------------------------------------------------------------------------
def test_sql_matches_pandas_reference_on_generated_data(warehouse, small_olist):
    load_olist(warehouse, small_olist)
    result = rfm.score(warehouse, progress=None)

    raw = {t: pd.read_csv(p, dtype=str) for t, p in small_olist.items()}
    values = order_values_from_olist(raw["olist_customers"], raw["olist_orders"],
                                     raw["olist_order_payments"], rfm.OLIST_COUNTED_STATUSES)
    ref = rfm_reference(values)
    assert result.snapshot_date == ref.attrs["snapshot"].date()
    assert result.customers == len(ref) > 1000
    assert_matches_reference(sql_rfm(warehouse), ref)


def test_scores_and_normalised_columns_are_in_range(warehouse, small_olist):
    load_olist(warehouse, small_olist)
    rfm.score(warehouse, progress=None)
    scores = sql_rfm(warehouse)
    for letter in "rfm":
        assert scores[f"{letter}_score"].between(1, 5).all()
    for column in ("recency_norm", "frequency_norm", "monetary_norm"):
        values = scores[column].astype(float)
        assert values.between(0, 5).all()
        assert values.min() == 0 and values.max() == 5  # min-max: bounds come from the data
    assert (scores["rfm_code"] == scores["r_score"].astype(str) + scores["f_score"].astype(str)
            + scores["m_score"].astype(str)).all()
    # ties never split: equal values, equal scores
    for measure, letter in (("recency_days", "r"), ("frequency", "f"), ("monetary", "m")):
        assert (scores.groupby(measure)[f"{letter}_score"].nunique() == 1).all()
    # Olist-like frequency: one-time buyers share F = 1 and repeat buyers get F = 5
    assert set(scores.loc[scores["frequency"] == 1, "f_score"]) == {1}
    assert set(scores.loc[scores["frequency"] > 1, "f_score"]) == {5}
    assert scores["segment"].notna().all()


def test_rerun_is_idempotent_and_snapshot_is_a_parameter(warehouse, small_olist):
    load_olist(warehouse, small_olist)
    rfm.score(warehouse, progress=None)
    first = sql_rfm(warehouse)
    rfm.score(warehouse, progress=None)
    pd.testing.assert_frame_equal(first, sql_rfm(warehouse))

    rfm.score(warehouse, snapshot_date="2018-01-01", progress=None)
    early = sql_rfm(warehouse)
    assert (pd.to_datetime(early["last_purchase_date"]) < "2018-01-01").all()
    assert len(early) < len(first)


# -- hand-made fixtures (given rows → expected rows) ---------------------------------------------
@pytest.fixture
def tiny_olist(tmp_path) -> dict[str, Path]:
    """Five people; split payments, a canceled order, same-day orders, a late-night purchase."""
    customers = [
        "c1,alice,01001,sao paulo,SP", "c2,alice,01001,sao paulo,SP",  # one person, two ids
        "c3,bob,20000,rio de janeiro,RJ", "c4,carol,30000,belo horizonte,MG",
        "c5,dave,40000,salvador,BA", "c6,erin,50000,recife,PE", "c7,bob,20000,rio de janeiro,RJ",
    ]
    orders = [
        "o1,c1,delivered,2018-01-10 09:00:00,,,,2018-01-20 00:00:00",
        "o2,c2,delivered,2018-03-01 23:59:59,,,,2018-03-10 00:00:00",
        "o3,c3,delivered,2018-03-01 08:00:00,,,,2018-03-10 00:00:00",
        "o4,c7,shipped,2018-03-01 20:00:00,,,,2018-03-10 00:00:00",      # bob, same day
        "o5,c4,canceled,2018-03-01 10:00:00,,,,2018-03-10 00:00:00",     # carol: only canceled
        "o6,c5,delivered,2018-02-01 12:00:00,,,,2018-02-10 00:00:00",
        "o7,c6,unavailable,2018-02-02 12:00:00,,,,2018-02-10 00:00:00",
        "o8,c6,delivered,2018-02-01 00:00:00,,,,2018-02-10 00:00:00",
    ]
    payments = [
        "o1,1,credit_card,3,100.00",
        "o2,1,voucher,1,20.50", "o2,2,credit_card,2,79.50",   # split: order value 100.00
        "o3,1,boleto,1,60.00", "o4,1,credit_card,1,40.00",
        "o5,1,credit_card,1,999.99",
        "o6,1,credit_card,1,200.00",
        "o7,1,credit_card,1,500.00", "o8,1,debit_card,1,200.00",
    ]
    files = {}
    for table, header, rows in (("olist_customers", CUSTOMERS_HEADER, customers),
                                ("olist_orders", ORDERS_HEADER, orders),
                                ("olist_order_payments", PAYMENTS_HEADER, payments)):
        path = tmp_path / f"{table}.csv"
        path.write_text(header + "\n" + "\n".join(rows) + "\n")
        files[table] = path
    return files


def test_given_tiny_olist_expect_exact_rows(warehouse, tiny_olist):
    load_olist(warehouse, tiny_olist)
    result = rfm.score(warehouse, progress=None)
    assert str(result.snapshot_date) == "2018-03-02"  # the day after the last purchase
    got = warehouse.query(
        "SELECT customer_id, recency_days, frequency, monetary, tenure_days, r_score, f_score, "
        "m_score FROM rfm_scores ORDER BY customer_id")
    # score = 1 + floor(5 * customers strictly worse / 4): alice has 2 of 4 worse on R, so R = 3
    expected = pd.DataFrame([
        # alice: split payment summed (100.00), two customer_ids one person, 23:59 → recency 1
        ("alice", 1, 2, 200.00, 51, 3, 3, 2),
        ("bob", 1, 2, 100.00, 1, 3, 3, 1),      # two orders on the same day count twice
        ("dave", 29, 1, 200.00, 29, 1, 1, 2),   # ties (recency, orders, spend): equal scores;
        ("erin", 29, 1, 200.00, 29, 1, 1, 2),   # unavailable order left out; midnight is day 0
    ], columns=got.columns)
    got["monetary"] = got["monetary"].astype(float)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # carol only has a canceled order: not scored, and accounted for
    acc = rfm.accounting(warehouse).set_index(["stage", "outcome"])["n"]
    assert acc["transaction rows", "order status not counted"] == 2
    assert acc["transaction rows", "counted"] == 7
    assert acc["customers", "scored"] == 4


def test_pandas_reference_agrees_on_tiny_olist(warehouse, tiny_olist):
    load_olist(warehouse, tiny_olist)
    rfm.score(warehouse, progress=None)
    raw = {t: pd.read_csv(p, dtype=str) for t, p in tiny_olist.items()}
    values = order_values_from_olist(raw["olist_customers"], raw["olist_orders"],
                                     raw["olist_order_payments"], rfm.OLIST_COUNTED_STATUSES)
    assert_matches_reference(sql_rfm(warehouse), rfm_reference(values))


def test_order_statuses_parameter_changes_what_counts(warehouse, tiny_olist):
    load_olist(warehouse, tiny_olist)
    rfm.score(warehouse, order_statuses=["delivered", "canceled"], progress=None)
    people = set(warehouse.query("SELECT customer_id FROM rfm_scores")["customer_id"])
    assert "carol" in people  # her canceled order now counts
    bob = warehouse.query("SELECT frequency FROM rfm_scores WHERE customer_id = 'bob'")
    assert int(bob["frequency"].iloc[0]) == 1  # his shipped order no longer does


def test_explicit_snapshot_ignores_later_purchases(warehouse, tiny_olist):
    load_olist(warehouse, tiny_olist)
    rfm.score(warehouse, snapshot_date="2018-03-01", progress=None)
    got = warehouse.query("SELECT customer_id, recency_days, frequency FROM rfm_scores "
                          "ORDER BY customer_id")
    assert got.values.tolist() == [["alice", 50, 1], ["dave", 28, 1], ["erin", 28, 1]]
    acc = rfm.accounting(warehouse).set_index(["stage", "outcome"])["n"]
    assert acc["orders", "on or after the snapshot date"] == 3


@pytest.mark.parametrize("bad, message", [
    ({"snapshot_date": "01/03/2018"}, "snapshot_date"),
    ({"order_statuses": []}, "order_statuses is empty"),
    ({"order_statuses": " , "}, "order_statuses is empty"),
])
def test_bad_parameters_are_named(warehouse, tiny_olist, bad, message):
    load_olist(warehouse, tiny_olist)
    with pytest.raises(rfm.RfmError, match=message):
        rfm.score(warehouse, progress=None, **bad)


def test_scoring_before_any_source_says_what_to_do():
    with DuckDBWarehouse(":memory:") as empty, pytest.raises(rfm.RfmError, match="use_olist"):
        rfm.score(empty, progress=None)
    with DuckDBWarehouse(":memory:") as empty, pytest.raises(rfm.RfmError, match="notebook 01"):
        rfm.use_olist(empty)


def test_no_purchase_at_all_is_a_clear_error(warehouse, tiny_olist):
    load_olist(warehouse, tiny_olist)
    with pytest.raises(rfm.RfmError, match="no purchases"):
        rfm.score(warehouse, order_statuses=["no-such-status"], progress=None)


def test_summaries_cover_every_segment_and_every_customer(warehouse, small_olist, tmp_path):
    load_olist(warehouse, small_olist)
    result = rfm.score(warehouse, progress=None)
    summary = rfm.segment_summary(warehouse, backends.get(RunConfig(run_dir=tmp_path / "run")))
    assert (tmp_path / "run" / "exports" / "segment_summary_000.csv").exists()
    assert len(summary) == 11 and summary["customers"].sum() == result.customers
    assert summary["customer_share_%"].sum() == pytest.approx(100, abs=0.2)
    grid = rfm.score_grid(warehouse)
    assert grid["customers"].sum() == result.customers
    total = warehouse.query("SELECT SUM(monetary) AS s FROM rfm_scores")["s"].astype(float).iloc[0]
    assert grid["revenue"].sum() == pytest.approx(total)
    bounds = rfm.score_bounds(warehouse)
    assert list(bounds.index) == [5, 4, 3, 2, 1]
    acc = rfm.accounting(warehouse)
    rows = acc[acc["stage"] == "transaction rows"]["n"].sum()
    assert rows == warehouse.row_count("olist_order_payments")


def test_export_writes_the_scores_as_csv(warehouse, small_olist, tmp_path):
    load_olist(warehouse, small_olist)
    rfm.score(warehouse, progress=None)
    exporter = LocalExporter(RunConfig.resolve(run_dir=tmp_path / "run").exports_dir)
    paths = exporter.export(warehouse, "rfm_scores", order_by="customer_id")
    assert [p.name for p in paths] == ["rfm_scores_000.csv"]
    exported = pd.read_csv(paths[0])
    assert list(exported.columns) == list(warehouse.table_columns("rfm_scores")["name"])
    assert len(exported) == warehouse.row_count("rfm_scores")
    assert exported["customer_id"].is_monotonic_increasing
    exporter.export(warehouse, "rfm_scores", order_by="customer_id")  # re-run overwrites
    with pytest.raises(ValueError, match="does not exist"):
        exporter.export(warehouse, "no_such_table")
