-- Parameter tables of the RFM pipeline. rfmkit.rfm fills them before the models run, so the
-- models themselves stay plain SQL with no lists spliced into them.
--   rfm_counted_statuses  order statuses that count as purchases (parameter order_statuses)
--   rfm_segment_map       the 125 R/F/M score codes and their named segment (rfmkit/segments.py)

CREATE TABLE IF NOT EXISTS rfm_counted_statuses (
    order_status VARCHAR(64) NOT NULL
)
DISTSTYLE ALL;

CREATE TABLE IF NOT EXISTS rfm_segment_map (
    rfm_code VARCHAR(3)  NOT NULL,  -- r_score, f_score, m_score as text, e.g. '545'
    r_score  SMALLINT    NOT NULL,
    f_score  SMALLINT    NOT NULL,
    m_score  SMALLINT    NOT NULL,
    segment  VARCHAR(32) NOT NULL
)
DISTSTYLE ALL;
