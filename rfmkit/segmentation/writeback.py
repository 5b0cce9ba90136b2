"""Write the clustering back: `customer_segments` in the warehouse (loaded with COPY, audited
like every load) and its CSV export for the dashboards."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rfmkit.marts import write_mart
from rfmkit.warehouse.base import Warehouse
from rfmkit.warehouse.loading import LoadReport

TABLE = "customer_segments"
DDL = "070_customer_segments.sql"


def customer_segments(customer_ids: pd.Series, assignments: pd.DataFrame, labels: list[str]
                      ) -> pd.DataFrame:
    """The table's rows: customer_id, cluster, distance_to_cluster, cluster_label."""
    cluster = assignments["closest_cluster"].to_numpy()
    return pd.DataFrame({
        "customer_id": customer_ids.to_numpy(),
        "cluster": cluster,
        "distance_to_cluster": assignments["distance_to_cluster"].round(6).to_numpy(),
        "cluster_label": pd.Series(cluster).map(dict(enumerate(labels))).to_numpy(),
    })


def write_customer_segments(warehouse: Warehouse, backend, rows: pd.DataFrame
                            ) -> tuple[LoadReport, list[Path]]:
    """(Re)create the table, COPY the rows in, check nothing was lost, export to CSV."""
    return write_mart(warehouse, backend, TABLE, DDL, rows, area="segmentation")
