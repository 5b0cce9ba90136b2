-- Mart: how each Olist customer paid before :cutoff_date (extra churn features for notebook 04).
-- Shares of payment value by type and the mean number of instalments, over the same purchases
-- that churn_features uses (counted orders before the cutoff). Olist only: a generic transaction
-- log has no payment types.

DROP TABLE IF EXISTS churn_payment_mix;

CREATE TABLE churn_payment_mix
DISTKEY (customer_id)
AS
WITH payments AS (
    SELECT
        f.customer_id,
        p.payment_type,
        CAST(p.payment_value AS DOUBLE PRECISION)        AS payment_value,
        CAST(p.payment_installments AS DOUBLE PRECISION) AS installments
    FROM olist_order_payments AS p
    JOIN fct_orders AS f ON f.order_id = p.order_id
    WHERE f.is_purchase
      AND f.order_date < CAST(:cutoff_date AS DATE)
)

SELECT
    customer_id,
    SUM(CASE WHEN payment_type = 'credit_card' THEN payment_value ELSE 0 END)
        / NULLIF(SUM(payment_value), 0) AS share_credit_card,
    SUM(CASE WHEN payment_type = 'boleto' THEN payment_value ELSE 0 END)
        / NULLIF(SUM(payment_value), 0) AS share_boleto,
    SUM(CASE WHEN payment_type = 'voucher' THEN payment_value ELSE 0 END)
        / NULLIF(SUM(payment_value), 0) AS share_voucher,
    SUM(CASE WHEN payment_type = 'debit_card' THEN payment_value ELSE 0 END)
        / NULLIF(SUM(payment_value), 0) AS share_debit_card,
    AVG(installments)                   AS mean_installments
FROM payments
GROUP BY customer_id;
