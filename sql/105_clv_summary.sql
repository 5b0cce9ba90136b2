-- Model: each customer summarised for the BG/NBD family and Gamma-Gamma, as of clv_parameters
-- (Fader, Hardie and Lee 2005). A purchase is a day with at least one purchase order (fct_orders):
-- several orders on one day are one purchase, their values added up.
--   frequency        repeat purchase days in the calibration period (days after the first)
--   recency          time from the first to the last purchase day in calibration, in the unit
--   T                time from the first purchase day to calibration_end, in the unit (age)
--   monetary_value   mean value of the repeat purchase days (the first is left out, as the
--                    Gamma-Gamma model asks); 0 for a customer without repeats
--   holdout_purchases, holdout_spend  purchase days and spend after calibration_end up to
--                    holdout_end; holdout_length is that period in the unit
-- Only customers whose first purchase is on or before calibration_end are summarised.

DROP TABLE IF EXISTS clv_summary;

CREATE TABLE clv_summary
DISTKEY (customer_id)
AS
WITH parameters AS (
    SELECT calibration_end, holdout_end, CAST(days_per_unit AS DOUBLE PRECISION) AS days_per_unit
    FROM clv_parameters
),

purchase_days AS (
    SELECT customer_id, order_date, SUM(order_value) AS day_value
    FROM fct_orders
    WHERE is_purchase
    GROUP BY customer_id, order_date
),

first_days AS (
    SELECT customer_id, MIN(order_date) AS first_purchase_date
    FROM purchase_days
    GROUP BY customer_id
),

flagged AS (
    SELECT d.customer_id,
           d.order_date,
           d.day_value,
           f.first_purchase_date,
           d.order_date <= p.calibration_end                              AS in_calibration,
           d.order_date > p.calibration_end AND d.order_date <= p.holdout_end AS in_holdout,
           d.order_date > f.first_purchase_date                          AS is_repeat
    FROM purchase_days AS d
    JOIN first_days AS f ON f.customer_id = d.customer_id
    CROSS JOIN parameters AS p
    WHERE f.first_purchase_date <= p.calibration_end
),

per_customer AS (
    SELECT customer_id,
           MIN(first_purchase_date)                                                 AS first_purchase_date,
           MAX(CASE WHEN in_calibration THEN order_date END)                        AS last_purchase_date,
           SUM(CASE WHEN in_calibration AND is_repeat THEN 1 ELSE 0 END)            AS frequency,
           SUM(CASE WHEN in_calibration AND is_repeat THEN day_value ELSE 0 END)    AS repeat_value,
           SUM(CASE WHEN in_holdout THEN 1 ELSE 0 END)                              AS holdout_purchases,
           SUM(CASE WHEN in_holdout THEN day_value ELSE 0 END)                      AS holdout_spend
    FROM flagged
    GROUP BY customer_id
)

SELECT c.customer_id,
       c.first_purchase_date,
       c.last_purchase_date,
       c.frequency,
       DATEDIFF(day, c.first_purchase_date, c.last_purchase_date) / p.days_per_unit AS recency,
       DATEDIFF(day, c.first_purchase_date, p.calibration_end) / p.days_per_unit    AS "T",
       CASE WHEN c.frequency > 0
            THEN CAST(c.repeat_value AS DOUBLE PRECISION) / c.frequency
            ELSE 0 END                                                             AS monetary_value,
       c.holdout_purchases,
       CAST(c.holdout_spend AS DOUBLE PRECISION)                                   AS holdout_spend,
       DATEDIFF(day, p.calibration_end, p.holdout_end) / p.days_per_unit           AS holdout_length
FROM per_customer AS c
CROSS JOIN parameters AS p;
