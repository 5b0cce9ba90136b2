-- Mart: Recency, Frequency and Monetary value per customer as of :snapshot_date.
--
-- The snapshot is the start of :snapshot_date: purchases on that day or later are ignored
-- (rfmkit's default snapshot is the day after the last purchase, so nothing is ignored).
-- Recency is counted in calendar dates, never in elapsed time: DATEDIFF(day, d1, d2) on two
-- DATEs is d2 - d1 on Redshift and DuckDB alike (both count day boundaries), so a purchase on
-- the day before the snapshot has recency 1 whatever its time of day. Tenure is the same count
-- from the first purchase. Monetary is total spend; average order value is monetary / frequency.

DROP TABLE IF EXISTS rfm_values;

CREATE TABLE rfm_values
DISTKEY (customer_id)
AS
WITH purchases AS (
    SELECT customer_id, order_date, order_value
    FROM fct_orders
    WHERE is_purchase
      AND order_date < CAST(:snapshot_date AS DATE)
),

per_customer AS (
    SELECT
        customer_id,
        MIN(order_date)  AS first_purchase_date,
        MAX(order_date)  AS last_purchase_date,
        COUNT(*)         AS frequency,        -- distinct orders: fct_orders has one row per order
        SUM(order_value) AS monetary
    FROM purchases
    GROUP BY customer_id
)

SELECT
    customer_id,
    CAST(:snapshot_date AS DATE)                                           AS snapshot_date,
    first_purchase_date,
    last_purchase_date,
    DATEDIFF(day, last_purchase_date, CAST(:snapshot_date AS DATE))        AS recency_days,
    frequency,
    CAST(ROUND(monetary, 2) AS DECIMAL(18,2))                              AS monetary,
    CAST(ROUND(monetary / frequency, 2) AS DECIMAL(18,2))                  AS avg_order_value,
    DATEDIFF(day, first_purchase_date, CAST(:snapshot_date AS DATE))       AS tenure_days
FROM per_customer;
