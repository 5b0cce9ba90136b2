-- Mart: R, F and M scores 1-5, the 0-5 normalised values and the named segment per customer.
--
-- Scores are quintiles with one explicit tie policy: a customer's score is
--     1 + floor(5 * share of customers strictly worse on that measure)
-- (strictly worse = longer recency, fewer orders, less spend), so 5 = most recent / most orders /
-- highest spend. Customers with equal values always get equal scores; a tie is never split
-- across scores by the accident of row order, as NTILE does. The comparisons below are that
-- formula in integer arithmetic (identical on Redshift and DuckDB, no division rounding).
-- When one value dominates, its customers share the lowest score: on Olist about 97 % buy once,
-- so every one-time buyer gets F = 1 and every repeat buyer F = 5 (notebook 02 explains).
--
-- The normalised columns follow the ff-analytics-ws workshop (its QuickSight and k-means inputs):
-- min-max scaled to 0-5 with bounds taken from the data instead of typed-in constants.
-- recency_norm keeps recency's direction (0 = most recent, 5 = longest ago).

DROP TABLE IF EXISTS rfm_scores;

CREATE TABLE rfm_scores
DISTKEY (customer_id)
SORTKEY (segment)
AS
WITH bounds AS (
    SELECT
        COUNT(*)          AS customers,
        MIN(recency_days) AS recency_min,
        MAX(recency_days) AS recency_max,
        MIN(frequency)    AS frequency_min,
        MAX(frequency)    AS frequency_max,
        MIN(monetary)     AS monetary_min,
        MAX(monetary)     AS monetary_max
    FROM rfm_values
),

-- "strictly worse" counts per distinct value: a running total over the few distinct values
-- (hundreds of recency days, a handful of frequencies) instead of sorting every customer.
recency_ranks AS (
    SELECT recency_days,
           COALESCE(SUM(COUNT(*)) OVER (ORDER BY recency_days DESC
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS worse                                                 -- strictly longer ago
    FROM rfm_values
    GROUP BY recency_days
),

frequency_ranks AS (
    SELECT frequency,
           COALESCE(SUM(COUNT(*)) OVER (ORDER BY frequency ASC
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS worse                                                 -- strictly fewer orders
    FROM rfm_values
    GROUP BY frequency
),

monetary_ranks AS (
    SELECT monetary,
           COALESCE(SUM(COUNT(*)) OVER (ORDER BY monetary ASC
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS worse                                                 -- strictly less spend
    FROM rfm_values
    GROUP BY monetary
),

ranked AS (
    SELECT
        v.customer_id,
        v.snapshot_date,
        v.first_purchase_date,
        v.last_purchase_date,
        v.recency_days,
        v.frequency,
        v.monetary,
        v.avg_order_value,
        v.tenure_days,
        r.worse AS less_recent,
        f.worse AS less_frequent,
        m.worse AS less_monetary,
        b.*
    FROM rfm_values AS v
    JOIN recency_ranks AS r ON r.recency_days = v.recency_days
    JOIN frequency_ranks AS f ON f.frequency = v.frequency
    JOIN monetary_ranks AS m ON m.monetary = v.monetary
    CROSS JOIN bounds AS b
),

scored AS (
    SELECT
        *,
        CASE WHEN 5 * less_recent >= 4 * customers THEN 5
             WHEN 5 * less_recent >= 3 * customers THEN 4
             WHEN 5 * less_recent >= 2 * customers THEN 3
             WHEN 5 * less_recent >= customers THEN 2
             ELSE 1 END AS r_score,
        CASE WHEN 5 * less_frequent >= 4 * customers THEN 5
             WHEN 5 * less_frequent >= 3 * customers THEN 4
             WHEN 5 * less_frequent >= 2 * customers THEN 3
             WHEN 5 * less_frequent >= customers THEN 2
             ELSE 1 END AS f_score,
        CASE WHEN 5 * less_monetary >= 4 * customers THEN 5
             WHEN 5 * less_monetary >= 3 * customers THEN 4
             WHEN 5 * less_monetary >= 2 * customers THEN 3
             WHEN 5 * less_monetary >= customers THEN 2
             ELSE 1 END AS m_score
    FROM ranked
)

SELECT
    s.customer_id,
    s.snapshot_date,
    s.first_purchase_date,
    s.last_purchase_date,
    s.recency_days,
    s.frequency,
    s.monetary,
    s.avg_order_value,
    s.tenure_days,
    s.r_score,
    s.f_score,
    s.m_score,
    m.rfm_code,
    m.segment,
    -- min-max to 0-5; a measure with a single value everywhere scales to 0
    CAST(COALESCE(CAST(5 * (s.recency_days - s.recency_min) AS DOUBLE PRECISION)
                  / NULLIF(s.recency_max - s.recency_min, 0), 0) AS DECIMAL(7,4)) AS recency_norm,
    CAST(COALESCE(CAST(5 * (s.frequency - s.frequency_min) AS DOUBLE PRECISION)
                  / NULLIF(s.frequency_max - s.frequency_min, 0), 0) AS DECIMAL(7,4)) AS frequency_norm,
    CAST(COALESCE(CAST(5 * (s.monetary - s.monetary_min) AS DOUBLE PRECISION)
                  / NULLIF(s.monetary_max - s.monetary_min, 0), 0) AS DECIMAL(7,4)) AS monetary_norm
FROM scored AS s
JOIN rfm_segment_map AS m
    ON m.r_score = s.r_score AND m.f_score = s.f_score AND m.m_score = s.m_score;
