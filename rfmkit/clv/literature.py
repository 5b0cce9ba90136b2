"""The published CDNOW results, and their reproduction through the kit's generic transaction-log
path (the same code a user's own log goes through, with parameters only).

CDNOW's 2,357-customer sample (Fader and Hardie's public data; 39-week calibration ending
1997-09-30, times in weeks) is not committed here: `cdnow_sample` takes the copy the `lifetimes`
package ships in its wheel (MIT licence), downloaded from PyPI with pip on first use and cached
in data/external/.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from rfmkit.clv import models
from rfmkit.clv.summary import Period, summarise
from rfmkit.paths import DATA_DIR

# Fader, Hardie and Lee (2005), "Counting your customers the easy way" (BG/NBD); Fader and
# Hardie's Pareto/NBD note (2005); Fader and Hardie (2013), "The Gamma-Gamma model of monetary
# value" (946 repeat buyers). γ is pymc-marketing's v.
PUBLISHED = {
    "BG/NBD": ({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
    "Pareto/NBD": ({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9595.0),
    "Gamma-Gamma": ({"p": 6.25, "q": 3.74, "v": 15.44}, -4055.92),
}
CDNOW_PERIOD = Period.of("1997-09-30", "1998-06-30", "weeks")
# CDNOW_sample.txt: master id, sample id, date (YYYYMMDD), CDs bought, dollar value; no header.
CDNOW_COLUMNS = {"customer": 1, "timestamp": 3, "amount": 5}
LIFETIMES_WHEEL = "lifetimes==0.11.3"
MEMBER = "lifetimes/datasets/CDNOW_sample.txt"
REPRODUCTION_CSV = "cdnow_reproduction.csv"


def cdnow_sample(cache: Path = DATA_DIR / "external") -> Path | None:
    """The CDNOW sample file, from the cache or the lifetimes wheel on PyPI; None when offline."""
    target = cache / "CDNOW_sample.txt"
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                               "--disable-pip-version-check", LIFETIMES_WHEEL, "-d", folder],
                              capture_output=True, text=True, timeout=600)
        wheels = list(Path(folder).glob("*.whl"))
        if done.returncode or not wheels:
            return None
        cache.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            target.write_bytes(wheel.read(MEMBER))
    return target


def load_cdnow(warehouse, path: Path, staging_dir: Path) -> None:
    """Load the sample as any user's log (mapping by position) and run the RFM models."""
    from rfmkit import rfm
    from rfmkit.transaction_log import TransactionMapping, load_transaction_log

    load_transaction_log(warehouse, path, TransactionMapping.from_params(CDNOW_COLUMNS),
                         time_format="YYYYMMDD", has_header=False, staging_dir=staging_dir)
    rfm.score(warehouse, progress=None)


def reproduction(summary: pd.DataFrame) -> pd.DataFrame:
    """Published vs fitted, one row per parameter and log-likelihood, with the relative gap."""
    fits = {"BG/NBD": models.fit_purchases(summary, "bgnbd"),
            "Pareto/NBD": models.fit_purchases(summary, "pnbd"),
            "Gamma-Gamma": models.fit_spend(summary)}
    rows = []
    for label, (params, log_likelihood) in PUBLISHED.items():
        fitted = fits[label]
        for name, value in [*params.items(), ("log-likelihood", log_likelihood)]:
            got = fitted.log_likelihood if name == "log-likelihood" else fitted.params[name]
            rows.append({"model": label, "parameter": "γ" if name == "v" else name,
                         "published": value, "fitted": round(got, 4),
                         "gap_pct": round(100 * abs(got - value) / abs(value), 3)})
    return pd.DataFrame(rows)


def reproduce_cdnow(path: Path, run_dir: Path) -> pd.DataFrame:
    """Load CDNOW into a scratch in-memory warehouse (the run's warehouse is left alone),
    summarise it for the papers' period, fit, compare with PUBLISHED, and keep the table in
    <run>/customer_value/cdnow_reproduction.csv."""
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    folder = Path(run_dir) / "customer_value"
    with DuckDBWarehouse(":memory:") as scratch:
        load_cdnow(scratch, path, folder)
        table = reproduction(summarise(scratch, CDNOW_PERIOD))
    table.to_csv(folder / REPRODUCTION_CSV, index=False)
    return table


def reproduce_in_background(path: Path, run_dir: Path) -> Future:
    """`reproduce_cdnow` in a worker process while the caller goes on; `.result()` is its table
    (or raises its error).

    The three fits are about 11 s of one core, mostly PyTensor building and compiling graphs, and
    notebook 05's own fits use one core: started with the notebook, the reproduction is ready when
    its section is reached. The worker is forked where the platform can (Linux, macOS), so it starts
    with the pymc-marketing the kernel has imported (5 s to import afresh); elsewhere it is spawned.
    It exits once the reproduction is done."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context(method))
    future = executor.submit(reproduce_cdnow, path, run_dir)
    executor.shutdown(wait=False)
    return future
