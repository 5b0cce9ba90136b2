"""COPY semantics shared by both backends: file checks, row accounting and the load report.

Every load answers "where did each input row go?": read = loaded + rejected, with each rejected
row kept (file, line, column, reason, raw text) in `load_rejects` and each load in `load_audit`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

REJECT_COLUMNS = ["file_name", "line_number", "column_name", "reason", "raw_line"]
LOAD_MODES = ("replace", "merge", "append")


class LoadError(RuntimeError):
    """A load that did not happen; the message names the file (and line/column where known)."""

    def __init__(self, message: str, report: LoadReport | None = None):
        super().__init__(message)
        self.report = report


class MaxErrorsExceeded(LoadError):
    """More rows were rejected than max_errors allows; the target table is unchanged."""


@dataclass
class LoadReport:
    load_id: str
    table: str
    files: list[str]
    mode: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    blank_lines: int = 0
    status: str = "pending"
    seconds: float = 0.0
    message: str = ""
    # per file: (records read, blank lines skipped)
    file_counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_rejected

    def summary(self) -> str:
        names = ", ".join(Path(f).name for f in self.files)
        text = (f"{self.table} <- {names}: read {self.rows_read:,} = loaded {self.rows_loaded:,}"
                f" + rejected {self.rows_rejected:,} [{self.status}, {self.seconds:.2f} s]")
        if self.blank_lines:
            text += f" ({self.blank_lines:,} blank lines skipped)"
        if self.message:
            text += f" - {self.message}"
        return text

    def as_row(self) -> dict[str, object]:
        return {"table": self.table, "files": ", ".join(Path(f).name for f in self.files),
                "read": self.rows_read, "loaded": self.rows_loaded,
                "rejected": self.rows_rejected, "status": self.status,
                "seconds": round(self.seconds, 2)}

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        html = pd.DataFrame([self.as_row()]).to_html(index=False)
        if len(self.rejects):
            html += "<p>Rejected rows (first 10):</p>" + self.rejects.head(10).to_html(index=False)
        return html


def new_load_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def failed_attempt(command, mode: str, error: Exception, seconds: float) -> LoadReport:
    """The report of a load that failed before reading a row (missing file, bad header, ...): it
    is recorded in load_audit like any other attempt, with the source as its file name."""
    return LoadReport(load_id=new_load_id(), table=command.table, files=[str(command.source)],
                      mode=mode, status="failed", seconds=seconds,
                      message=str(error).splitlines()[0][:1000])


def prefix_note(source: str | Path, files: list[Path]) -> str:
    """Say which files a source matched when it is a prefix rather than a file or folder name
    (COPY's S3 semantics): `files/bas` loading `base.csv` must not go unnoticed."""
    path = Path(str(source)).expanduser()
    if str(source).startswith("s3://") or path.is_file() or path.is_dir():
        return ""
    names = ", ".join(p.name for p in files[:20]) + (f" and {len(files) - 20} more" if len(files) > 20 else "")
    return f"source {source} is a prefix: it matched {len(files)} file(s): {names}"


def refuse_empty_replace(report: LoadReport, current_rows: int) -> None:
    """A replace that would leave the table empty is almost always a wrong or truncated file."""
    if current_rows:
        raise LoadError(
            f"{', '.join(Path(f).name for f in report.files)} has no rows to load "
            f"(read {report.rows_read:,}, rejected {report.rows_rejected:,}): replacing "
            f"{report.table} would delete its {current_rows:,} rows, so the table is unchanged. "
            f"If emptying it is what you want, pass allow_empty=True", report)


def check_mode(mode: str, key: tuple[str, ...]) -> None:
    if mode not in LOAD_MODES:
        raise ValueError(f"parameter mode={mode!r}: choose one of {LOAD_MODES}")
    if mode == "merge" and not key:
        raise ValueError("mode='merge' needs key=(column, ...) to match existing rows")


# ---------------------------------------------------------------- local files

def local_files(source: str | Path, pattern: str = "*.csv") -> list[Path]:
    """The files a COPY source names: one file, or every CSV under a folder/prefix."""
    path = Path(source).expanduser()
    if not str(source).strip():
        raise LoadError("no source given: pass a file, a folder or an s3:// prefix")
    if path.is_dir():
        files = sorted(p for p in path.rglob(pattern) if p.is_file())
        if not files:
            raise LoadError(f"{path}: folder has no files matching {pattern}")
        return files
    if path.is_file():
        return [path]
    # Redshift treats the source as a key prefix: emulate that on local paths.
    matches = sorted(p for p in path.parent.glob(path.name + "*") if p.is_file())
    if matches:
        return matches
    raise LoadError(f"{path}: no such file (and no files start with that prefix)")


def check_header(path: Path, expected: list[str], header_lines: int, delimiter: str = ",") -> None:
    """Fail early, naming file, line and column, when the header is not the table's columns."""
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: file is empty; expected a header line with columns "
                        f"{', '.join(expected)}")
    if header_lines < 1:
        return
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        first = fh.readline()
    found = [c.strip() for c in next(csv.reader([first], delimiter=delimiter), [])]
    if [c.lower() for c in found] == [c.lower() for c in expected]:
        return
    for i, (want, got) in enumerate(zip(expected, found, strict=False), start=1):
        if want.lower() != got.lower():
            raise LoadError(
                f"{path}, line 1, column {i}: header has {got!r} where the table expects "
                f"{want!r} (expected header: {','.join(expected)})")
    problem = "missing" if len(found) < len(expected) else "extra"
    raise LoadError(
        f"{path}, line 1: header has {len(found)} columns, the table has {len(expected)} "
        f"({problem} column(s): {', '.join(set(expected) ^ set(found))})")


# ---------------------------------------------------------------- Parquet

def is_parquet(options: dict[str, str | bool]) -> bool:
    """COPY ... FORMAT [AS] PARQUET."""
    return str(options.get("FORMAT", "")).upper().removeprefix("AS ").strip() == "PARQUET"


def _parquet_schema(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path)
    except Exception as error:  # pyarrow raises several types for a damaged or non-Parquet file
        raise LoadError(f"{path}: not a readable Parquet file ({error})") from None


def check_parquet_columns(path: Path, expected: list[str]) -> None:
    """Redshift maps Parquet columns to the table's by position and needs the same count; a name
    that differs at a position is almost always a wrong file, so it is an error here too."""
    found = list(_parquet_schema(path).names)
    for i, (want, got) in enumerate(zip(expected, found, strict=False), start=1):
        if want.lower() != got.lower():
            raise LoadError(f"{path}, column {i}: Parquet file has {got!r} where the table expects "
                            f"{want!r} (COPY maps Parquet columns by position; expected: "
                            f"{','.join(expected)})")
    if len(found) != len(expected):
        problem = "missing" if len(found) < len(expected) else "extra"
        raise LoadError(f"{path}: Parquet file has {len(found)} columns, the table has "
                        f"{len(expected)} ({problem} column(s): "
                        f"{', '.join(sorted(set(expected) ^ set(found)))})")


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def count_records(path: Path, header_lines: int) -> tuple[int, int]:
    """(data records, blank lines) in a CSV file, by counting line ends in 8 MB chunks.

    Records with quoted line breaks would be over-counted here; the caller re-counts with
    `count_records_quoted` when the totals do not balance.
    """
    lines = blank = 0
    previous = b"\n"  # so a blank first line is counted
    last = b""
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            joined = previous + chunk
            lines += chunk.count(b"\n")
            blank += joined.count(b"\n\n") + joined.count(b"\n\r\n")
            previous, last = chunk[-1:], chunk[-1:]
    if last and last != b"\n":
        lines += 1
    return max(lines - blank - header_lines, 0), blank


def count_records_quoted(path: Path, header_lines: int, delimiter: str = ","
                         ) -> tuple[int, int]:
    """Exact (records, blank lines) with a CSV parser, for files with quoted line breaks."""
    records = blank = 0
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for _ in range(header_lines):
            next(reader, None)
        for row in reader:
            if row:
                records += 1
            else:
                blank += 1
    return records, blank


def count_files(files: list[Path], header_lines: int, parquet: bool = False
                ) -> dict[str, tuple[int, int]]:
    """(records, blank lines) per file: Parquet from its footer, CSV by counting line ends."""
    if parquet:
        return {str(p): (parquet_rows(p), 0) for p in files}
    return {str(p): count_records(p, header_lines) for p in files}


def account(report: LoadReport, files: list[Path], header_lines: int, delimiter: str = ",",
            *, parquet: bool = False, counts: dict[str, tuple[int, int]] | None = None) -> None:
    """Fill the report's read counts from the files themselves, independently of the database.

    Line ends are counted first (fast); if that does not balance with loaded + rejected, quoted line
    breaks are the likely reason, so records are counted exactly with a CSV parser. Parquet files
    state their row count in their footer.
    """
    if counts is None:
        counts = count_files(files, header_lines, parquet)
    if sum(c[0] for c in counts.values()) != report.rows_loaded + report.rows_rejected:
        counts = {str(p): count_records_quoted(p, header_lines, delimiter) for p in files}
    report.file_counts = counts
    report.rows_read = sum(c[0] for c in counts.values())
    report.blank_lines = sum(c[1] for c in counts.values())


def null_violations(path: Path, columns: list[str], required: list[str], header_lines: int,
                    skip_lines: set[int], delimiter: str = ",") -> list[dict[str, object]]:
    """Rows whose NOT NULL columns are empty (COPY rejects these; read_csv does not)."""
    indexes = [(columns.index(c), c) for c in required]
    found = []
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for _ in range(header_lines):
            next(reader, None)
        for row in reader:
            line = reader.line_num
            if not row or line in skip_lines or len(row) != len(columns):
                continue
            for i, name in indexes:
                if row[i].strip() == "":
                    found.append({"file_name": str(path), "line_number": line,
                                  "column_name": name,
                                  "reason": f"NULL in NOT NULL column {name}",
                                  "raw_line": _join_csv(row)})
                    break
    return found


def _join_csv(row: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    return buffer.getvalue()


def raw_lines(path: Path, line_numbers: set[int]) -> dict[int, str]:
    """The raw text of the given (1-based, physical) lines of a file."""
    wanted, found = set(line_numbers), {}
    if not wanted:
        return found
    last = max(wanted)
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if number in wanted:
                found[number] = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
            if number >= last:
                break
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_COLUMN_COUNT = re.compile(r"(MISSING COLUMNS|TOO MANY COLUMNS): Expected Number of Columns: (\d+) "
                           r"Found: (\d+)")


def collapse_rejects(rejects: pd.DataFrame) -> pd.DataFrame:
    """One row per rejected input line (a line can fail on several columns), with one reason per
    problem: DuckDB reports a short row once per missing column (with differing counts) and a
    long row without a column name; both are stated once, with the columns concerned."""
    if rejects.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    rejects = rejects.astype({"line_number": "int64"})
    grouped = rejects.sort_values(["file_name", "line_number"]).groupby(
        ["file_name", "line_number"], as_index=False, sort=True)
    collapsed = grouped.agg({
        "column_name": lambda s: ", ".join(dict.fromkeys(str(v) for v in s if pd.notna(v) and str(v))),
        "reason": lambda s: "; ".join(dict.fromkeys(_column_count_reason(str(v), s) for v in s)),
        "raw_line": "first",
    })[REJECT_COLUMNS]
    too_many = collapsed["reason"].str.startswith("TOO MANY COLUMNS") & (collapsed["column_name"] == "")
    collapsed.loc[too_many, "column_name"] = collapsed.loc[too_many, "reason"].str.extract(
        r"expected (\d+)", expand=False).map(lambda n: f"(column {int(n) + 1} and after)")
    return collapsed


def _column_count_reason(reason: str, all_reasons: pd.Series) -> str:
    """'MISSING COLUMNS: expected 5 columns, found 3' once, whatever count each report gave."""
    match = _COLUMN_COUNT.match(reason)
    if not match:
        return reason
    kind, expected = match.group(1), int(match.group(2))
    found = [int(m.group(3)) for m in map(_COLUMN_COUNT.match, map(str, all_reasons)) if m and m.group(1) == kind]
    count = min(found) if kind == "MISSING COLUMNS" else max(found)
    return f"{kind}: expected {expected} columns, found {count}"


def max_errors_message(report: LoadReport, max_errors: int) -> str:
    first = report.rejects.iloc[0]
    return (
        f"load of {report.table} failed: {report.rows_rejected} rows rejected, more than "
        f"max_errors={max_errors}; the table is unchanged. First: {Path(first.file_name).name}, "
        f"line {first.line_number}, column {first.column_name or '-'}: {first.reason}. "
        f"All rejected rows: warehouse.rejects(load_id='{report.load_id}')")
