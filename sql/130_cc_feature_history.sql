-- Offline feature store: every version of every contact-center customer's churn features, with
-- the time it became true (notebook 09). Rows are appended, never updated: the snapshot of the
-- shipped file first (source 'snapshot'), then what calls changed (source 'call': sentiment
-- counts, contract months), synced from the online store. Training reads it point-in-time
-- (135_cc_training_set.sql), so a value that arrived after a label's time never trains that label.

CREATE TABLE IF NOT EXISTS cc_feature_history (
    customer_id     VARCHAR(64)      NOT NULL ENCODE zstd,
    event_time      TIMESTAMP        NOT NULL,   -- when these values became true
    source          VARCHAR(16)      NOT NULL,   -- 'snapshot' or 'call'
    "State"         VARCHAR(8),
    "Account_Length" DOUBLE PRECISION,
    "Area_Code"     DOUBLE PRECISION,
    "Int_l_Plan"    DOUBLE PRECISION,            -- 1 = yes
    "VMail_Plan"    DOUBLE PRECISION,            -- 1 = yes
    "VMail_Message" DOUBLE PRECISION,
    "Day_Mins"      DOUBLE PRECISION,
    "Day_Calls"     DOUBLE PRECISION,
    "Day_Charge"    DOUBLE PRECISION,
    "Eve_Mins"      DOUBLE PRECISION,
    "Eve_Calls"     DOUBLE PRECISION,
    "Eve_Charge"    DOUBLE PRECISION,
    "Night_Mins"    DOUBLE PRECISION,
    "Night_Calls"   DOUBLE PRECISION,
    "Night_Charge"  DOUBLE PRECISION,
    "Intl_Mins"     DOUBLE PRECISION,
    "Intl_Calls"    DOUBLE PRECISION,
    "Intl_Charge"   DOUBLE PRECISION,
    "CustServ_Calls" DOUBLE PRECISION,
    sentiment       DOUBLE PRECISION,            -- the latest call sentiment: 1, 0, -1
    "pastSenti_nut" DOUBLE PRECISION,
    "pastSenti_pos" DOUBLE PRECISION,
    "pastSenti_neg" DOUBLE PRECISION,
    mth_remain      DOUBLE PRECISION             -- months left on the contract
)
DISTKEY (customer_id)
SORTKEY (customer_id, event_time);

-- Labels: whether the customer churned, as known at label_time.
CREATE TABLE IF NOT EXISTS cc_labels (
    customer_id     VARCHAR(64)      NOT NULL ENCODE zstd,
    label_time      TIMESTAMP        NOT NULL,
    churned         SMALLINT         NOT NULL,   -- 1 = left
    PRIMARY KEY (customer_id, label_time)
)
DISTKEY (customer_id)
SORTKEY (customer_id, label_time);
