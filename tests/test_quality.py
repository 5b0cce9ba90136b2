"""Quality checks and calibration SQL in the given/expect style: small input rows, exact results."""

import pytest

from rfmkit.data import calibration, quality


def given(warehouse, customers=(), orders=(), payments=()):
    for table, rows in (("olist_customers", customers), ("olist_orders", orders),
                        ("olist_order_payments", payments)):
        for row in rows:
            marks = ", ".join(f":v{i}" for i in range(len(row)))
            warehouse.execute(f"INSERT INTO {table} VALUES ({marks})", {f"v{i}": v for i, v in enumerate(row)})


CUSTOMERS = [("c1", "p1", "01037", "sao paulo", "SP"), ("c2", "p1", "01037", "sao paulo", "SP"),
             ("c3", "p2", "20000", "rio de janeiro", "RJ")]
ORDERS = [("o1", "c1", "delivered", "2017-01-05 10:00:00", "2017-01-05 10:10:00", None, None, "2017-01-20 00:00:00"),
          ("o2", "c2", "delivered", "2017-03-01 09:00:00", None, None, None, "2017-03-20 00:00:00"),
          ("o3", "c3", "canceled", "2017-02-01 09:00:00", None, None, None, "2017-02-20 00:00:00")]
PAYMENTS = [("o1", 1, "credit_card", 3, 100.00), ("o1", 2, "voucher", 1, 20.00),
            ("o2", 1, "boleto", 1, 50.00), ("o3", 1, "credit_card", 1, 10.00)]


def checks_by_name(warehouse):
    return quality.run_checks(warehouse).set_index("check")


def test_clean_tables_pass(warehouse):
    given(warehouse, CUSTOMERS, ORDERS, PAYMENTS)
    results = quality.run_checks(warehouse)
    assert results["passed"].all() and (results["failures"] == 0).all()
    quality.assert_passed(results)


def test_duplicates_orphans_negatives_and_unknown_categories_are_counted(warehouse):
    given(warehouse, CUSTOMERS, ORDERS + [("o1", "c1", "delivered", "2017-01-05 10:00:00", None, None, None, None),
                                          ("o4", "c9", "lost", "2017-01-05 10:00:00", "2017-01-04 00:00:00", None,
                                           None, None)],
          PAYMENTS + [("o9", 1, "pix", 1, -5.00)])
    checks = checks_by_name(warehouse)
    assert checks.loc["unique order_id", "failures"] == 1
    assert checks.loc["customer_id -> olist_customers", "failures"] == 1
    assert checks.loc["order_id -> olist_orders", "failures"] == 1
    assert checks.loc["payment_value >= 0", "failures"] == 1
    assert checks.loc["payment_type known", "failures"] == 1
    assert checks.loc["order_status known", "failures"] == 1
    assert checks.loc["order_approved_at after order_purchase_timestamp", "failures"] == 1
    with pytest.raises(quality.DataQualityError, match="unique order_id failed for 1 of 5 rows"):
        quality.assert_passed(checks.reset_index())


def test_calibration_sql_on_given_rows(warehouse):
    given(warehouse, CUSTOMERS, ORDERS, PAYMENTS)
    facts = calibration.compare(warehouse).set_index("fact")["measured"]
    assert facts["orders"] == 3
    assert facts["people (customer_unique_id)"] == 2
    assert facts["repeat-customer share"] == 50.0          # p1 has two orders, p2 one
    assert facts["orders with split payments"] == pytest.approx(100 / 3, abs=0.01)
    assert facts["order total median"] == 50.0            # totals 120, 50, 10
    assert facts["credit_card share"] == 50.0
    assert facts["first purchase"] == 20170105 and facts["last purchase"] == 20170301
