-- Mart: each customer's value as the customer-value models see it at the snapshot (notebook 05).
-- Rows are computed in Python (rfmkit.clv.value) from clv_summary and loaded with the audited COPY.
--   p_alive                     P(still a customer) at calibration_end (the last purchase day)
--   expected_purchases_*        expected purchase days in the next 30, 90 and 365 days
--   expected_order_value        Gamma-Gamma expected value of a future purchase
--   clv                         discounted expected spend over clv_months
--   value_at_risk               clv × (1 − p_alive)
--   churn_risk, churn_label     1 − p_alive, and 1 when p_alive is below the alert threshold

DROP TABLE IF EXISTS customer_value;

CREATE TABLE customer_value (
    customer_id              VARCHAR(256)     NOT NULL ENCODE zstd,
    frequency                INTEGER          NOT NULL,  -- repeat purchase days
    recency                  DOUBLE PRECISION NOT NULL,  -- in time_unit
    "T"                      DOUBLE PRECISION NOT NULL,  -- in time_unit
    p_alive                  DOUBLE PRECISION NOT NULL,
    expected_purchases_30d   DOUBLE PRECISION NOT NULL,
    expected_purchases_90d   DOUBLE PRECISION NOT NULL,
    expected_purchases_365d  DOUBLE PRECISION NOT NULL,
    expected_order_value     DOUBLE PRECISION NOT NULL,
    clv                      DOUBLE PRECISION NOT NULL,
    value_at_risk            DOUBLE PRECISION NOT NULL,
    churn_risk               DOUBLE PRECISION NOT NULL,
    churn_label              SMALLINT         NOT NULL,
    value_model              VARCHAR(64)      NOT NULL ENCODE zstd,  -- e.g. 'MBG/NBD + Gamma-Gamma'
    time_unit                VARCHAR(8)       NOT NULL,
    clv_months               SMALLINT         NOT NULL,
    calibration_end          DATE             NOT NULL,
    PRIMARY KEY (customer_id)
)
DISTKEY (customer_id)
SORTKEY (customer_id);
