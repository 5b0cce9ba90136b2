"""The embedded warehouse: a DuckDB file running the kit's Redshift SQL.

COPY is emulated with read_csv into a staging table inside one transaction, so a load either
lands whole or not at all (MAXERROR exceeded rolls back). read_csv's reject tables give each
bad row's line, column, reason and raw text; they accumulate per connection, so every load uses
uniquely named ones and drops them afterwards.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import Future
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

from rfmkit.environment import memory_gb
from rfmkit.warehouse.base import LoadPlan, Params, Warehouse
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
    collapse_rejects,
    null_violations,
)

# DuckDB's cap before it spills: a tenth of the machine's memory, between 1 and 4 GB (2.6 GB on a
# 24 GB machine). DuckDB's own default (80 % of RAM) is greedy on a shared workshop machine, and the
# kit's largest statements (100M payment rows) spill instead of competing with the OS for memory.
MEMORY_SHARE, MEMORY_FLOOR_GB, MEMORY_CEILING_GB = 1 / 10, 1, 4
SKIPPED_COMPRESSION = "fsst,dict_fsst,dictionary"


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
        default_memory_limit()."""
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(self.path)
        # Tables are never read back in insertion order (queries that need order say ORDER BY);
        # dropping the guarantee lets DuckDB build large tables with far less memory.
        self.con.execute("SET preserve_insertion_order = false")
        # The kit's tables are keyed by 32-hex ids: random text that DuckDB's string compressions
        # (FSST, dictionary) analyse at length. Skipping them makes load + RFM scoring about 30 %
        # faster for a warehouse file about 2-3x the size (docs/PERFORMANCE.md); where disk is short
        # (100M payment rows) $RFMKIT_DUCKDB_COMPRESS_TEXT=1 keeps DuckDB's compression.
        if os.environ.get("RFMKIT_DUCKDB_COMPRESS_TEXT", "") not in ("1", "true", "yes"):
            self.con.execute(f"SET disabled_compression_methods = {_duck_literal(SKIPPED_COMPRESSION)}")
        limit = memory_limit or os.environ.get("RFMKIT_DUCKDB_MEMORY") or self.default_memory_limit()
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

    @staticmethod
    def default_memory_limit() -> str:
        """The cap derived from this machine (see MEMORY_SHARE), as DuckDB reads it."""
        gb = memory_gb() * MEMORY_SHARE
        gb = MEMORY_FLOOR_GB if gb != gb else min(max(gb, MEMORY_FLOOR_GB), MEMORY_CEILING_GB)  # NaN
        return f"{gb:.1f}GB"

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
    # -- COPY hooks (the algorithm is Warehouse.copy) ---------------------------------------------
    def _stage(self, plan: LoadPlan, report: LoadReport) -> str:
        """read_csv / read_parquet into a temp stage, rejects from DuckDB's reject tables.

        The files are read *before* the transaction: DuckDB 2.0.0 silently inserts nothing when
        a table filled by read_csv with more than one row group (122,880 rows) is copied in the
        same transaction. Only the target changes need the transaction, so MAXERROR still rolls
        back to the table as it was."""
        command = plan.command
        stage = f"_stage_{report.load_id.replace('-', '_')}"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} AS SELECT {self._cols(plan.columns)} "
                         f"FROM {quote_table(command.table)} LIMIT 0")
        if plan.parquet:
            rejects = [self._read_parquet_into(stage, path, plan.columns, plan.types, plan.required)
                       for path in plan.files]
        else:
            rejects = [self._read_into(stage, path, plan.columns, plan.types, command)[0]
                       for path in plan.files]
        rejected = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame()
        if not plan.parquet:
            rejected = self._reject_nulls(stage, plan, rejected)
        report.rejects = collapse_rejects(rejected)
        report.rows_loaded = self.con.execute(f"SELECT COUNT(*) FROM {stage}").fetchone()[0]
        return stage

    def _load_in_place(self, plan: LoadPlan, report: LoadReport, mode: str,
                       counts: Future[dict[str, tuple[int, int]]]) -> bool:
        """CSV in replace or append mode: read_csv straight into the target inside a transaction
        (one copy of the data instead of a stage and a second INSERT). Rows with a NULL in a NOT
        NULL column are left out by the INSERT; when the files' own count says rows are missing,
        they are found and rejected with their lines (COPY's rule), as _stage does."""
        if plan.parquet or mode not in ("replace", "append"):
            return False
        command, target = plan.command, quote_table(plan.command.table)
        cols = self._cols(plan.columns)
        not_null = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in plan.required) or "true"
        self._begin()
        try:
            if mode == "replace":
                plan.rows_before = self.row_count(command.table)
                self.con.execute(f"DELETE FROM {target}")
            before = self.row_count(command.table)
            rejects, loaded = [], 0
            for path in plan.files:
                found, inserted = self._read_into(f"{target} ({cols})", path, plan.columns,
                                                  plan.types, command, where=not_null)
                rejects.append(found)
                loaded += inserted
            rejected = collapse_rejects(pd.concat(rejects, ignore_index=True))
            read = sum(counts.result()[str(p)][0] for p in plan.files)
            if plan.required and loaded + len(rejected) != read:
                rejected = collapse_rejects(self._null_rejects(plan, rejected))
            in_table = self.row_count(command.table) - before
            if in_table != loaded:  # the engine's own count of what landed, checked once more
                raise LoadError(f"{command.table}: {loaded} rows inserted but {in_table} in the "
                                f"table; the load was rolled back", report)
        except BaseException:
            self._rollback()
            raise
        report.rows_loaded, report.rejects = loaded, rejected
        return True

    def _null_rejects(self, plan: LoadPlan, rejected: pd.DataFrame) -> pd.DataFrame:
        """`rejected` plus every row with an empty NOT NULL column, found by reading the files
        (lines already rejected for another reason are not counted twice)."""
        found = []
        for path in plan.files:
            mine = rejected[rejected["file_name"] == str(path)] if len(rejected) else rejected
            found += null_violations(path, plan.columns, plan.required, plan.command.ignore_header,
                                     set(mine["line_number"].astype(int)), plan.command.delimiter)
        return pd.concat([rejected, pd.DataFrame(found, columns=REJECT_COLUMNS)], ignore_index=True)

    def _drop_stage(self, stage: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {stage}")

    def _begin(self) -> None:
        self.con.execute("BEGIN TRANSACTION")

    def _commit(self) -> None:
        self.con.execute("COMMIT")

    def _rollback(self) -> None:
        self.con.execute("ROLLBACK")

    def _insert_rejects(self, rejects: pd.DataFrame) -> None:
        self.con.register("_new_rejects", rejects)
        self.con.execute("INSERT INTO load_rejects SELECT load_id, table_name, file_name, "
                         "line_number, column_name, reason, raw_line FROM _new_rejects")
        self.con.unregister("_new_rejects")

    @staticmethod
    def _cols(columns: list[str]) -> str:
        return ", ".join(quote_ident(c) for c in columns)

    def _read_into(self, table: str, path: Path, columns: list[str], types: dict[str, str],
                   command: CopyCommand, where: str = "true") -> tuple[pd.DataFrame, int]:
        """INSERT a CSV file's parseable rows (that pass `where`) into `table`: (rejects, rows)."""
        opts = command.options
        suffix = uuid.uuid4().hex[:12]
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
        inserted = self.con.execute(
            f"INSERT INTO {table} SELECT * FROM read_csv($path, {', '.join(args)}) WHERE {where}",
            {"path": str(path)}).fetchone()[0]
        rejects = self.con.execute(
            f"SELECT $path AS file_name, line AS line_number, column_name, "
            f"error_type || ': ' || error_message AS reason, csv_line AS raw_line "
            f"FROM {rejects_table} ORDER BY line", {"path": str(path)}).df()
        self.con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
        self.con.execute(f"DROP TABLE IF EXISTS {rejects_scan}")
        return rejects, inserted

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

    def _reject_nulls(self, stage: str, plan: LoadPlan, rejected: pd.DataFrame) -> pd.DataFrame:
        """Emulate COPY's rejection of NULLs in NOT NULL columns (read_csv loads them)."""
        if not plan.required:
            return rejected
        condition = " OR ".join(f"{quote_ident(c)} IS NULL" for c in plan.required)
        if not self.con.execute(f"SELECT COUNT(*) FROM {stage} WHERE {condition}").fetchone()[0]:
            return rejected
        self.con.execute(f"DELETE FROM {stage} WHERE {condition}")
        return self._null_rejects(plan, rejected)

    def _apply(self, stage: str, plan: LoadPlan, mode: str, key: tuple[str, ...]) -> int:
        """Move the staged rows into the table; returns the number of rows inserted."""
        target, cols = quote_table(plan.command.table), self._cols(plan.columns)
        if mode == "replace":
            self.con.execute(f"DELETE FROM {target}")
        elif mode == "merge":
            match = " AND ".join(f"{target}.{quote_ident(k)} = s.{quote_ident(k)}" for k in key)
            self.con.execute(f"DELETE FROM {target} USING {stage} s WHERE {match}")
        return self.con.execute(
            f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}").fetchone()[0]

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
