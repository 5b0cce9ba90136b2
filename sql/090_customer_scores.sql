-- Mart: every scored customer with what the workshop learned about them (notebook 05), read by
-- the dashboards (notebook 06). One row per customer in rfm_scores.
--
-- segment comes from RFM (notebook 02), cluster from k-means (notebook 03; NULL when notebook 03
-- has not run), churn_probability from the churn model named in churn_model / churn_model_version.
-- churn_model_approved says whether that version was approved for production: on data where no
-- model passes the quality gate the newest version scores instead and is marked FALSE, so a
-- dashboard can say so. revenue_at_risk = monetary × churn_probability.

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
