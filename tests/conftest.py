from __future__ import annotations

import os
from pathlib import Path

import pytest

from rfmkit.warehouse.duckdb import DuckDBWarehouse

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_PAYMENTS = SHARED_DATA / "olist" / "olist_order_payments_dataset.csv"

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# Idle OpenMP threads sleep instead of spinning (read when libgomp loads, so set before any test
# imports scikit-learn; the batch run's kernels inherit it). The batch run and the other tests share
# two cores, and one process's spinning threads took the CPU the other needed: the whole suite took
# 606 s with spinning threads and 577 s without, and the wait for the batch run 79 s against 14 s.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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


BATCH_KEY = pytest.StashKey[dict]()


def _start_batch() -> dict:
    """Start one `rfmkit run` of every batch notebook with the notebooks' defaults, exactly what
    `make run` does, in a stand-in for a fresh clone (the project's files linked into a new folder,
    runs/ empty before). Output goes to files (a pipe could fill up and stall it)."""
    import subprocess
    import sys
    import tempfile

    from rfmkit.paths import PROJECT_ROOT

    root = Path(tempfile.mkdtemp(prefix="rfmkit-clone-"))
    for entry in PROJECT_ROOT.iterdir():
        if entry.name not in {"runs", ".git", ".pytest_cache", ".ruff_cache"}:
            (root / entry.name).symlink_to(entry)
    env = {k: v for k, v in os.environ.items()
           if k not in ("RFMKIT_DRY_RUN", "RFMKIT_RUN_DIR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    args = [sys.executable, "-m", "rfmkit", "run", "--run-dir", "runs/20260101-000000"]
    out, err = (root.parent / f"{root.name}.stdout").open("w+"), (root.parent / f"{root.name}.stderr").open("w+")
    process = subprocess.Popen(args, cwd=root, env=env, stdout=out, stderr=err, text=True)
    return {"root": root, "args": args, "process": process, "out": out, "err": err}


def pytest_collection_finish(session):
    """Start the batch run as soon as the tests are collected, if any of them needs it: it runs
    while the tests before test_notebooks do. The notebooks keep about one of the two cores busy
    on average, and the suite's other tests mostly one. Side by side (with OMP_WAIT_POLICY above)
    the suite took 577 s, against 718 s in the last clean-clone run with the batch run alone; its
    slowest tests took up to twice as long."""
    if session.config.option.collectonly:
        return
    if any("batch_run" in getattr(item, "fixturenames", ()) for item in session.items):
        session.config.stash[BATCH_KEY] = _start_batch()


def pytest_sessionfinish(session, exitstatus):
    import shutil

    started = session.config.stash.get(BATCH_KEY, None)
    if started is None:
        return
    if started["process"].poll() is None:  # interrupted while it ran
        started["process"].kill()
        started["process"].wait()
    for handle in (started["out"], started["err"]):
        handle.close()
        Path(handle.name).unlink(missing_ok=True)
    shutil.rmtree(started["root"], ignore_errors=True)


@pytest.fixture(scope="session")
def batch_run(request):
    """The shared batch run's folder and result: the one execution of every batch notebook, which
    test_notebooks checks notebook by notebook, test_runner checks as a batch and the README test
    uses as `runs/latest`, started when collection finished (see pytest_collection_finish)."""
    import subprocess
    from types import SimpleNamespace

    started = request.config.stash.get(BATCH_KEY, None)
    if started is None:  # not started at collection (a fixture requested some other way)
        started = request.config.stash[BATCH_KEY] = _start_batch()
    returncode = started["process"].wait(timeout=3600)  # a hang guard, not a speed limit
    output = []
    for handle in (started["out"], started["err"]):
        handle.seek(0)
        output.append(handle.read())
    root = started["root"]
    return SimpleNamespace(root=root, run_dir=root / "runs" / "20260101-000000",
                           result=subprocess.CompletedProcess(started["args"], returncode, *output))
