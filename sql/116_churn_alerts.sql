-- Mart: every valued customer's distance to churn, and who needs contacting now (notebook 08).
-- A customer's critical gap is the larger of
--   * their own longest gap between two purchase days, and
--   * the 95th percentile gap of customers with the same number of purchases: the gaps that
--     followed the n-th purchase of everyone who made an (n+1)-th (for a one-time buyer: how long
--     the customers who did come back took); beyond the largest n with gaps, that n's percentile.
-- overdue_ratio = days since the last purchase / critical gap; status by alert_parameters:
--   active < alert_ratio ≤ alert < critical_ratio ≤ critical < churned_ratio ≤ churned.
-- needs_contact: 'alert' or 'critical', or P(alive) below the threshold and not yet 'churned'
-- (a churned customer is a win-back campaign, not a call). Ranked by value at risk.

DROP TABLE IF EXISTS churn_alerts;

CREATE TABLE churn_alerts (
    customer_id        VARCHAR(256)     NOT NULL ENCODE zstd,
    purchases          BIGINT           NOT NULL,  -- purchase days up to as_of
    last_purchase_date DATE             NOT NULL,
    days_since_last    INTEGER          NOT NULL,
    longest_gap_days   INTEGER,                    -- NULL for a one-time buyer
    p95_gap_days       DOUBLE PRECISION,           -- the norm for their number of purchases
    critical_gap_days  DOUBLE PRECISION NOT NULL,
    overdue_ratio      DOUBLE PRECISION NOT NULL,  -- days_since_last / critical_gap_days
    status             VARCHAR(16)      NOT NULL,  -- active, alert, critical, churned
    p_alive            DOUBLE PRECISION NOT NULL,
    clv                DOUBLE PRECISION NOT NULL,
    value_at_risk      DOUBLE PRECISION NOT NULL,
    needs_contact      BOOLEAN          NOT NULL,
    reason             VARCHAR(16)      NOT NULL,  -- alert, critical or low P(alive)
    value_rank         BIGINT           NOT NULL,  -- 1 = most value at risk
    PRIMARY KEY (customer_id)
)
DISTKEY (customer_id);
