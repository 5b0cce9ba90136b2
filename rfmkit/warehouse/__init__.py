"""Warehouses: one interface (base.Warehouse), DuckDB (default) and Redshift backends.

The backend object picks one (`backends.get(cfg).warehouse()`)."""

from __future__ import annotations

from rfmkit.warehouse.base import Warehouse
from rfmkit.warehouse.loading import LoadError, LoadReport, MaxErrorsExceeded

__all__ = ["LoadError", "LoadReport", "MaxErrorsExceeded", "Warehouse"]
