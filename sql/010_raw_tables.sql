-- Raw Olist tables, exactly as Kaggle ships the files (one table per CSV, same column order).
-- Grains (ff-analytics-ws got these wrong):
--   olist_customers      one row per customer_id (= per order); customer_unique_id is the person
--   olist_orders         one row per order_id
--   olist_order_payments one row per (order_id, payment_sequential): split payments are rows
-- Keys are declared for documentation and the Redshift planner (Redshift does not enforce them);
-- the quality checks in rfmkit.data.quality verify them after every load.

CREATE TABLE IF NOT EXISTS olist_customers (
    customer_id              VARCHAR(32) NOT NULL ENCODE zstd,
    customer_unique_id       VARCHAR(32) NOT NULL ENCODE zstd,
    customer_zip_code_prefix VARCHAR(5)           ENCODE zstd,  -- text: keeps leading zeros
    customer_city            VARCHAR(64)          ENCODE zstd,
    customer_state           CHAR(2)              ENCODE zstd,
    PRIMARY KEY (customer_id)
)
DISTSTYLE KEY
DISTKEY (customer_id)
SORTKEY (customer_unique_id);

CREATE TABLE IF NOT EXISTS olist_orders (
    order_id                      VARCHAR(32) NOT NULL ENCODE zstd,
    customer_id                   VARCHAR(32) NOT NULL ENCODE zstd,
    order_status                  VARCHAR(16)          ENCODE zstd,
    order_purchase_timestamp      TIMESTAMP            ENCODE az64,
    order_approved_at             TIMESTAMP            ENCODE az64,  -- empty until approved
    order_delivered_carrier_date  TIMESTAMP            ENCODE az64,  -- empty until shipped
    order_delivered_customer_date TIMESTAMP            ENCODE az64,  -- empty until delivered
    order_estimated_delivery_date TIMESTAMP            ENCODE az64,
    PRIMARY KEY (order_id)
)
DISTSTYLE KEY
DISTKEY (customer_id)
SORTKEY (order_purchase_timestamp);

CREATE TABLE IF NOT EXISTS olist_order_payments (
    order_id             VARCHAR(32)   NOT NULL ENCODE zstd,
    payment_sequential   SMALLINT      NOT NULL ENCODE az64,
    payment_type         VARCHAR(16)            ENCODE zstd,
    payment_installments SMALLINT               ENCODE az64,
    payment_value        DECIMAL(12,2)          ENCODE az64,
    PRIMARY KEY (order_id, payment_sequential)
)
DISTSTYLE KEY
DISTKEY (order_id)
SORTKEY (order_id);
