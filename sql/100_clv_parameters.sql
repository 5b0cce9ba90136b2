-- Parameter table of the customer-value summary (105). rfmkit.clv.summary fills it with one row
-- before the model runs, so the model stays plain SQL:
--   calibration_end  last day of the calibration period (purchases on it count)
--   holdout_end      last day of the hold-out period; equal to calibration_end when there is none
--   days_per_unit    the time unit of recency, T and the hold-out length: 1 = days, 7 = weeks

DROP TABLE IF EXISTS clv_parameters;

CREATE TABLE clv_parameters (
    calibration_end DATE     NOT NULL,
    holdout_end     DATE     NOT NULL,
    days_per_unit   SMALLINT NOT NULL
)
DISTSTYLE ALL;
