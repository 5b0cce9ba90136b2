-- Mart: one row per (customer, order). The order's value is the SUM of all its transaction rows:
-- split payments (voucher + card) add up; ff-analytics-ws's any_value() kept one of them.
-- An order whose total is negative is a return or refund, not a purchase (is_purchase = false);
-- it stays in the table so that accounting can show it.

DROP TABLE IF EXISTS fct_orders;

CREATE TABLE fct_orders
DISTKEY (customer_id)
SORTKEY (customer_id)
AS
WITH counted AS (
    SELECT customer_id, order_id, purchased_at, amount
    FROM stg_transactions
    WHERE excluded_because IS NULL
),

orders AS (
    SELECT
        customer_id,
        order_id,
        MIN(purchased_at) AS ordered_at,     -- an order's rows may carry several timestamps
        SUM(amount)       AS order_value,
        COUNT(*)          AS transaction_rows
    FROM counted
    GROUP BY customer_id, order_id
)

SELECT
    customer_id,
    order_id,
    ordered_at,
    CAST(ordered_at AS DATE) AS order_date,
    order_value,
    transaction_rows,
    order_value >= 0         AS is_purchase
FROM orders;
