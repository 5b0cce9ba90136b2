"""The mapping layer: any transaction log → the view `src_transactions` the RFM SQL reads.

The RFM pipeline in sql/ reads one contract, whatever the data:

    src_transactions(customer_id, order_id, purchased_at, amount, order_status)

For Olist, `sql/020_src_olist_transactions.sql` builds it from the three Kaggle tables. For your
own data, a `TransactionMapping` says which of your columns is which, and `load_transaction_log`
(a CSV file) or `map_table` (a table already in the warehouse) creates the same view. Only
identifiers come from the mapping and they are quoted by the library; no values are spliced in.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rfmkit.warehouse.base import Warehouse
from rfmkit.warehouse.dialect import quote_ident, quote_table
from rfmkit.warehouse.loading import LoadReport

SOURCE_VIEW = "src_transactions"
LOG_TABLE = "raw_transaction_log"

# Types of the mapped columns in the raw table; every other column of the file is kept as text.
_ID_TYPE, _TIME_TYPE, _AMOUNT_TYPE, _TEXT_TYPE = ("VARCHAR(256)", "TIMESTAMP", "DECIMAL(18,4)",
                                                  "VARCHAR(65535)")


class MappingError(ValueError):
    """The mapping does not fit the data; the message names the source and the columns."""


@dataclass(frozen=True)
class TransactionMapping:
    """Which columns of a transaction log hold the customer, order, time and amount.

    customer:  identifies the person (rows without one cannot be scored and are counted out).
    timestamp: when the transaction happened (a date or a date and time).
    amount:    money of the row; a list of columns is multiplied (e.g. ["Quantity", "Price"]).
               Rows of one order are summed; an order with a negative total is a return.
    order:     groups rows into orders (frequency counts distinct orders). Without it, a
               customer's rows at the same timestamp form one order (one checkout).
    status:    optional; rows whose status is not among the counted statuses are left out.
    """

    customer: str
    timestamp: str
    amount: str | tuple[str, ...]
    order: str | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.amount, list):
            object.__setattr__(self, "amount", tuple(self.amount))

    @classmethod
    def from_params(cls, values: Mapping[str, Any], parameter: str = "log_columns"
                    ) -> TransactionMapping:
        """Build from a notebook parameter such as {"customer": "Customer ID", ...}."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise MappingError(f"parameter {parameter}: unknown key(s) {unknown}; use {known}")
        missing = [k for k in ("customer", "timestamp", "amount") if not values.get(k)]
        if missing:
            raise MappingError(f"parameter {parameter}: say which column holds {missing} "
                               f"(e.g. {{'customer': 'Customer ID', 'timestamp': 'InvoiceDate', "
                               f"'amount': ['Quantity', 'Price'], 'order': 'Invoice'}})")
        return cls(**{k: v for k, v in values.items() if v not in (None, "", [])})

    @property
    def amount_columns(self) -> tuple[str, ...]:
        return self.amount if isinstance(self.amount, tuple) else (self.amount,)

    def source_columns(self) -> list[str]:
        """Every column the mapping reads, once each, in a stable order."""
        names = [self.customer, self.order, self.timestamp, *self.amount_columns, self.status]
        return list(dict.fromkeys(n for n in names if n))

    def check(self, available: Sequence[str], source: str) -> None:
        """Raise a MappingError naming the source, each missing column and near matches."""
        by_lower = {c.lower(): c for c in available}
        problems = []
        for name in self.source_columns():
            if name.lower() in by_lower:
                continue
            close = difflib.get_close_matches(name.lower(), list(by_lower), n=2, cutoff=0.6)
            hint = f" (did you mean {', '.join(repr(by_lower[c]) for c in close)}?)" if close else ""
            problems.append(f"{name!r}{hint}")
        if problems:
            raise MappingError(
                f"{source}: no column(s) {', '.join(problems)}; it has: {', '.join(available)}")

    def view_sql(self, table: str) -> str:
        """CREATE VIEW src_transactions over `table` (Redshift dialect)."""
        amount = " * ".join(f"CAST({quote_ident(c)} AS {_AMOUNT_TYPE})" for c in self.amount_columns)
        purchased_at = f"CAST({quote_ident(self.timestamp)} AS TIMESTAMP)"
        order = (f"CAST({quote_ident(self.order)} AS VARCHAR(256))" if self.order
                 else f"CAST({purchased_at} AS VARCHAR(64))")
        status = f"CAST({quote_ident(self.status)} AS VARCHAR(64))" if self.status \
            else "CAST(NULL AS VARCHAR(64))"
        return (
            f"CREATE OR REPLACE VIEW {SOURCE_VIEW} AS\n"
            f"SELECT CAST({quote_ident(self.customer)} AS VARCHAR(256)) AS customer_id,\n"
            f"       {order} AS order_id,\n"
            f"       {purchased_at} AS purchased_at,\n"
            f"       CAST({amount} AS {_AMOUNT_TYPE}) AS amount,\n"
            f"       {status} AS order_status\n"
            f"FROM {quote_table(table)}")


def map_table(warehouse: Warehouse, table: str, mapping: TransactionMapping) -> None:
    """Point src_transactions at a table already in the warehouse."""
    columns = warehouse.table_columns(table)
    if columns.empty:
        raise MappingError(f"table {table} does not exist in {warehouse}")
    mapping.check(list(columns["name"]), f"table {table}")
    warehouse.execute(f"DROP VIEW IF EXISTS {SOURCE_VIEW} CASCADE")
    warehouse.execute(mapping.view_sql(table))


def read_header(path: Path, delimiter: str | None = None) -> tuple[list[str], str]:
    """The header's column names and the delimiter (sniffed among , ; tab | when not given)."""
    if not path.exists():
        raise MappingError(f"{path}: file not found")
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        sample = fh.read(64 * 1024)
    if not sample.strip():
        raise MappingError(f"{path}: file is empty; expected a header line")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample.splitlines()[0], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    header = [c.strip() for c in next(csv.reader([sample.splitlines()[0]], delimiter=delimiter))]
    for i, name in enumerate(header, start=1):
        if not name:
            raise MappingError(f"{path}, line 1, column {i}: empty column name in the header")
    duplicates = sorted({c for c in header if [h.lower() for h in header].count(c.lower()) > 1})
    if duplicates:
        raise MappingError(f"{path}, line 1: duplicate column name(s) {duplicates}")
    return header, delimiter


def load_transaction_log(
    warehouse: Warehouse, path: str | Path, mapping: TransactionMapping, *,
    table: str = LOG_TABLE, time_format: str = "auto", delimiter: str | None = None,
    max_errors: int = 100,
) -> LoadReport:
    """Load a CSV transaction log (COPY semantics: rejects kept, rows accounted) and map it.

    The raw table keeps every column of the file; the mapped ones are typed so that bad values
    are rejected with file, line and column instead of surfacing later as wrong scores.
    time_format: Redshift TIMEFORMAT of the timestamp column ('auto', 'YYYY-MM-DD HH:MI:SS',
    'MM/DD/YYYY HH24:MI', 'YYYYMMDD', ...).
    """
    path = Path(path)
    header, delimiter = read_header(path, delimiter)
    mapping.check(header, str(path))
    lower = {c.lower() for c in mapping.amount_columns}
    types = {}
    for name in header:
        key = name.lower()
        if key in lower:
            types[name] = _AMOUNT_TYPE
        elif key == mapping.timestamp.lower():
            types[name] = _TIME_TYPE
        elif key in {c.lower() for c in (mapping.customer, mapping.order, mapping.status) if c}:
            types[name] = _ID_TYPE
        else:
            types[name] = _TEXT_TYPE
    warehouse.execute(f"DROP VIEW IF EXISTS {SOURCE_VIEW} CASCADE")
    warehouse.execute(f"DROP TABLE IF EXISTS {quote_table(table)}")
    warehouse.execute(f"CREATE TABLE {quote_table(table)} ("
                      + ", ".join(f"{quote_ident(n)} {t}" for n, t in types.items()) + ")")
    report = warehouse.load_csv(table, path, max_errors=max_errors, time_format=time_format,
                                delimiter=delimiter)
    map_table(warehouse, table, mapping)
    return report
