"""Export warehouse tables as CSV for dashboards and later notebooks (UNLOAD on both backends).

`LocalExporter`: UNLOAD writes `<run>/exports/<table>_000.csv`. `S3Exporter`: Redshift UNLOADs to
`s3://<bucket>/<prefix>/exports/<table>_…` (what QuickSight reads) and the files are also copied
into the run folder through the run's storage, so notebooks and the local dashboard read the same
thing on both backends. The backend object hands out the right one (`backend.exporter()`).
"""

from __future__ import annotations

from pathlib import Path

from rfmkit.config import ConfigError
from rfmkit.warehouse.base import Warehouse
from rfmkit.warehouse.dialect import quote_ident, quote_table

PLACEHOLDER_URI = "s3://your-bucket/rfmkit/exports"  # where a local user would copy exports/


def export_query(warehouse: Warehouse, table: str, order_by: str | None) -> str:
    if not warehouse.table_exists(table):
        raise ValueError(f"cannot export {table}: the table does not exist")
    query = f"SELECT * FROM {quote_table(table)}"
    return query + f" ORDER BY {quote_ident(order_by)}" if order_by else query


def checked_override(override: str) -> str:
    if not override.startswith("s3://"):
        raise ConfigError(f"parameter s3_exports={override!r}: expected s3://bucket/prefix")
    return override.rstrip("/")


class LocalExporter:
    def __init__(self, exports_dir: Path):
        self.exports_dir = Path(exports_dir)

    def export(self, warehouse: Warehouse, table: str, *, order_by: str | None = None
               ) -> list[Path]:
        """UNLOAD `table` (ordered by `order_by` for stable files); returns the CSV paths."""
        query = export_query(warehouse, table, order_by)
        self.exports_dir.mkdir(parents=True, exist_ok=True)
        return [Path(p) for p in warehouse.unload_query(query, self.exports_dir / f"{table}_")]

    def base_uri(self, override: str = "") -> str:
        """Where manifests say the exports are: `override` (where you will copy exports/), or a
        placeholder to replace."""
        return checked_override(override) if override else PLACEHOLDER_URI


class S3Exporter:
    def __init__(self, exports_dir: Path, storage, prefix_uri: str | None):
        """storage: the run's S3Storage; prefix_uri: s3://bucket/prefix/exports (None: no bucket
        configured, which export and base_uri report)."""
        self.exports_dir, self.storage, self.prefix_uri = Path(exports_dir), storage, prefix_uri

    def _prefix(self, purpose: str) -> str:
        if not self.prefix_uri:
            raise ConfigError(f"backend='aws' needs the bucket setting to {purpose} (notebook 00)")
        return self.prefix_uri

    def export(self, warehouse: Warehouse, table: str, *, order_by: str | None = None
               ) -> list[Path]:
        query = export_query(warehouse, table, order_by)
        uris = warehouse.unload_query(query, f"{self._prefix('UNLOAD exports')}/{table}_")
        self.exports_dir.mkdir(parents=True, exist_ok=True)
        return [self.storage.download(uri, self.exports_dir / uri.rsplit("/", 1)[-1])
                for uri in uris if not uri.endswith("manifest")]

    def base_uri(self, override: str = "") -> str:
        """The run's UNLOAD prefix (an override must still be an s3:// URI)."""
        return checked_override(override) if override else self._prefix("write manifests")
