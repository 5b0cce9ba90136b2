from __future__ import annotations

import os
from pathlib import Path

import pytest

from rfmkit.warehouse.duckdb import DuckDBWarehouse

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_PAYMENTS = SHARED_DATA / "olist" / "olist_order_payments_dataset.csv"

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def warehouse():
    wh = DuckDBWarehouse(":memory:")
    wh.run_file("000_load_audit.sql")
    wh.run_file("010_raw_tables.sql")
    yield wh
    wh.close()


@pytest.fixture
def real_payments() -> Path:
    if not REAL_PAYMENTS.exists():
        pytest.skip(f"real Olist payments file not available at {REAL_PAYMENTS}")
    return REAL_PAYMENTS


@pytest.fixture(scope="session")
def small_olist(tmp_path_factory) -> dict[str, Path]:
    """A small synthetic Olist download (about 2,000 orders), generated once per session."""
    from rfmkit.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("olist"), scale=0.02, seed=7, progress=False).files


PAYMENTS_HEADER = '"order_id","payment_sequential","payment_type","payment_installments","payment_value"'


def write_payments(path: Path, rows: list[str], header: str = PAYMENTS_HEADER) -> Path:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return path
