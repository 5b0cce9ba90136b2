-- Staging: the churn model's prediction for each customer, as the batch scorer wrote it
-- (notebook 06; notebook 04 writes its freshly trained model's the same way). Loaded with the
-- audited COPY; customer_scores and segment_summary join it.
--
-- churn_model_approved says whether that version was approved for production: on data where no
-- model passes the quality gate the newest version scores instead and is marked FALSE.

DROP TABLE IF EXISTS churn_predictions;

CREATE TABLE churn_predictions (
    customer_id          VARCHAR(256)     NOT NULL ENCODE zstd,
    churn_probability    DOUBLE PRECISION NOT NULL,
    churn_label          SMALLINT         NOT NULL,              -- 1 = at or above the threshold
    churn_model          VARCHAR(128)     NOT NULL ENCODE zstd,
    churn_model_version  VARCHAR(256)     NOT NULL ENCODE zstd,  -- MLflow version or package ARN
    churn_model_approved BOOLEAN          NOT NULL,
    scored_at            DATE             NOT NULL,              -- the RFM snapshot date
    PRIMARY KEY (customer_id)
)
DISTKEY (customer_id)
SORTKEY (customer_id);
