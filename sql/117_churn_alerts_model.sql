-- Model: fills churn_alerts (DDL and the rules in 116) from fct_orders, customer_value and
-- alert_parameters (115).

INSERT INTO churn_alerts
WITH parameters AS (
    SELECT as_of, p_alive_threshold, alert_ratio, critical_ratio, churned_ratio
    FROM alert_parameters
),

purchase_days AS (
    SELECT DISTINCT f.customer_id, f.order_date
    FROM fct_orders AS f
    CROSS JOIN parameters AS p
    WHERE f.is_purchase AND f.order_date <= p.as_of
),

numbered AS (
    SELECT customer_id,
           order_date,
           ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY order_date)      AS purchase_number,
           LEAD(order_date) OVER (PARTITION BY customer_id ORDER BY order_date)  AS next_date
    FROM purchase_days
),

gaps AS (
    SELECT customer_id, purchase_number, DATEDIFF(day, order_date, next_date) AS gap_days
    FROM numbered
    WHERE next_date IS NOT NULL
),

gap_norms AS (
    SELECT purchase_number,
           PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY gap_days) AS p95_gap_days
    FROM gaps
    GROUP BY purchase_number
),

deepest AS (
    SELECT MAX(purchase_number) AS purchase_number FROM gap_norms
),

per_customer AS (
    SELECT customer_id, COUNT(*) AS purchases, MAX(order_date) AS last_purchase_date
    FROM numbered
    GROUP BY customer_id
),

longest AS (
    SELECT customer_id, MAX(gap_days) AS longest_gap_days
    FROM gaps
    GROUP BY customer_id
),

distance AS (
    SELECT c.customer_id,
           c.purchases,
           c.last_purchase_date,
           l.longest_gap_days,
           g.p95_gap_days,
           GREATEST(COALESCE(CAST(l.longest_gap_days AS DOUBLE PRECISION), 0), g.p95_gap_days, 1)
                                                                       AS critical_gap_days,
           DATEDIFF(day, c.last_purchase_date, p.as_of)                AS days_since_last
    FROM per_customer AS c
    CROSS JOIN parameters AS p
    CROSS JOIN deepest AS d
    LEFT JOIN longest AS l ON l.customer_id = c.customer_id
    LEFT JOIN gap_norms AS g ON g.purchase_number = LEAST(c.purchases, d.purchase_number)
),

rated AS (
    SELECT x.*,
           v.p_alive,
           v.clv,
           v.value_at_risk,
           x.days_since_last / x.critical_gap_days AS overdue_ratio,
           p.p_alive_threshold,
           CASE WHEN x.days_since_last >= p.churned_ratio * x.critical_gap_days THEN 'churned'
                WHEN x.days_since_last >= p.critical_ratio * x.critical_gap_days THEN 'critical'
                WHEN x.days_since_last >= p.alert_ratio * x.critical_gap_days THEN 'alert'
                ELSE 'active' END AS status
    FROM distance AS x
    JOIN customer_value AS v ON v.customer_id = x.customer_id
    CROSS JOIN parameters AS p
)

SELECT customer_id,
       purchases,
       last_purchase_date,
       days_since_last,
       longest_gap_days,
       p95_gap_days,
       critical_gap_days,
       overdue_ratio,
       status,
       p_alive,
       clv,
       value_at_risk,
       status IN ('alert', 'critical') OR (p_alive < p_alive_threshold AND status <> 'churned')
           AS needs_contact,
       CASE WHEN status IN ('alert', 'critical') THEN status ELSE 'low P(alive)' END AS reason,
       ROW_NUMBER() OVER (ORDER BY value_at_risk DESC, customer_id) AS value_rank
FROM rated;
