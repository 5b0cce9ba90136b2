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


@pytest.fixture(scope="session")
def batch_run(tmp_path_factory):
    """One `rfmkit run` of every batch notebook with small parameters (scale 0.02, a search budget of
    2 over 3 folds), as `make run` does it, in a stand-in for a fresh clone (the project's files
    linked into a new folder, runs/ empty before). Shared by the runner's checks of every notebook's
    outputs and the README test, so the batch runs once."""
    import subprocess
    import sys
    from types import SimpleNamespace

    from rfmkit.paths import PROJECT_ROOT

    root = tmp_path_factory.mktemp("clone")
    for entry in PROJECT_ROOT.iterdir():
        if entry.name not in {"runs", ".git", ".pytest_cache", ".ruff_cache"}:
            (root / entry.name).symlink_to(entry)
    run_dir = root / "runs" / "20260101-000000"
    env = {k: v for k, v in os.environ.items()
           if k not in ("RFMKIT_DRY_RUN", "RFMKIT_RUN_DIR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run([sys.executable, "-m", "rfmkit", "run", "-p", "scale=0.02", "-p", "search_budget=2",
                             "-p", "cv_folds=3", "--run-dir", "runs/20260101-000000"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=3600)  # a hang guard, not a speed limit
    return SimpleNamespace(root=root, run_dir=run_dir, result=result)
