"""Export warehouse tables as CSV for dashboards and later notebooks (UNLOAD on both backends).

Local: UNLOAD writes `<run>/exports/<table>_000.csv`. AWS: Redshift UNLOADs to
`s3://<bucket>/<prefix>/exports/<table>_…` (what QuickSight reads) and the files are also copied
into the run folder, so notebooks and the local dashboard read the same thing on both backends.
"""

from __future__ import annotations

from pathlib import Path

from rfmkit.config import ConfigError, RunConfig
from rfmkit.warehouse.base import Warehouse
from rfmkit.warehouse.dialect import quote_ident, quote_table


def export_table(warehouse: Warehouse, cfg: RunConfig, table: str, *, order_by: str | None = None
                 ) -> list[Path]:
    """UNLOAD `table` (ordered by `order_by` for stable files) and return the local CSV paths."""
    if not warehouse.table_exists(table):
        raise ValueError(f"cannot export {table}: the table does not exist")
    query = f"SELECT * FROM {quote_table(table)}"
    if order_by:
        query += f" ORDER BY {quote_ident(order_by)}"
    cfg.exports_dir.mkdir(parents=True, exist_ok=True)
    if cfg.backend == "local":
        return [Path(p) for p in warehouse.unload_query(query, cfg.exports_dir / f"{table}_")]
    if not cfg.aws.bucket:
        raise ConfigError("backend='aws' needs the bucket setting to UNLOAD exports (notebook 00)")
    uris = warehouse.unload_query(query, s3_export_prefix(cfg, table))
    storage = warehouse.storage  # RedshiftWarehouse keeps the run's S3Storage
    local = []
    for uri in uris:
        if uri.endswith("manifest"):
            continue
        local.append(storage.download(uri, cfg.exports_dir / uri.rsplit("/", 1)[-1]))
    return local


def s3_export_prefix(cfg: RunConfig, table: str) -> str:
    from rfmkit.sagemaker_jobs import s3_uri

    return s3_uri(cfg, "exports", f"{table}_")
