-- Mart: the k-means cluster of every scored customer (written by notebook 03, read by the
-- dashboards and by notebook 06's batch scoring). One row per customer in rfm_scores.
--
-- distance_to_cluster and closest cluster follow SageMaker KMeans' output contract: Euclidean
-- distance to the cluster centre in the model's standardised feature space (smaller = more
-- typical of the cluster). cluster_label is derived from the centre (rfmkit/segmentation).
-- The rows are loaded with COPY from the model's output, so the load is audited like any other.

DROP TABLE IF EXISTS customer_segments;

CREATE TABLE customer_segments (
    customer_id          VARCHAR(256)     NOT NULL ENCODE zstd,  -- the person, as in rfm_scores
    cluster              SMALLINT         NOT NULL,              -- 0 = the largest cluster
    distance_to_cluster  DOUBLE PRECISION NOT NULL,
    cluster_label        VARCHAR(128)     NOT NULL ENCODE zstd,  -- e.g. "recent high-spending customers"
    PRIMARY KEY (customer_id)
)
DISTKEY (customer_id)
SORTKEY (cluster);
