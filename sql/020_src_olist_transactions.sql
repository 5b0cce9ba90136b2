-- Source: the Olist tables as the transaction-log contract every RFM model reads,
--   src_transactions(customer_id, order_id, purchased_at, amount, order_status)
-- one row per payment row (the transaction grain). Any other log gets the same view from the
-- mapping layer (rfmkit.transactions), so the models below never know where the data came from.
-- Payments are the driving table so that a payment whose order or customer is missing stays
-- visible (staging counts it out with a reason) instead of vanishing in an inner join.
--
-- Orders are joined to their person once, into olist_order_people, instead of inside the view:
-- a view with both joins makes every query over it hold two order-sized hash tables at once,
-- which does not fit in DuckDB's memory limit at 100M payment rows (one join at a time does,
-- spilling to disk as needed). On Redshift it is also the natural table to distribute by order.

DROP VIEW IF EXISTS src_transactions CASCADE;

DROP TABLE IF EXISTS olist_order_people;

CREATE TABLE olist_order_people
DISTKEY (order_id)
SORTKEY (order_id)
AS
SELECT
    o.order_id,
    c.customer_unique_id,        -- Olist issues a new customer_id per order; this is the person
    o.order_status,
    o.order_purchase_timestamp
FROM olist_orders AS o
LEFT JOIN olist_customers AS c ON c.customer_id = o.customer_id;

CREATE OR REPLACE VIEW src_transactions AS
SELECT
    CAST(op.customer_unique_id AS VARCHAR(256)) AS customer_id,
    CAST(p.order_id AS VARCHAR(256))            AS order_id,
    op.order_purchase_timestamp                 AS purchased_at,
    CAST(p.payment_value AS DECIMAL(18,4))      AS amount,
    CAST(op.order_status AS VARCHAR(64))        AS order_status
FROM olist_order_payments AS p
LEFT JOIN olist_order_people AS op ON op.order_id = p.order_id;
