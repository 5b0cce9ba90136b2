"""How loaded Olist data compares with the facts measured on the real Kaggle files.

Used by notebook 01 (to show what the synthetic data is calibrated to) and by the tests that
hold the generator to its targets.
"""

from __future__ import annotations

import pandas as pd

from rfmkit.warehouse.base import Warehouse

# fact: (real value, tolerance for synthetic data at scale 1, unit)
REAL_FACTS: dict[str, tuple[float, float, str]] = {
    "orders": (99_441, 994.41, "rows"),
    "people (customer_unique_id)": (96_096, 1_922, "rows"),
    "repeat-customer share": (3.12, 0.5, "%"),
    "payment rows": (103_886, 2_077, "rows"),
    "orders with split payments": (2.98, 0.5, "%"),
    "credit_card share": (73.92, 1.0, "% of payment rows"),
    "boleto share": (19.04, 1.0, "% of payment rows"),
    "voucher share": (5.56, 1.0, "% of payment rows"),
    "debit_card share": (1.47, 1.0, "% of payment rows"),
    "delivered share": (97.02, 0.5, "% of orders"),
    "payment_value mean": (154.10, 8.0, "BRL"),
    "payment_value median": (100.00, 5.0, "BRL"),
    "order total median": (105.29, 5.0, "BRL"),
    "installments mean": (2.85, 0.15, ""),
    "SP share": (42.0, 1.5, "% of customers"),
    "first purchase": (20160904, 0, "date"),
    "last purchase": (20181017, 0, "date"),
}

MEASURE_SQL = {
    "orders": "SELECT COUNT(*) AS v FROM olist_orders",
    "people (customer_unique_id)":
        "SELECT COUNT(DISTINCT customer_unique_id) AS v FROM olist_customers",
    "repeat-customer share":
        "SELECT 100.0 * SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) / COUNT(*) AS v FROM "
        "(SELECT c.customer_unique_id, COUNT(DISTINCT o.order_id) AS n FROM olist_orders o "
        "JOIN olist_customers c ON c.customer_id = o.customer_id GROUP BY 1) p",
    "payment rows": "SELECT COUNT(*) AS v FROM olist_order_payments",
    "orders with split payments":
        "SELECT 100.0 * SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) / COUNT(*) AS v FROM "
        "(SELECT order_id, COUNT(*) AS n FROM olist_order_payments GROUP BY 1) p",
    "delivered share":
        "SELECT 100.0 * SUM(CASE WHEN order_status = 'delivered' THEN 1 ELSE 0 END) / COUNT(*)"
        " AS v FROM olist_orders",
    "payment_value mean": "SELECT AVG(payment_value) AS v FROM olist_order_payments",
    "payment_value median": "SELECT MEDIAN(payment_value) AS v FROM olist_order_payments",
    "order total median":
        "SELECT MEDIAN(total) AS v FROM (SELECT order_id, SUM(payment_value) AS total "
        "FROM olist_order_payments GROUP BY 1) t",
    "installments mean":
        "SELECT AVG(CAST(payment_installments AS DOUBLE PRECISION)) AS v FROM olist_order_payments",
    "SP share":
        "SELECT 100.0 * SUM(CASE WHEN customer_state = 'SP' THEN 1 ELSE 0 END) / COUNT(*) AS v "
        "FROM olist_customers",
    "first purchase":
        "SELECT CAST(TO_CHAR(MIN(order_purchase_timestamp), 'YYYYMMDD') AS INT) AS v "
        "FROM olist_orders",
    "last purchase":
        "SELECT CAST(TO_CHAR(MAX(order_purchase_timestamp), 'YYYYMMDD') AS INT) AS v "
        "FROM olist_orders",
}
for _type in ("credit_card", "boleto", "voucher", "debit_card"):
    MEASURE_SQL[f"{_type} share"] = (
        f"SELECT 100.0 * SUM(CASE WHEN payment_type = '{_type}' THEN 1 ELSE 0 END) / COUNT(*) "
        f"AS v FROM olist_order_payments")


def compare(warehouse: Warehouse, scale: float = 1.0) -> pd.DataFrame:
    """Measured vs real, one row per fact; counts are compared after dividing by `scale`."""
    rows = []
    for fact, (real, tolerance, unit) in REAL_FACTS.items():
        measured = float(warehouse.query(MEASURE_SQL[fact])["v"].iloc[0])
        comparable = measured / scale if unit == "rows" else measured
        rows.append({"fact": fact, "real": real, "measured": round(measured, 2),
                     "tolerance": tolerance, "unit": unit,
                     "within": abs(comparable - real) <= tolerance})
    return pd.DataFrame(rows)
