"""Data-quality checks after a load: keys, not-null, references, ranges, categories, timestamps.

Checks are generated from the TableSpecs in olist.py (one place for the schema's rules) as
Redshift SQL, so they run unchanged on both backends. Each returns the number of failing rows;
a check fails when its failure rate exceeds its threshold, and `assert_passed` raises then.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rfmkit.data.schemas import TABLES, TableSpec
from rfmkit.warehouse.base import Warehouse
from rfmkit.warehouse.dialect import quote_ident, quote_table

# Real Olist data has a few known oddities; thresholds are shares of rows allowed to fail.
DEFAULT_THRESHOLDS = {"unique": 0.0, "not_null": 0.0, "reference": 0.001, "non_negative": 0.0,
                      "category": 0.0, "timestamp_order": 0.01, "timestamp_range": 0.0}


class DataQualityError(AssertionError):
    """Checks failed beyond their thresholds; the message lists them."""


@dataclass(frozen=True)
class Check:
    table: str
    name: str
    kind: str
    sql: str  # returns one row: failures
    description: str


def checks_for(spec: TableSpec) -> list[Check]:
    t = quote_table(spec.table)
    out = []
    key = ", ".join(quote_ident(c) for c in spec.primary_key)
    out.append(Check(spec.table, f"unique {'+'.join(spec.primary_key)}", "unique",
                     f"SELECT COALESCE(SUM(n - 1), 0) AS failures FROM "
                     f"(SELECT {key}, COUNT(*) AS n FROM {t} GROUP BY {key} HAVING COUNT(*) > 1) d",
                     f"one row per {', '.join(spec.primary_key)} (the table's grain)"))
    for col in spec.not_null:
        out.append(Check(spec.table, f"not null {col}", "not_null",
                         f"SELECT COUNT(*) AS failures FROM {t} WHERE {quote_ident(col)} IS NULL",
                         f"{col} is always present"))
    for col, other, other_col in spec.references:
        out.append(Check(
            spec.table, f"{col} -> {other}", "reference",
            f"SELECT COUNT(*) AS failures FROM {t} x WHERE x.{quote_ident(col)} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {quote_table(other)} y "
            f"WHERE y.{quote_ident(other_col)} = x.{quote_ident(col)})",
            f"every {col} exists in {other}.{other_col}"))
    for col in spec.non_negative:
        out.append(Check(spec.table, f"{col} >= 0", "non_negative",
                         f"SELECT COUNT(*) AS failures FROM {t} WHERE {quote_ident(col)} < 0",
                         f"{col} is never negative"))
    for col, values in spec.categories.items():
        listed = ", ".join("'" + v + "'" for v in values)
        out.append(Check(spec.table, f"{col} known", "category",
                         f"SELECT COUNT(*) AS failures FROM {t} WHERE {quote_ident(col)} "
                         f"NOT IN ({listed})",
                         f"{col} is one of {', '.join(values)}"))
    if spec.timestamps:
        first = quote_ident(spec.timestamps[0])
        for col in spec.timestamps:
            out.append(Check(
                spec.table, f"{col} in range", "timestamp_range",
                f"SELECT COUNT(*) AS failures FROM {t} WHERE {quote_ident(col)} IS NOT NULL AND "
                f"({quote_ident(col)} < '2000-01-01' OR {quote_ident(col)} > '2100-01-01')",
                f"{col} parsed to a plausible date"))
        for col in spec.timestamps[1:4]:
            out.append(Check(
                spec.table, f"{col} after {spec.timestamps[0]}", "timestamp_order",
                f"SELECT COUNT(*) AS failures FROM {t} WHERE {quote_ident(col)} < {first}",
                f"{col} does not precede the purchase"))
    return out


def run_checks(warehouse: Warehouse, tables: list[str] | None = None,
               thresholds: dict[str, float] | None = None) -> pd.DataFrame:
    """Run every check for the loaded tables; one row per check with rows, failures, status."""
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    names = [t for t in (tables or list(TABLES)) if warehouse.table_exists(t)]
    rows = []
    for name in names:
        total = warehouse.row_count(name)
        for check in checks_for(TABLES[name]):
            if check.kind == "reference" and not warehouse.table_exists(
                    check.name.split(" -> ")[1]):
                continue
            failures = int(warehouse.query(check.sql)["failures"].iloc[0])
            rate = failures / total if total else 0.0
            limit = limits[check.kind]
            rows.append({"table": name, "check": check.name, "rows": total,
                         "failures": failures, "failure_rate": round(rate, 6),
                         "threshold": limit, "passed": rate <= limit,
                         "rule": check.description})
    return pd.DataFrame(rows, columns=["table", "check", "rows", "failures", "failure_rate",
                                       "threshold", "passed", "rule"])


def assert_passed(results: pd.DataFrame) -> None:
    failed = results[~results["passed"]]
    if len(failed):
        lines = [f"{r.table}: {r.check} failed for {r.failures:,} of {r.rows:,} rows "
                 f"(allowed {r.threshold:.2%}) - rule: {r.rule}" for r in failed.itertuples()]
        raise DataQualityError("data-quality checks failed:\n" + "\n".join(lines))


SCRATCH_PAYMENTS = ("CREATE TABLE payments_scratch (order_id VARCHAR(32) NOT NULL, "
                    "payment_sequential SMALLINT, payment_type VARCHAR(16), "
                    "payment_installments SMALLINT, payment_value DECIMAL(12,2))")


def damaged_payments(payments: Path, target: Path, warehouse) -> Path:
    """Notebook 01's demonstration: the first 20 payments with three damaged lines (a word in the
    value column, one column too many, no order_id), and an empty payments_scratch table to load
    them into."""
    lines = Path(payments).read_text().splitlines()[:21]
    lines[4] = lines[4].rsplit(",", 1)[0] + ",twelve"   # not a number
    lines[9] = lines[9] + ",extra"                      # one column too many
    lines[15] = "," + lines[15].split(",", 1)[1]        # missing order_id
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    warehouse.execute("DROP TABLE IF EXISTS payments_scratch")
    warehouse.execute(SCRATCH_PAYMENTS)
    return target
