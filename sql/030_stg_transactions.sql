-- Staging: every source row, with the reason it does not count (NULL when it counts).
-- Nothing is filtered out silently here: rfmkit.rfm.accounting() reports rows per reason.
-- A row without a status (logs that have none) counts; with a status it counts only when the
-- status is listed in rfm_counted_statuses (parameter order_statuses).

CREATE OR REPLACE VIEW stg_transactions AS
WITH source AS (
    SELECT customer_id, order_id, purchased_at, amount, order_status
    FROM src_transactions
),

counted_statuses AS (
    SELECT DISTINCT order_status
    FROM rfm_counted_statuses
)

SELECT
    s.customer_id,
    s.order_id,
    s.purchased_at,
    s.amount,
    s.order_status,
    CASE
        WHEN s.customer_id IS NULL OR s.customer_id = '' THEN 'no customer'
        WHEN s.order_id IS NULL THEN 'no order'
        WHEN s.purchased_at IS NULL THEN 'no timestamp'
        WHEN s.amount IS NULL THEN 'no amount'
        WHEN s.order_status IS NOT NULL AND c.order_status IS NULL THEN 'order status not counted'
    END AS excluded_because
FROM source AS s
LEFT JOIN counted_statuses AS c ON c.order_status = s.order_status;
