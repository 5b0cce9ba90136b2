-- Parameter table of the churn-alert model (116). rfmkit.alerts fills it with one row:
--   as_of              the day the alert list is for (the last purchase day of the data)
--   p_alive_threshold  below it a customer needs contacting whatever their cadence
--   alert_ratio, critical_ratio, churned_ratio  days since the last purchase over the customer's
--                      critical gap at which they become 'alert' (0.8), 'critical' (1.0), 'churned' (1.2)

DROP TABLE IF EXISTS alert_parameters;

CREATE TABLE alert_parameters (
    as_of             DATE             NOT NULL,
    p_alive_threshold DOUBLE PRECISION NOT NULL,
    alert_ratio       DOUBLE PRECISION NOT NULL,
    critical_ratio    DOUBLE PRECISION NOT NULL,
    churned_ratio     DOUBLE PRECISION NOT NULL
)
DISTSTYLE ALL;
