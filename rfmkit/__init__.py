"""rfmkit: customer analytics workshop kit (RFM, k-means, churn) on DuckDB or AWS."""

__version__ = "0.1.0"
