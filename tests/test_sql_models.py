"""Given/expect tests, one per SQL model in sql/ (dbt style): a few hand-written input rows, the
model run as the kit runs it (Redshift SQL transpiled to DuckDB), and the exact rows expected."""

import pandas as pd
import pytest

from rfmkit import rfm
from rfmkit.rfm_segments import segment_for
from rfmkit.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture
def wh():
    with DuckDBWarehouse(":memory:") as warehouse:
        yield warehouse


def given(wh, table: str, ddl: str, rows: list[tuple]) -> None:
    """Create `table` and insert `rows` (values bound, never pasted into SQL)."""
    wh.execute(f"CREATE TABLE {table} ({ddl})")
    columns = [c.split()[0] for c in ddl.split(", ")]
    for row in rows:
        wh.execute(f"INSERT INTO {table} VALUES ({', '.join(':' + c for c in columns)})",
                   dict(zip(columns, row, strict=True)))


def rows(wh, sql: str) -> list[tuple]:
    frame = wh.query(sql)
    return [tuple(None if pd.isna(v) else v for v in r) for r in frame.itertuples(index=False)]


def test_020_src_olist_transactions_one_row_per_payment_with_the_person(wh):
    given(wh, "olist_customers", "customer_id VARCHAR, customer_unique_id VARCHAR",
          [("c1", "p1"), ("c2", "p1"), ("c3", "p2")])
    given(wh, "olist_orders", "order_id VARCHAR, customer_id VARCHAR, order_status VARCHAR, "
                              "order_purchase_timestamp TIMESTAMP",
          [("o1", "c1", "delivered", "2018-01-01 10:00:00"), ("o2", "c2", "canceled", "2018-02-01 09:00:00")])
    given(wh, "olist_order_payments", "order_id VARCHAR, payment_sequential INTEGER, payment_value DECIMAL(12,2)",
          [("o1", 1, 10.5), ("o1", 2, 4.5), ("o2", 1, 7), ("o9", 1, 3)])  # o9: a payment without an order
    wh.run_file("020_src_olist_transactions.sql")
    assert rows(wh, "SELECT customer_id, order_id, CAST(amount AS DOUBLE) AS a, order_status "
                    "FROM src_transactions ORDER BY order_id, a") == [
        ("p1", "o1", 4.5, "delivered"), ("p1", "o1", 10.5, "delivered"), ("p1", "o2", 7.0, "canceled"),
        (None, "o9", 3.0, None)]  # kept: staging says why it does not count


def test_030_stg_transactions_says_why_a_row_does_not_count(wh):
    given(wh, "src_transactions", "customer_id VARCHAR, order_id VARCHAR, purchased_at TIMESTAMP, "
                                  "amount DECIMAL(18,4), order_status VARCHAR",
          [("p1", "o1", "2018-01-01", 10, "delivered"), ("", "o2", "2018-01-01", 1, "delivered"),
           ("p2", None, "2018-01-01", 1, None), ("p3", "o3", None, 1, None), ("p4", "o4", "2018-01-01", None, None),
           ("p5", "o5", "2018-01-01", 1, "canceled"), ("p6", "o6", "2018-01-01", 1, None)])
    given(wh, "rfm_counted_statuses", "order_status VARCHAR", [("delivered",)])
    wh.run_file("030_stg_transactions.sql")
    assert rows(wh, "SELECT customer_id, excluded_because FROM stg_transactions ORDER BY customer_id") == [
        ("", "no customer"), ("p1", None), ("p2", "no order"), ("p3", "no timestamp"), ("p4", "no amount"),
        ("p5", "order status not counted"), ("p6", None)]  # no status at all: counts


def test_040_fct_orders_one_row_per_counted_order(wh):
    given(wh, "stg_transactions", "customer_id VARCHAR, order_id VARCHAR, purchased_at TIMESTAMP, "
                                  "amount DECIMAL(18,4), excluded_because VARCHAR",
          [("p1", "o1", "2018-01-02 08:00:00", 10, None), ("p1", "o1", "2018-01-01 23:00:00", 5, None),
           ("p1", "o2", "2018-03-01", -2, None), ("p2", "o3", "2018-01-01", 9, "order status not counted")])
    wh.run_file("040_fct_orders.sql")
    assert rows(wh, "SELECT customer_id, order_id, order_date, CAST(order_value AS DOUBLE), transaction_rows, "
                    "is_purchase FROM fct_orders ORDER BY order_id") == [
        ("p1", "o1", pd.Timestamp(2018, 1, 1), 15.0, 2, True),  # the earliest timestamp dates the order
        ("p1", "o2", pd.Timestamp(2018, 3, 1), -2.0, 1, False)]  # a refund is an order, not a purchase


FCT_ORDERS = ("customer_id VARCHAR, order_id VARCHAR, order_date DATE, order_value DECIMAL(18,4), "
              "is_purchase BOOLEAN")


def test_050_rfm_values_before_the_snapshot_only(wh):
    given(wh, "fct_orders", FCT_ORDERS,
          [("p1", "o1", "2018-01-01", 10, True), ("p1", "o2", "2018-01-11", 20.005, True),
           ("p1", "o3", "2018-02-01", 99, True),   # on the snapshot day: not counted
           ("p2", "o4", "2018-01-21", 5, True), ("p2", "o5", "2018-01-25", -5, False)])
    wh.run_file("050_rfm_values.sql", {"snapshot_date": "2018-02-01"})
    assert rows(wh, "SELECT customer_id, recency_days, frequency, CAST(monetary AS DOUBLE), "
                    "CAST(avg_order_value AS DOUBLE), tenure_days FROM rfm_values ORDER BY customer_id") == [
        ("p1", 21, 2, 30.01, 15.0, 31), ("p2", 11, 1, 5.0, 5.0, 11)]


def test_060_rfm_scores_ties_share_a_score_and_segments_come_from_the_map(wh):
    given(wh, "rfm_values", "customer_id VARCHAR, snapshot_date DATE, first_purchase_date DATE, "
                            "last_purchase_date DATE, recency_days INTEGER, frequency INTEGER, "
                            "monetary DECIMAL(18,2), avg_order_value DECIMAL(18,2), tenure_days INTEGER",
          [(f"p{i}", "2018-02-01", "2018-01-01", "2018-01-01", r, f, m, m, 30)
           for i, (r, f, m) in enumerate([(1, 5, 500), (1, 5, 500), (300, 1, 10), (300, 1, 10), (150, 2, 50)])])
    rfm.fill_parameters(wh, ["delivered"])  # 015_rfm_parameters: the statuses and the segment map
    wh.run_file("060_rfm_scores.sql")
    scored = rows(wh, "SELECT customer_id, r_score, f_score, m_score, segment FROM rfm_scores ORDER BY customer_id")
    # score = 1 + floor(5 × share strictly worse): the tied best pair has 3 of 5 below it, the tied
    # worst pair none, the middle customer 2; a tie is never split
    assert [s[1:4] for s in scored] == [(4, 4, 4), (4, 4, 4), (1, 1, 1), (1, 1, 1), (3, 3, 3)]
    assert [s[4] for s in scored] == [segment_for(*s[1:4]) for s in scored]
    assert scored[2][4] == "Lost"


def test_080_churn_features_use_only_history_before_the_cutoff_and_081_the_payment_mix(wh):
    given(wh, "fct_orders", FCT_ORDERS,
          [("p1", "o1", "2018-01-01", 10, True), ("p1", "o2", "2018-03-02", 30, True),
           ("p1", "o3", "2018-05-01", 7, True),     # after the cutoff: the label, never a feature
           ("p2", "o4", "2017-06-01", 8, True)])
    given(wh, "olist_order_payments", "order_id VARCHAR, payment_type VARCHAR, payment_installments INTEGER, "
                                      "payment_value DECIMAL(12,2)",
          [("o1", "credit_card", 3, 10), ("o2", "boleto", 1, 30), ("o3", "voucher", 1, 7), ("o4", "boleto", 1, 8)])
    params = {"cutoff_date": "2018-04-01", "horizon_end_date": "2018-10-01"}
    wh.run_file("080_churn_features.sql", params)
    wh.run_file("081_churn_payment_mix.sql", params)
    assert rows(wh, "SELECT customer_id, recency_days, frequency, CAST(monetary AS DOUBLE), "
                    "CAST(largest_order AS DOUBLE), mean_days_between_orders, orders_last_90_days, churned "
                    "FROM churn_features ORDER BY customer_id") == [
        ("p1", 30, 2, 40.0, 30.0, 60.0, 2, 0), ("p2", 304, 1, 8.0, 8.0, None, 0, 1)]  # 90 days: from 01-01
    assert rows(wh, "SELECT customer_id, share_credit_card, share_boleto, mean_installments "
                    "FROM churn_payment_mix ORDER BY customer_id") == [("p1", 0.25, 0.75, 2.0), ("p2", 0.0, 1.0, 1.0)]


RFM_SCORES = "customer_id VARCHAR, segment VARCHAR, recency_days INTEGER, frequency INTEGER, monetary DECIMAL(18,2)"
ALERTS = "customer_id VARCHAR, status VARCHAR, overdue_ratio DOUBLE, needs_contact BOOLEAN"


def no_value_yet(wh):
    """Before notebook 05: customer_value and churn_alerts exist, empty (as marts creates them)."""
    wh.run_file("110_customer_value.sql")
    given(wh, "churn_alerts", ALERTS, [])


def test_090_customer_scores_joins_scores_clusters_and_predictions(wh):
    given(wh, "rfm_scores", RFM_SCORES, [("p1", "Champions", 5, 3, 100), ("p2", "Lost", 400, 1, 33.33)])
    wh.run_file("085_churn_predictions.sql")
    given(wh, "churn_predictions_rows", "customer_id VARCHAR, churn_probability DOUBLE, churn_label SMALLINT",
          [("p1", 0.1, 0), ("p2", 0.6, 1)])
    wh.execute("INSERT INTO churn_predictions SELECT customer_id, churn_probability, churn_label, 'm', '3', "
               "false, DATE '2018-10-18' FROM churn_predictions_rows")
    wh.run_file("070_customer_segments.sql")  # notebook 03 has not run: customer_segments is empty
    no_value_yet(wh)
    wh.run_file("090_customer_scores.sql")
    assert rows(wh, "SELECT customer_id, segment, cluster, CAST(revenue_at_risk AS DOUBLE), churn_label, "
                    "churn_model_version FROM customer_scores ORDER BY customer_id") == [
        ("p1", "Champions", None, 10.0, 0, "3"), ("p2", "Lost", None, 20.0, 1, "3")]  # 33.33 × 0.6 = 19.998


def test_095_segment_summary_before_and_after_a_churn_model_scores(wh):
    given(wh, "rfm_scores", RFM_SCORES, [("p1", "Lost", 400, 1, 10), ("p2", "Lost", 300, 1, 30),
                                         ("p3", "Champions", 5, 4, 100)])
    wh.run_file("085_churn_predictions.sql")  # notebook 02: no predictions yet (an empty table)
    no_value_yet(wh)
    wh.run_file("095_segment_summary.sql")
    assert rows(wh, "SELECT segment, customers, CAST(revenue AS DOUBLE), mean_recency_days, scored, "
                    "revenue_at_risk FROM segment_summary ORDER BY segment") == [
        ("Champions", 1, 100.0, 5.0, 0, None), ("Lost", 2, 40.0, 350.0, 0, None)]
    wh.execute("INSERT INTO churn_predictions VALUES ('p1', 0.5, 1, 'm', '1', true, DATE '2018-10-18'), "
               "('p2', 0.9, 1, 'm', '1', true, DATE '2018-10-18'), ('p3', 0.2, 0, 'm', '1', true, DATE '2018-10-18')")
    wh.run_file("095_segment_summary.sql")
    assert rows(wh, "SELECT segment, scored, mean_churn_probability, churn_probability_p50, flagged, "
                    "CAST(revenue_at_risk AS DOUBLE) FROM segment_summary ORDER BY segment") == [
        ("Champions", 1, 0.2, 0.2, 0, 20.0), ("Lost", 2, 0.7, 0.7, 2, 32.0)]


def test_090_and_095_take_churn_risk_from_p_alive_where_customers_are_valued(wh):
    given(wh, "rfm_scores", RFM_SCORES, [("p1", "Champions", 5, 3, 100), ("p2", "Lost", 400, 1, 40)])
    wh.run_file("085_churn_predictions.sql")
    wh.execute("INSERT INTO churn_predictions VALUES ('p1', 0.9, 1, 'clf', '3', false, DATE '2018-10-18'), "
               "('p2', 0.6, 1, 'clf', '3', false, DATE '2018-10-18')")
    wh.run_file("110_customer_value.sql")
    wh.execute("INSERT INTO customer_value VALUES ('p1', 2, 30, 60, 0.75, 0.1, 0.3, 1.2, 50, 80, 20, 0.25, 0, "
               "'MBG/NBD + Gamma-Gamma', 'days', 12, DATE '2018-10-17')")
    given(wh, "churn_alerts", ALERTS, [("p1", "alert", 0.85, True), ("p2", "churned", 2.0, False)])
    wh.run_file("070_customer_segments.sql")
    wh.run_file("090_customer_scores.sql")
    assert rows(wh, "SELECT customer_id, churn_probability, churn_label, churn_model, churn_model_version, "
                    "churn_model_approved, scored_at, p_alive, clv, value_at_risk, alert_status, "
                    "CAST(revenue_at_risk AS DOUBLE) FROM customer_scores ORDER BY customer_id") == [
        ("p1", 0.25, 0, "MBG/NBD + Gamma-Gamma", "fitted to 2018-10-17", True, pd.Timestamp("2018-10-18"),
         0.75, 80.0, 20.0, "alert", 25.0),
        ("p2", 0.6, 1, "clf", "3", False, pd.Timestamp("2018-10-18"), None, None, None, "churned", 24.0)]
    wh.run_file("095_segment_summary.sql")
    assert rows(wh, "SELECT segment, mean_churn_probability, mean_p_alive, clv, value_at_risk, need_contact "
                    "FROM segment_summary ORDER BY segment") == [
        ("Champions", 0.25, 0.75, 80.0, 20.0, 1), ("Lost", 0.6, None, None, None, 0)]
