-- Mart: every scored customer with what the workshop learned about them, read by the dashboards
-- (notebook 06). One row per customer in rfm_scores; built from the models' outputs:
--   rfm_scores (notebook 02)        segment, recency_days, frequency, monetary
--   customer_segments (notebook 03) cluster, cluster_label (NULL when notebook 03 has not run:
--                                   marts.build then creates it empty from 070)
--   churn_predictions (notebook 05) churn_probability, churn_label and which model scored
-- revenue_at_risk = monetary × churn_probability, rounded to cents.
-- The caller checks first that churn_predictions covers every customer of rfm_scores.

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
)

SELECT c.customer_id,
       c.segment,
       c.recency_days,
       c.frequency,
       c.monetary,
       k.cluster,
       k.cluster_label,
       p.churn_probability,
       p.churn_label,
       CAST(ROUND(CAST(c.monetary AS DOUBLE PRECISION) * p.churn_probability, 2) AS DECIMAL(18, 2))
           AS revenue_at_risk,
       p.churn_model,
       p.churn_model_version,
       p.churn_model_approved,
       p.scored_at
FROM customers AS c
JOIN predictions AS p ON p.customer_id = c.customer_id
LEFT JOIN clusters AS k ON k.customer_id = c.customer_id;
