-- Audit: every churn alert the notifier sent, one row per customer and message (notebook 08,
-- `python -m rfmkit alerts --send`). Never dropped: it is the memory behind the cooldown (no
-- customer alerted twice within cooldown_days) and behind idempotent re-runs.

CREATE TABLE IF NOT EXISTS notification_audit (
    customer_id    VARCHAR(256)  NOT NULL ENCODE zstd,
    status         VARCHAR(16)   NOT NULL,   -- alert, critical, low P(alive)
    reason         VARCHAR(256)  NOT NULL,   -- why, in words, as the message says it
    recipient_list VARCHAR(64)   NOT NULL,
    channel        VARCHAR(16)   NOT NULL,   -- smtp or sns
    message_id     VARCHAR(256)  NOT NULL,   -- the SMTP Message-ID or the SNS MessageId
    value_at_risk  DOUBLE PRECISION NOT NULL,
    as_of          DATE          NOT NULL,   -- the data's day the list was computed for
    sent_at        TIMESTAMP     NOT NULL
)
DISTKEY (customer_id)
SORTKEY (sent_at);
