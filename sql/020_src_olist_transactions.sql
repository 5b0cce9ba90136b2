-- Source: the Olist tables as the transaction-log contract every RFM model reads,
--   src_transactions(customer_id, order_id, purchased_at, amount, order_status)
-- one row per payment row (the transaction grain). Any other log gets the same view from the
-- mapping layer (rfmkit.transactions), so the models below never know where the data came from.
-- Payments are the driving table so that a payment whose order or customer is missing stays
-- visible (staging counts it out with a reason) instead of vanishing in an inner join.

DROP VIEW IF EXISTS src_transactions CASCADE;

CREATE OR REPLACE VIEW src_transactions AS
WITH payments AS (
    SELECT order_id, payment_value
    FROM olist_order_payments
),

orders AS (
    SELECT order_id, customer_id, order_status, order_purchase_timestamp
    FROM olist_orders
),

customers AS (
    -- Olist issues a new customer_id for every order; customer_unique_id is the person.
    SELECT customer_id, customer_unique_id
    FROM olist_customers
)

SELECT
    CAST(c.customer_unique_id AS VARCHAR(256)) AS customer_id,
    CAST(p.order_id AS VARCHAR(256))           AS order_id,
    o.order_purchase_timestamp                 AS purchased_at,
    CAST(p.payment_value AS DECIMAL(18,4))     AS amount,
    CAST(o.order_status AS VARCHAR(64))        AS order_status
FROM payments AS p
LEFT JOIN orders AS o ON o.order_id = p.order_id
LEFT JOIN customers AS c ON c.customer_id = o.customer_id;
