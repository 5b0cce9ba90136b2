-- Point-in-time training set (notebook 09): for each label, the customer's features as they were
-- at the label's time: the latest cc_feature_history row with event_time <= label_time. Rows that
-- arrived later (a call after the label was taken) are never joined, so training sees only what
-- a model could have known. A label with no feature row at or before its time has no row here.

DROP TABLE IF EXISTS cc_training_set;

CREATE TABLE cc_training_set
DISTKEY (customer_id)
SORTKEY (customer_id)
AS
WITH candidates AS (
    SELECT
        l.customer_id,
        l.label_time,
        l.churned,
        h.event_time AS feature_time,
        h."State", h."Account_Length", h."Area_Code", h."Int_l_Plan", h."VMail_Plan",
        h."VMail_Message", h."Day_Mins", h."Day_Calls", h."Day_Charge", h."Eve_Mins",
        h."Eve_Calls", h."Eve_Charge", h."Night_Mins", h."Night_Calls", h."Night_Charge",
        h."Intl_Mins", h."Intl_Calls", h."Intl_Charge", h."CustServ_Calls", h.sentiment,
        h."pastSenti_nut", h."pastSenti_pos", h."pastSenti_neg", h.mth_remain,
        ROW_NUMBER() OVER (PARTITION BY l.customer_id, l.label_time
                           ORDER BY h.event_time DESC) AS newest_first
    FROM cc_labels AS l
    JOIN cc_feature_history AS h
      ON h.customer_id = l.customer_id
     AND h.event_time <= l.label_time
)
SELECT
    customer_id, label_time, churned, feature_time,
    "State", "Account_Length", "Area_Code", "Int_l_Plan", "VMail_Plan", "VMail_Message",
    "Day_Mins", "Day_Calls", "Day_Charge", "Eve_Mins", "Eve_Calls", "Eve_Charge", "Night_Mins",
    "Night_Calls", "Night_Charge", "Intl_Mins", "Intl_Calls", "Intl_Charge", "CustServ_Calls",
    sentiment, "pastSenti_nut", "pastSenti_pos", "pastSenti_neg", mth_remain
FROM candidates
WHERE newest_first = 1;
