-- Bookkeeping for every COPY the kit runs (both backends create these on first load).
-- load_audit: one row per load attempt, with the row accounting read = loaded + rejected.
-- load_rejects: every rejected input row, with where it was and why.

CREATE TABLE IF NOT EXISTS load_audit (
    load_id        VARCHAR(64)   NOT NULL,
    table_name     VARCHAR(256)  NOT NULL,
    file_name      VARCHAR(1024) NOT NULL,
    file_sha256    CHAR(64),
    file_bytes     BIGINT,
    mode           VARCHAR(16)   NOT NULL,
    rows_read      BIGINT        NOT NULL,
    rows_loaded    BIGINT        NOT NULL,
    rows_rejected  BIGINT        NOT NULL,
    status         VARCHAR(16)   NOT NULL,   -- loaded | skipped | failed
    message        VARCHAR(4096),
    started_at     TIMESTAMP     NOT NULL,
    seconds        DOUBLE PRECISION
);

CREATE TABLE IF NOT EXISTS load_rejects (
    load_id      VARCHAR(64)   NOT NULL,
    table_name   VARCHAR(256)  NOT NULL,
    file_name    VARCHAR(1024) NOT NULL,
    line_number  BIGINT        NOT NULL,    -- physical line in the file, header = line 1
    column_name  VARCHAR(256),
    reason       VARCHAR(4096) NOT NULL,
    raw_line     VARCHAR(65535)
);
