-- Mart: one row per named RFM segment, the one summary the dashboard, the notebooks and the
-- insights read. Churn columns are NULL until a churn model has scored (churn_predictions; until
-- then marts.build creates that table empty from 085).
--   customers, revenue, mean recency and orders      from rfm_scores (notebook 02)
--   churn probability (mean, quartiles), flagged,    from churn_predictions (notebooks 04/06)
--   revenue_at_risk = Σ per customer ROUND(monetary × churn_probability, 2), as in customer_scores
-- Churn risk is 1 − P(alive) where customer_value covers a customer (notebook 05), else the
-- classifier's probability, as in customer_scores; clv and value_at_risk are NULL without it.
-- need_contact counts churn_alerts' customers to contact now (0 until the alert list is built).

DROP TABLE IF EXISTS segment_summary;

CREATE TABLE segment_summary AS
WITH customers AS (
    SELECT r.segment,
           r.recency_days,
           r.frequency,
           CAST(r.monetary AS DOUBLE PRECISION) AS monetary,
           COALESCE(v.churn_risk, p.churn_probability) AS churn_probability,
           COALESCE(v.churn_label, p.churn_label)      AS churn_label,
           v.p_alive,
           v.clv,
           v.value_at_risk,
           a.needs_contact
    FROM rfm_scores AS r
    LEFT JOIN churn_predictions AS p ON p.customer_id = r.customer_id
    LEFT JOIN customer_value AS v ON v.customer_id = r.customer_id
    LEFT JOIN churn_alerts AS a ON a.customer_id = r.customer_id
)

SELECT segment,
       COUNT(*)                                        AS customers,
       ROUND(SUM(monetary), 2)                         AS revenue,
       AVG(CAST(recency_days AS DOUBLE PRECISION))     AS mean_recency_days,
       AVG(CAST(frequency AS DOUBLE PRECISION))        AS mean_orders,
       AVG(monetary)                                   AS mean_spend,
       COUNT(churn_probability)                        AS scored,
       AVG(churn_probability)                          AS mean_churn_probability,
       PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY churn_probability) AS churn_probability_p25,
       PERCENTILE_CONT(0.50) WITHIN GROUP (ORDER BY churn_probability) AS churn_probability_p50,
       PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY churn_probability) AS churn_probability_p75,
       SUM(churn_probability)                          AS churn_probability_sum,
       SUM(churn_label)                                AS flagged,
       SUM(ROUND(monetary * churn_probability, 2))     AS revenue_at_risk,
       AVG(p_alive)                                    AS mean_p_alive,
       SUM(clv)                                        AS clv,
       SUM(value_at_risk)                              AS value_at_risk,
       SUM(CASE WHEN needs_contact THEN 1 ELSE 0 END)  AS need_contact
FROM customers
GROUP BY segment;
