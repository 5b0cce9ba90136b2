"""Write the clustering back: `customer_segments` in the warehouse (loaded with COPY, audited
like every load) and its CSV export for the dashboards."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rfmkit.config import RunConfig
from rfmkit.exports import export_table
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


def write_customer_segments(warehouse: Warehouse, cfg: RunConfig, rows: pd.DataFrame
                            ) -> tuple[LoadReport, list[Path]]:
    """(Re)create the table, COPY the rows in, check nothing was lost, export to CSV."""
    folder = cfg.run_dir / "segmentation"
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f"{TABLE}.csv"
    rows.sort_values("customer_id").to_csv(staged, index=False)
    warehouse.run_file(DDL)
    report = warehouse.load_csv(TABLE, staged, max_errors=0)
    if report.rows_loaded != len(rows):
        raise RuntimeError(f"{TABLE}: {len(rows):,} rows written but {report.rows_loaded:,} "
                           f"loaded; see load_rejects")
    return report, export_table(warehouse, cfg, TABLE, order_by="customer_id")
