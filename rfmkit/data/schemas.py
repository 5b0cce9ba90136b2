"""The Olist tables the workshop uses: files, columns, keys and checks (no I/O here: the sources
in olist.py and the generator in synthetic.py both build on these)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TableSpec:
    """One raw table: its Kaggle file, columns in file order, keys and checks."""

    table: str
    file_name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    not_null: tuple[str, ...] = ()
    references: tuple[tuple[str, str, str], ...] = ()  # (column, other table, other column)
    non_negative: tuple[str, ...] = ()
    timestamps: tuple[str, ...] = ()
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)


ORDER_STATUSES = ("delivered", "shipped", "canceled", "unavailable", "invoiced", "processing",
                  "created", "approved")
PAYMENT_TYPES = ("credit_card", "boleto", "voucher", "debit_card", "not_defined")

CUSTOMERS = TableSpec(
    table="olist_customers",
    file_name="olist_customers_dataset.csv",
    columns=("customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city",
             "customer_state"),
    primary_key=("customer_id",),
    not_null=("customer_id", "customer_unique_id"),
)
ORDERS = TableSpec(
    table="olist_orders",
    file_name="olist_orders_dataset.csv",
    columns=("order_id", "customer_id", "order_status", "order_purchase_timestamp",
             "order_approved_at", "order_delivered_carrier_date",
             "order_delivered_customer_date", "order_estimated_delivery_date"),
    primary_key=("order_id",),
    not_null=("order_id", "customer_id", "order_status", "order_purchase_timestamp"),
    references=(("customer_id", "olist_customers", "customer_id"),),
    timestamps=("order_purchase_timestamp", "order_approved_at", "order_delivered_carrier_date",
                "order_delivered_customer_date", "order_estimated_delivery_date"),
    categories={"order_status": ORDER_STATUSES},
)
PAYMENTS = TableSpec(
    table="olist_order_payments",
    file_name="olist_order_payments_dataset.csv",
    columns=("order_id", "payment_sequential", "payment_type", "payment_installments",
             "payment_value"),
    primary_key=("order_id", "payment_sequential"),
    not_null=("order_id", "payment_sequential", "payment_type", "payment_value"),
    references=(("order_id", "olist_orders", "order_id"),),
    non_negative=("payment_installments", "payment_value"),
    categories={"payment_type": PAYMENT_TYPES},
)
TABLES: dict[str, TableSpec] = {t.table: t for t in (CUSTOMERS, ORDERS, PAYMENTS)}
