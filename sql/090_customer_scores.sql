-- Mart: every scored customer with what the workshop learned about them, read by the dashboards
-- (notebook 07). One row per customer in rfm_scores; built from the models' outputs:
--   rfm_scores (notebook 02)        segment, recency_days, frequency, monetary
--   customer_segments (notebook 03) cluster, cluster_label (NULL when notebook 03 has not run:
--                                   marts.build then creates it empty from 070)
--   customer_value (notebook 05)    P(alive), expected purchases, CLV, value at risk; for these
--                                   (transaction) customers churn risk is 1 − P(alive)
--   churn_predictions (notebook 06) a churn classifier's probability and label, for customers
--                                   customer_value does not cover (contractual data)
--   churn_alerts (notebooks 05/08)  alert status and overdue ratio (distance to churn)
-- The optional inputs are created empty by marts.customer_scores when missing.
-- revenue_at_risk = monetary × churn_probability, rounded to cents.
-- The caller checks first that every customer of rfm_scores has a churn risk from one of them.

DROP TABLE IF EXISTS customer_scores;

CREATE TABLE customer_scores (
    customer_id          VARCHAR(256)     NOT NULL ENCODE zstd,
    segment              VARCHAR(32)      NOT NULL ENCODE zstd,  -- the named RFM segment
    recency_days         INTEGER          NOT NULL,
    frequency            INTEGER          NOT NULL,
    monetary             DECIMAL(18, 2)   NOT NULL,
    cluster              SMALLINT,                               -- k-means cluster, 0 = largest
    cluster_label        VARCHAR(128)     ENCODE zstd,
    churn_probability    DOUBLE PRECISION NOT NULL,
    churn_label          SMALLINT         NOT NULL,              -- 1 = at or above the threshold
    revenue_at_risk      DECIMAL(18, 2)   NOT NULL,
    churn_model          VARCHAR(128)     NOT NULL ENCODE zstd,
    churn_model_version  VARCHAR(256)     NOT NULL ENCODE zstd,  -- MLflow version or package ARN
    churn_model_approved BOOLEAN          NOT NULL,
    scored_at            DATE             NOT NULL,              -- the RFM snapshot date
    p_alive              DOUBLE PRECISION,                       -- NULL without customer_value
    expected_purchases_365d DOUBLE PRECISION,
    clv                  DOUBLE PRECISION,                       -- discounted expected spend
    value_at_risk        DOUBLE PRECISION,                       -- clv × (1 − p_alive)
    alert_status         VARCHAR(16),                            -- active/alert/critical/churned
    overdue_ratio        DOUBLE PRECISION,                       -- days since last ÷ critical gap
    PRIMARY KEY (customer_id)
)
DISTKEY (customer_id)
SORTKEY (segment, churn_probability);

INSERT INTO customer_scores
WITH customers AS (
    SELECT customer_id, segment, recency_days, frequency, monetary
    FROM rfm_scores
),

clusters AS (
    SELECT customer_id, cluster, cluster_label
    FROM customer_segments
),

predictions AS (
    SELECT customer_id, churn_probability, churn_label, churn_model, churn_model_version,
           churn_model_approved, scored_at
    FROM churn_predictions
),

customer_values AS (
    SELECT customer_id, p_alive, expected_purchases_365d, clv, value_at_risk, churn_risk,
           churn_label, value_model, calibration_end
    FROM customer_value
),

risk AS (  -- P(alive) where the customer-value models cover the customer, else the classifier
    SELECT c.customer_id,
           COALESCE(v.churn_risk, p.churn_probability)                        AS churn_probability,
           COALESCE(v.churn_label, p.churn_label)                             AS churn_label,
           COALESCE(v.value_model, p.churn_model)                             AS churn_model,
           CASE WHEN v.customer_id IS NOT NULL
                THEN 'fitted to ' || CAST(v.calibration_end AS VARCHAR(10))
                ELSE p.churn_model_version END                                AS churn_model_version,
           CASE WHEN v.customer_id IS NOT NULL THEN TRUE
                ELSE p.churn_model_approved END                               AS churn_model_approved,
           COALESCE(p.scored_at, DATEADD(day, 1, v.calibration_end))          AS scored_at,
           v.p_alive,
           v.expected_purchases_365d,
           v.clv,
           v.value_at_risk
    FROM customers AS c
    LEFT JOIN predictions AS p ON p.customer_id = c.customer_id
    LEFT JOIN customer_values AS v ON v.customer_id = c.customer_id
    WHERE p.customer_id IS NOT NULL OR v.customer_id IS NOT NULL
)

SELECT c.customer_id,
       c.segment,
       c.recency_days,
       c.frequency,
       c.monetary,
       k.cluster,
       k.cluster_label,
       r.churn_probability,
       r.churn_label,
       CAST(ROUND(CAST(c.monetary AS DOUBLE PRECISION) * r.churn_probability, 2) AS DECIMAL(18, 2))
           AS revenue_at_risk,
       r.churn_model,
       r.churn_model_version,
       r.churn_model_approved,
       CAST(r.scored_at AS DATE) AS scored_at,
       r.p_alive,
       r.expected_purchases_365d,
       r.clv,
       r.value_at_risk,
       a.status        AS alert_status,
       a.overdue_ratio
FROM customers AS c
JOIN risk AS r ON r.customer_id = c.customer_id
LEFT JOIN clusters AS k ON k.customer_id = c.customer_id
LEFT JOIN churn_alerts AS a ON a.customer_id = c.customer_id;
