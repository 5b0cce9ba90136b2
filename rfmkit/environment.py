"""Environment checks for notebook 00: is this machine ready for the chosen backend?"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import sys

import pandas as pd

PACKAGES = ["duckdb", "sqlglot", "pandas", "pyarrow", "scikit-learn", "matplotlib", "papermill",
            "mlflow", "boto3", "redshift-connector", "sagemaker"]


def report(backend: str = "local") -> pd.DataFrame:
    """One row per check: what, found, ok, and what to do when not ok."""
    rows = [row("python", platform.python_version(), sys.version_info >= (3, 11),
                 "use Python 3.11 or newer"),
            row("interpreter", sys.executable, True, ""),
            row("cpus / memory", f"{os.cpu_count()} cpus / {memory_gb():.1f} GB", True, "")]
    for name in PACKAGES:
        try:
            version = md.version(name)
            rows.append(row(name, version, True, ""))
        except md.PackageNotFoundError:
            rows.append(row(name, "missing", False, "run `make run` or `make lab` to install"))
    from rfmkit.backends import preflight_checks

    rows += preflight_checks(backend)
    return pd.DataFrame(rows)


def preflight(backend: str, parameters: dict | None = None) -> list[str]:
    """What must be fixed before a batch on `backend` can work, one sentence each (empty: ready).

    The runner calls this before the first notebook, so that `--backend aws` without credentials
    fails at once with what is missing instead of an assertion in notebook 00.
    """
    given = parameters or {}
    checks = report(backend)
    if given.get("region"):  # a region parameter stands in for the configured one
        checks = checks[checks["check"] != "AWS region"]
    failed = checks[~checks["ok"].astype(bool)]
    return [f"{row.check}: {row.found} ({row.fix})" for row in failed.itertuples()]


def row(check: str, found: str, ok: bool, fix: str) -> dict[str, object]:
    return {"check": check, "found": found, "ok": ok, "fix": fix}


def memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return float("nan")
