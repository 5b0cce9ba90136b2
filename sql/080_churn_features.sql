-- Mart: churn features and labels derived from transactions (notebook 04).
--
-- Time is split at :cutoff_date. Everything a feature uses happened BEFORE the cutoff; the label
-- looks only at the window [:cutoff_date, :horizon_end_date). A customer is in the data set when
-- they bought before the cutoff; churned = 1 when they made no purchase in the window.
-- No feature may read an order on or after the cutoff: that would leak the label into the model
-- (tests plant such an order and check that no feature changes).

DROP TABLE IF EXISTS churn_features;

CREATE TABLE churn_features
DISTKEY (customer_id)
AS
WITH history AS (                      -- purchases before the cutoff: the only input of features
    SELECT customer_id, order_id, order_date, order_value
    FROM fct_orders
    WHERE is_purchase
      AND order_date < CAST(:cutoff_date AS DATE)
),

per_customer AS (
    SELECT
        customer_id,
        COUNT(*)         AS frequency,
        SUM(order_value) AS monetary,
        MAX(order_value) AS largest_order,
        MIN(order_date)  AS first_purchase,
        MAX(order_date)  AS last_purchase,
        SUM(CASE WHEN order_date >= DATEADD(day, -90, CAST(:cutoff_date AS DATE)) THEN 1 ELSE 0 END)
                         AS orders_last_90_days
    FROM history
    GROUP BY customer_id
),

came_back AS (                         -- the label window, read for the label only
    SELECT DISTINCT customer_id
    FROM fct_orders
    WHERE is_purchase
      AND order_date >= CAST(:cutoff_date AS DATE)
      AND order_date < CAST(:horizon_end_date AS DATE)
)

SELECT
    p.customer_id,
    -- recency, frequency, monetary as of the cutoff (calendar days, as in rfm_values)
    DATEDIFF(day, p.last_purchase, CAST(:cutoff_date AS DATE))  AS recency_days,
    p.frequency,
    CAST(p.monetary AS DECIMAL(18,2))                           AS monetary,
    CAST(p.monetary / p.frequency AS DECIMAL(18,2))             AS avg_order_value,
    CAST(p.largest_order AS DECIMAL(18,2))                      AS largest_order,
    DATEDIFF(day, p.first_purchase, CAST(:cutoff_date AS DATE)) AS tenure_days,
    -- cadence: mean days between orders; NULL for one-time buyers (no gap to measure)
    CASE WHEN p.frequency > 1
         THEN CAST(DATEDIFF(day, p.first_purchase, p.last_purchase) AS DOUBLE PRECISION)
              / (p.frequency - 1)
    END                                                         AS mean_days_between_orders,
    p.orders_last_90_days,
    CASE WHEN c.customer_id IS NULL THEN 1 ELSE 0 END           AS churned
FROM per_customer AS p
LEFT JOIN came_back AS c ON c.customer_id = p.customer_id;
