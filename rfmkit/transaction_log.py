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
from collections import Counter
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
        return cls(**{k: v for k, v in values.items() if v is not None and v != "" and v != []})

    def by_position(self, header: Sequence[str]) -> TransactionMapping:
        """The mapping with column positions (1 = first column) replaced by the header's names;
        a file without a header row is mapped this way."""
        def name(value, key):
            if isinstance(value, bool) or not isinstance(value, int):
                return value
            if not 1 <= value <= len(header):
                raise MappingError(f"parameter log_columns: {key}={value} is not a column position; "
                                   f"the file has {len(header)} column(s), numbered from 1")
            return header[value - 1]

        return TransactionMapping(
            customer=name(self.customer, "customer"), timestamp=name(self.timestamp, "timestamp"),
            amount=tuple(name(a, "amount") for a in self.amount_columns),
            order=name(self.order, "order"), status=name(self.status, "status"))

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


# Delimiter names a user can pass (log_delimiter) and the character each stands for. "whitespace"
# means runs of spaces or tabs, as in CDNOW's public log; such files are normalised to CSV first.
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "whitespace": " "}
WHITESPACE = DELIMITERS["whitespace"]


def delimiter_name(delimiter: str) -> str:
    return next((n for n, d in DELIMITERS.items() if d == delimiter), repr(delimiter))


def parse_delimiter(value: str | None, parameter: str = "log_delimiter") -> str | None:
    """A delimiter by name or character; None (or "auto") means detect it."""
    if value in (None, "", "auto"):
        return None
    if value in DELIMITERS:
        return DELIMITERS[value]
    if value == "\\t":  # a tab typed as backslash-t on the command line
        return "\t"
    if len(value) == 1:
        return value
    raise MappingError(f"parameter {parameter}={value!r}: use one of "
                       f"{', '.join(['auto', *DELIMITERS])}")


def detect_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the sample's lines into the same number (>1) of fields.

    Tried in order , ; tab |, then runs of whitespace; comma when nothing fits (one column)."""
    lines = [line for line in lines if line.strip()][:50]

    def fits(counts: list[int]) -> bool:  # one field count in (nearly) every line, more than one
        if not counts:
            return False
        fields_, seen = Counter(counts).most_common(1)[0]
        return fields_ > 1 and seen >= 0.9 * len(counts)

    for candidate in (",", ";", "\t", "|"):
        if fits([len(row) for row in csv.reader(lines, delimiter=candidate)]):
            return candidate
    if fits([len(line.split()) for line in lines]):
        return WHITESPACE
    return ","


def read_header(path: Path, delimiter: str | None = None, *, has_header: bool = True
                ) -> tuple[list[str], str]:
    """The column names and the delimiter (detected among , ; tab | and whitespace when not given).

    Without a header row the columns are named column_1, column_2, ... (map them by position)."""
    if not path.exists():
        raise MappingError(f"{path}: file not found")
    if path.is_dir():
        raise MappingError(f"{path}: is a folder; name the transaction file")
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        sample = fh.read(64 * 1024)
    lines = sample.splitlines()
    if not sample.strip():
        raise MappingError(f"{path}: file is empty; expected "
                           + ("a header line" if has_header else "transaction rows"))
    if delimiter is None:
        delimiter = detect_delimiter(lines if len(sample) < 64 * 1024 else lines[:-1])
    first = next(line for line in lines if line.strip()) if not has_header else lines[0]
    fields_ = first.split() if delimiter == WHITESPACE else \
        next(csv.reader([first], delimiter=delimiter))
    if not has_header:
        return [f"column_{i}" for i in range(1, len(fields_) + 1)], delimiter
    header = [c.strip() for c in fields_]
    for i, name in enumerate(header, start=1):
        if not name:
            raise MappingError(f"{path}, line 1, column {i}: empty column name in the header "
                               f"(read with delimiter {delimiter_name(delimiter)}; if the file has no "
                               f"header, say so with log_header=false)")
    duplicates = sorted({c for c in header if [h.lower() for h in header].count(c.lower()) > 1})
    if duplicates:
        raise MappingError(f"{path}, line 1: duplicate column name(s) {duplicates}")
    return header, delimiter


def normalise_whitespace(path: Path, folder: Path) -> Path:
    """A comma-separated copy of a whitespace-separated file, line for line (line numbers and blank
    lines kept, so rejects still point at the original's lines). Fields must not contain spaces."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.stem}.normalised.csv"
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as source, \
            target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        for line in source:
            fields_ = line.split()
            if fields_:
                writer.writerow(fields_)
            else:
                out.write("\n")
    return target


def load_transaction_log(
    warehouse: Warehouse, path: str | Path, mapping: TransactionMapping, *,
    table: str = LOG_TABLE, time_format: str = "auto", delimiter: str | None = None,
    has_header: bool = True, max_errors: int = 100, staging_dir: str | Path | None = None,
) -> LoadReport:
    """Load a delimited transaction log (COPY semantics: rejects kept, rows accounted) and map it.

    The raw table keeps every column of the file; the mapped ones are typed so that bad values
    are rejected with file, line and column instead of surfacing later as wrong scores.
    delimiter: a character or a name (comma, semicolon, tab, pipe, whitespace); None detects it.
    has_header: False for files without a header row; map columns by position (1 = first).
    time_format: Redshift TIMEFORMAT of the timestamp column ('auto', 'YYYY-MM-DD HH:MI:SS',
    'MM/DD/YYYY HH24:MI', 'YYYYMMDD', ...).
    staging_dir: where a whitespace-separated file's comma-separated copy goes (default: a
    folder beside the warehouse's temp files).
    """
    path = Path(path).expanduser()
    given = parse_delimiter(delimiter)
    header, delimiter = read_header(path, given, has_header=has_header)
    how = f"{delimiter_name(delimiter)} ({'given' if given else 'detected'})"
    try:
        mapping = mapping.by_position(header)
        mapping.check(header, f"{path} (read with delimiter {how}"
                              + ("" if has_header else ", no header row") + ")")
    except MappingError as error:
        hint = ("; set log_delimiter (comma, semicolon, tab, pipe, whitespace) if that is wrong"
                if not given else "")
        raise MappingError(f"{error}{hint}") from None
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
    source = path
    if delimiter == WHITESPACE:
        import tempfile

        folder = Path(staging_dir) if staging_dir else Path(tempfile.gettempdir()) / "rfmkit-staging"
        source, delimiter = normalise_whitespace(path, folder), ","
    warehouse.execute(f"DROP VIEW IF EXISTS {SOURCE_VIEW} CASCADE")
    warehouse.execute(f"DROP TABLE IF EXISTS {quote_table(table)}")
    warehouse.execute(f"CREATE TABLE {quote_table(table)} ("
                      + ", ".join(f"{quote_ident(n)} {t}" for n, t in types.items()) + ")")
    report = warehouse.load_csv(table, source, max_errors=max_errors, time_format=time_format,
                                delimiter=delimiter, ignore_header=1 if has_header else 0)
    if source != path:
        report.message = "; ".join(filter(None, [report.message, f"whitespace-separated {path.name} "
                                                 f"loaded from its comma-separated copy {source} "
                                                 f"(same line numbers)"]))
    map_table(warehouse, table, mapping)
    return report
