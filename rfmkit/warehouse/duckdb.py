"""The embedded warehouse: a DuckDB file running the kit's Redshift SQL.

COPY is emulated with read_csv into a staging table inside one transaction, so a load either
lands whole or not at all (MAXERROR exceeded rolls back). read_csv's reject tables give each
bad row's line, column, reason and raw text; they accumulate per connection, so every load uses
uniquely named ones and drops them afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

from rfmkit.environment import memory_gb
from rfmkit.warehouse.base import Params, Warehouse
from rfmkit.warehouse.dialect import (
    CopyCommand,
    UnloadCommand,
    parameter_names,
    quote_ident,
    quote_table,
    redshift_time_format,
    to_duckdb,
)
from rfmkit.warehouse.loading import (
    REJECT_COLUMNS,
    LoadError,
    LoadReport,
    MaxErrorsExceeded,
    account,
    check_header,
    check_mode,
    check_parquet_columns,
    collapse_rejects,
    failed_attempt,
    file_sha256,
    is_parquet,
    local_files,
    max_errors_message,
    new_load_id,
    null_violations,
    prefix_note,
    refuse_empty_replace,
)

DEFAULT_MEMORY_LIMIT = "2GB"


@lru_cache(maxsize=512)
def _translate(statement: str) -> tuple[tuple[str, ...], frozenset[str]]:
    return tuple(to_duckdb(statement)), frozenset(parameter_names(statement))


def _duck_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class WarehouseMemoryError(MemoryError):
    """A statement needed more memory than DuckDB's limit; the message says how to raise it."""


class DuckDBWarehouse(Warehouse):
    name = "duckdb"

    def __init__(self, path: str | Path = ":memory:", *, threads: int | None = None,
                 memory_limit: str | None = None):
        """memory_limit: DuckDB's cap before it spills to disk; default $RFMKIT_DUCKDB_MEMORY or
        2GB. DuckDB's own default (80 % of RAM) is greedy on a shared workshop machine, and a
        cap makes the 100M-row benchmark spill instead of competing with the OS for memory."""
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(self.path)
        # Tables are never read back in insertion order (queries that need order say ORDER BY);
        # dropping the guarantee lets DuckDB build large tables with far less memory.
        self.con.execute("SET preserve_insertion_order = false")
        limit = memory_limit or os.environ.get("RFMKIT_DUCKDB_MEMORY") or DEFAULT_MEMORY_LIMIT
        self.memory_limit = limit
        try:
            self.con.execute(f"SET memory_limit = {_duck_literal(limit)}")
        except duckdb.Error as error:
            raise ValueError(f"memory_limit={limit!r} (parameter or $RFMKIT_DUCKDB_MEMORY): "
                             f"use a size such as '2GB'; {error}") from None
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def __repr__(self) -> str:
        return f"DuckDBWarehouse({self.path!r})"

    # -- SQL -----------------------------------------------------------------------------------
    def _run(self, sql: str, params: Params):
        statements, names = _translate(sql)
        bound = {k: v for k, v in (params or {}).items() if k in names}
        missing = names - set(bound)
        if missing:
            raise ValueError(f"SQL needs parameter(s) {sorted(missing)}: {sql[:120]!r}")
        try:
            for statement in statements[:-1]:
                self.con.execute(statement)
            return self.con.execute(statements[-1], bound or None)
        except duckdb.OutOfMemoryException as error:
            statement = " ".join(sql.split())[:100]
            raise WarehouseMemoryError(
                f"DuckDB needed more than its memory limit ({self.memory_limit}) for: "
                f"{statement}... Raise the limit with $RFMKIT_DUCKDB_MEMORY (this machine has "
                f"{memory_gb():.0f} GB of RAM; about half of it is a safe limit). "
                f"DuckDB said: {str(error).splitlines()[0]}") from None

    def native_sql(self, sql: str) -> str:
        """The DuckDB statement(s) a Redshift-dialect statement is transpiled to."""
        return ";\n".join(_translate(sql)[0])

    def execute(self, sql: str, params: Params = None) -> None:
        self._run(sql, params)

    def query(self, sql: str, params: Params = None) -> pd.DataFrame:
        return self._run(sql, params).df()

    def execute_native(self, sql: str, params: Params = None) -> duckdb.DuckDBPyConnection:
        """Run DuckDB SQL as is (no transpiling): for the backend's own internals and benchmarks."""
        return self.con.execute(sql, params or None)

    def table_columns(self, table: str) -> pd.DataFrame:
        schema, _, name = table.rpartition(".")
        return self.con.execute(
            "SELECT column_name AS name, data_type, is_nullable = 'YES' AS nullable "
            "FROM information_schema.columns WHERE table_name = $name "
            "AND table_schema = coalesce($schema, current_schema()) ORDER BY ordinal_position",
            {"name": name, "schema": schema or None},
        ).df()

    def close(self) -> None:
        self.con.close()

    # -- COPY ----------------------------------------------------------------------------------
    def copy(self, command: CopyCommand, *, mode: str = "replace", key: Iterable[str] = (),
             allow_empty: bool = False) -> LoadReport:
        key = tuple(key)
        check_mode(mode, key)
        started, t0 = datetime.now(UTC).replace(tzinfo=None), time.perf_counter()
        self._ensure_audit_tables()
        try:  # failures before any row is read are load attempts too: recorded, then raised
            columns, types, required, parquet, files = self._prepare(command)
        except LoadError as exc:
            report = failed_attempt(command, mode, exc, time.perf_counter() - t0)
            self._record(report, started, {}, [])
            exc.report = report
            raise
        header = command.ignore_header
        report = LoadReport(load_id=new_load_id(), table=command.table,
                            files=[str(p) for p in files], mode=mode,
                            message=prefix_note(command.source, files))
        digests = {str(p): file_sha256(p) for p in files}
        if mode == "append":
            files = self._not_yet_loaded(command.table, files, digests)
            if not files:
                report.status, report.message = "skipped", "already loaded (same file content)"
                report.seconds = time.perf_counter() - t0
                self._record(report, started, digests, [])
                return report

        stage = f"_stage_{report.load_id.replace('-', '_')}"
        in_transaction = False
        try:
            # The files are read into a temp stage *before* the transaction: DuckDB 2.0.0 silently
            # inserts nothing when a table filled by read_csv with more than one row group
            # (122,880 rows) is copied in the same transaction. Only the target changes need
            # the transaction, so MAXERROR still rolls back to the table as it was.
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {stage} AS SELECT {self._cols(columns)} "
                f"FROM {quote_table(command.table)} LIMIT 0")
            if parquet:
                rejects = [self._read_parquet_into(stage, path, columns, types, required)
                           for path in files]
            else:
                rejects = [self._read_into(stage, path, columns, types, command) for path in files]
            rejected = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame()
            if not parquet:
                rejected = self._reject_nulls(stage, files, columns, required, header, rejected,
                                              command.delimiter)
            report.rejects = collapse_rejects(rejected)
            report.rows_rejected = len(report.rejects)
            report.rows_loaded = self.con.execute(f"SELECT COUNT(*) FROM {stage}").fetchone()[0]
            account(report, files, header, command.delimiter, parquet=parquet)
            if not report.balanced:
                raise LoadError(
                    f"row accounting does not balance for {command.table}: read "
                    f"{report.rows_read}, loaded {report.rows_loaded}, rejected "
                    f"{report.rows_rejected}; nothing was loaded", report)
            if report.rows_rejected > command.max_errors:
                raise MaxErrorsExceeded(max_errors_message(report, command.max_errors), report)
            if mode == "replace" and report.rows_loaded == 0 and not allow_empty:
                refuse_empty_replace(report, self.row_count(command.table))
            self.con.execute("BEGIN TRANSACTION")
            in_transaction = True
            inserted = self._apply(stage, command.table, columns, mode, key)
            if inserted != report.rows_loaded:
                raise LoadError(f"{command.table}: {report.rows_loaded} rows staged but {inserted} "
                                f"inserted; the load was rolled back", report)
            report.status = "loaded"
            report.seconds = time.perf_counter() - t0
            self._record(report, started, digests, files)
            self.con.execute("COMMIT")
        except Exception as exc:
            if in_transaction:
                self.con.execute("ROLLBACK")
            report.status = "failed"
            report.message = "; ".join(filter(None, [str(exc).splitlines()[0][:1000], report.message]))
            report.seconds = time.perf_counter() - t0
            # The failure itself is recorded (outside the rolled-back transaction): nothing lost.
            self._record(report, started, digests, files)
            if isinstance(exc, LoadError):
                exc.report = report
                raise
            raise LoadError(f"load of {command.table} failed: {exc}", report) from exc
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {stage}")
        return report

    def _prepare(self, command: CopyCommand):
        """Check the target table and the source files (header, Parquet columns) before reading."""
        catalog = self.table_columns(command.table)
        if catalog.empty:
            raise LoadError(f"table {command.table} does not exist: create it first "
                            f"(for Olist: warehouse.run_file('010_raw_tables.sql'))")
        columns = command.columns or list(catalog["name"])
        unknown = sorted(set(columns) - set(catalog["name"]))
        if unknown:
            raise LoadError(f"COPY {command.table}: no column(s) {unknown} in the table")
        types = dict(zip(catalog["name"], catalog["data_type"], strict=True))
        required = [c for c, nullable in zip(catalog["name"], catalog["nullable"], strict=True)
                    if not nullable and c in columns]
        parquet = is_parquet(command.options)
        files = self._source_files(command.source, "*.parquet" if parquet else "*.csv")
        for path in files:
            if parquet:
                check_parquet_columns(path, columns)
            else:
                check_header(path, columns, command.ignore_header, command.delimiter)
        return columns, types, required, parquet, files

    def _source_files(self, source: str, pattern: str) -> list[Path]:
        from rfmkit.storage import scheme_of, storage_for

        if scheme_of(source) != "file":  # a remote prefix, read the way Redshift COPY reads it
            return storage_for(source).download_prefix(source)
        return local_files(source, pattern)

    @staticmethod
    def _cols(columns: list[str]) -> str:
        return ", ".join(quote_ident(c) for c in columns)

    def _read_into(self, stage: str, path: Path, columns: list[str], types: dict[str, str],
                   command: CopyCommand) -> pd.DataFrame:
        opts = command.options
        suffix = stage.removeprefix("_stage_")
        rejects_table, rejects_scan = f"_rejects_{suffix}", f"_scans_{suffix}"
        spec = ", ".join(f"{_duck_literal(c)}: {_duck_literal(types[c])}" for c in columns)
        args = [
            f"columns = {{{spec}}}", "header = false", f"skip = {command.ignore_header}",
            "auto_detect = false", f"delim = {_duck_literal(str(opts.get('DELIMITER', ',')))}",
            "store_rejects = true", f"rejects_table = '{rejects_table}'",
            f"rejects_scan = '{rejects_scan}'",
        ]
        if opts.get("CSV"):
            quote = str(opts.get("QUOTE", '"'))
            args += [f"quote = {_duck_literal(quote)}", f"escape = {_duck_literal(quote)}"]
        else:  # Redshift's default text format: pipe-delimited, no quoting
            args += ["quote = ''", "escape = ''"]
        if fmt := redshift_time_format(opts.get("TIMEFORMAT")):
            args.append(f"timestampformat = {_duck_literal(fmt)}")
        if fmt := redshift_time_format(opts.get("DATEFORMAT")):
            args.append(f"dateformat = {_duck_literal(fmt)}")
        if opts.get("GZIP"):
            args.append("compression = 'gzip'")
        self.con.execute(
            f"INSERT INTO {stage} SELECT * FROM read_csv($path, {', '.join(args)})",
            {"path": str(path)})
        rejects = self.con.execute(
            f"SELECT $path AS file_name, line AS line_number, column_name, "
            f"error_type || ': ' || error_message AS reason, csv_line AS raw_line "
            f"FROM {rejects_table} ORDER BY line", {"path": str(path)}).df()
        self.con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
        self.con.execute(f"DROP TABLE IF EXISTS {rejects_scan}")
        return rejects

    def _read_parquet_into(self, stage: str, path: Path, columns: list[str],
                           types: dict[str, str], required: list[str]) -> pd.DataFrame:
        """Stage a Parquet file's valid rows; return the others with their reasons.

        A row is rejected when a value does not convert to the table's column type or a NOT NULL
        column is null. Parquet has no lines, so line_number is the row's 1-based position in
        the file and raw_line is its values joined with commas.
        """
        source = "read_parquet($path, file_row_number = true)"
        failures = []  # (column, condition, reason SQL), in column order: the first one is reported
        for c in columns:
            ident, kind = quote_ident(c), types[c]
            if c in required:
                failures.append((c, f"{ident} IS NULL", _duck_literal(f"NULL in NOT NULL column {c}")))
            failures.append((c, f"({ident} IS NOT NULL AND TRY_CAST({ident} AS {kind}) IS NULL)",
                             f"'CAST ERROR: ' || CAST({ident} AS VARCHAR) || "
                             f"{_duck_literal(f' is not a valid {kind} for column {c}')}"))
        bad = " OR ".join(f"{condition}" for _, condition, _ in failures) or "false"
        casts = ", ".join(f"TRY_CAST({quote_ident(c)} AS {types[c]})" for c in columns)
        self.con.execute(f"INSERT INTO {stage} SELECT {casts} FROM {source} WHERE NOT ({bad})",
                         {"path": str(path)})
        first_column = " ".join(f"WHEN {cond} THEN {_duck_literal(c)}" for c, cond, _ in failures)
        first_reason = " ".join(f"WHEN {cond} THEN {reason}" for _, cond, reason in failures)
        raw = " || ',' || ".join(f"coalesce(CAST({quote_ident(c)} AS VARCHAR), '')" for c in columns)
        return self.con.execute(
            f"SELECT $path AS file_name, file_row_number + 1 AS line_number, "
            f"CASE {first_column} END AS column_name, CASE {first_reason} END AS reason, "
            f"{raw} AS raw_line FROM {source} WHERE {bad} ORDER BY file_row_number",
            {"path": str(path)}).df()

    def _reject_nulls(self, stage: str, files: list[Path], columns: list[str],
                      required: list[str], header: int, rejected: pd.DataFrame,
                      delimiter: str = ",") -> pd.DataFrame:
        """Emulate COPY's rejection of NULLs in NOT NULL columns (read_csv loads them)."""
        if not required:
            return rejected
        condition = " OR ".join(f"{quote_ident(c)} IS NULL" for c in required)
        if not self.con.execute(f"SELECT COUNT(*) FROM {stage} WHERE {condition}").fetchone()[0]:
            return rejected
        found = []
        for path in files:
            already = set()
            if not rejected.empty:
                mine = rejected[rejected["file_name"] == str(path)]
                already = set(mine["line_number"].astype(int))
            found += null_violations(path, columns, required, header, already, delimiter)
        self.con.execute(f"DELETE FROM {stage} WHERE {condition}")
        return pd.concat([rejected, pd.DataFrame(found, columns=REJECT_COLUMNS)],
                         ignore_index=True)

    def _apply(self, stage: str, table: str, columns: list[str], mode: str,
               key: tuple[str, ...]) -> int:
        """Move the staged rows into the table; returns the number of rows inserted."""
        target, cols = quote_table(table), self._cols(columns)
        if mode == "replace":
            self.con.execute(f"DELETE FROM {target}")
        elif mode == "merge":
            match = " AND ".join(f"{target}.{quote_ident(k)} = s.{quote_ident(k)}" for k in key)
            self.con.execute(f"DELETE FROM {target} USING {stage} s WHERE {match}")
        return self.con.execute(
            f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}").fetchone()[0]

    def _not_yet_loaded(self, table: str, files: list[Path], digests: dict[str, str]
                        ) -> list[Path]:
        done = set(self.con.execute(
            "SELECT file_sha256 FROM load_audit WHERE table_name = $t AND status = 'loaded'",
            {"t": table}).df()["file_sha256"])
        return [p for p in files if digests[str(p)] not in done]

    def _record(self, report: LoadReport, started: datetime, digests: dict[str, str],
                loaded_files: list[Path]) -> None:
        loaded_names = {str(p) for p in loaded_files}
        for name in report.files:
            mine = report.rejects[report.rejects["file_name"] == name] \
                if len(report.rejects) else report.rejects
            read = report.file_counts.get(name, (0, 0))[0]
            status = report.status
            if name not in loaded_names and status == "loaded" or status == "skipped":
                status, read = "skipped", 0
            loaded = read - len(mine) if status == "loaded" else 0
            self.con.execute(
                "INSERT INTO load_audit VALUES ($id, $t, $f, $sha, $bytes, $mode, $read, $loaded,"
                " $rejected, $status, $msg, $started, $seconds)",
                {"id": report.load_id, "t": report.table, "f": name, "sha": digests.get(name),
                 "bytes": Path(name).stat().st_size if Path(name).is_file() else None,
                 "mode": report.mode,
                 "read": read, "loaded": loaded, "rejected": len(mine), "status": status, "msg": report.message or None,
                 "started": started, "seconds": report.seconds})
        if len(report.rejects):
            frame = report.rejects.assign(load_id=report.load_id, table_name=report.table)
            self.con.register("_new_rejects", frame)
            self.con.execute(
                "INSERT INTO load_rejects SELECT load_id, table_name, file_name, line_number, "
                "column_name, reason, raw_line FROM _new_rejects")
            self.con.unregister("_new_rejects")

    # -- UNLOAD --------------------------------------------------------------------------------
    def unload(self, command: UnloadCommand) -> list[str]:
        destination = command.destination
        if destination.startswith("s3://"):
            raise LoadError("UNLOAD to S3 needs backend='aws'; on the local backend unload to a "
                            "folder (the run folder's exports/)")
        ext = command.options.get("EXTENSION")
        suffix = "000" if not command.parallel else "0000_part_00"
        target = Path(destination + suffix + (f".{ext}" if ext else ""))
        if target.exists() and not command.options.get("ALLOWOVERWRITE"):
            raise LoadError(f"UNLOAD: {target} exists; add ALLOWOVERWRITE to replace it")
        target.parent.mkdir(parents=True, exist_ok=True)
        statements, _ = _translate(command.query)
        delimiter = str(command.options.get("DELIMITER", ","))
        options = [f"HEADER {'true' if command.header else 'false'}",
                   f"DELIMITER {_duck_literal(delimiter)}"]
        if command.options.get("CSV") or "FORMAT" not in command.options:
            options.insert(0, "FORMAT csv")
        if "NULL" in command.options:
            options.append(f"NULLSTR {_duck_literal(str(command.options['NULL']))}")
        self.con.execute(f"COPY ({statements[-1]}) TO {_duck_literal(str(target))} "
                         f"({', '.join(options)})")
        return [str(target)]
