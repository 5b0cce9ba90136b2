"""The Warehouse interface both backends implement.

Notebooks talk to this interface only. SQL handed to it is Redshift dialect with `:name`
placeholders; each backend runs it its own way (DuckDB transpiles, Redshift runs it as is).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from rfmkit.paths import SQL_DIR
from rfmkit.warehouse.dialect import (
    CopyCommand,
    UnloadCommand,
    parse_copy,
    parse_unload,
    split_statements,
    statement_kind,
)
from rfmkit.warehouse.loading import (
    LoadError,
    LoadReport,
    MaxErrorsExceeded,
    account,
    check_header,
    check_mode,
    check_parquet_columns,
    count_files,
    failed_attempt,
    file_sha256,
    is_parquet,
    local_files,
    max_errors_message,
    new_load_id,
    prefix_note,
    refuse_empty_replace,
)

Params = Mapping[str, Any] | None


@dataclass
class LoadPlan:
    """What a checked COPY will read: the target's columns and every source file, as a local copy
    (a remote prefix is downloaded once, so counting, rejects' raw text and fingerprints come from
    the same bytes the warehouse loads) with the name it is reported under (the S3 URI for a
    remote object, the path for a local file)."""

    command: CopyCommand
    columns: list[str]
    types: dict[str, str]
    required: list[str]
    parquet: bool
    files: list[Path]
    names: list[str]
    remote: bool = False
    digests: dict[str, str] = field(default_factory=dict)  # name -> SHA-256 (append mode only)
    sizes: dict[str, int] = field(default_factory=dict)    # name -> bytes
    rows_before: int | None = None  # the target's rows before a load that empties it in place

    def keep(self, names: set[str]) -> None:
        """Load only these files (append mode drops the ones already loaded)."""
        pairs = [(p, n) for p, n in zip(self.files, self.names, strict=True) if n in names]
        self.files, self.names = [p for p, _ in pairs], [n for _, n in pairs]


class Warehouse(ABC):
    """A SQL warehouse that speaks Redshift SQL, loads CSV with COPY semantics and unloads."""

    name: str = "warehouse"

    # -- SQL ---------------------------------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: Params = None) -> None:
        """Run one Redshift-dialect statement that returns no rows."""

    @abstractmethod
    def query(self, sql: str, params: Params = None) -> pd.DataFrame:
        """Run one Redshift-dialect query and return its rows."""

    def run_script(self, sql: str, params: Params = None) -> list[Any]:
        """Run every statement of a script in order; COPY and UNLOAD are handled as loads.

        Returns one entry per statement: a LoadReport for COPY, the written files for UNLOAD,
        None otherwise.
        """
        results: list[Any] = []
        for statement in split_statements(sql):
            kind = statement_kind(statement)
            if kind == "copy":
                results.append(self.copy(parse_copy(statement)))
            elif kind == "unload":
                results.append(self.unload(parse_unload(statement)))
            else:
                self.execute(statement, params)
                results.append(None)
        return results

    def run_file(self, name: str | Path, params: Params = None) -> list[Any]:
        """Run a file from sql/ (by name, e.g. '010_raw_tables.sql') or any path."""
        path = Path(name)
        if not path.is_absolute() and not path.exists():
            path = SQL_DIR / path
        if not path.exists():
            available = ", ".join(sorted(p.name for p in SQL_DIR.glob("*.sql")))
            raise FileNotFoundError(f"SQL file {name} not found; sql/ has: {available}")
        return self.run_script(path.read_text(encoding="utf-8"), params)

    def native_sql(self, sql: str) -> str:
        """The SQL this warehouse actually runs for a Redshift-dialect statement."""
        return sql

    # -- loading and unloading -----------------------------------------------------------------
    _audit_ready = False

    def _ensure_audit_tables(self) -> None:
        """Create load_audit / load_rejects once per connection (both backends run the same file)."""
        if not self._audit_ready:
            self.run_file(SQL_DIR / "000_load_audit.sql")
            self._audit_ready = True

    # A COPY runs the same steps on every backend: check → stage → count → verify → apply →
    # record. The backend hooks below do what differs (how rows are staged, moved and written).
    parquet_max_errors = True  # may a Parquet load tolerate bad rows (Redshift: no)?

    def copy(self, command: CopyCommand, *, mode: str = "replace", key: Iterable[str] = (),
             allow_empty: bool = False) -> LoadReport:
        """Load files into a table with Redshift COPY semantics (see loading.py).

        mode: 'replace', 'merge' (upsert on `key`) or 'append' (files whose content was already
        appended to the table are skipped: only append loads record a SHA-256). allow_empty: let
        a 'replace' with no rows to load empty a table that has rows (refused by default: that is
        almost always a wrong or truncated file). Every attempt is recorded in load_audit, failed ones included."""
        key = tuple(key)
        check_mode(mode, key)
        started, t0 = datetime.now(UTC).replace(tzinfo=None), time.perf_counter()
        self._ensure_audit_tables()
        try:  # check: failures before any row is read are load attempts too
            plan = self._plan(command)
        except LoadError as exc:
            exc.report = failed_attempt(command, mode, exc, time.perf_counter() - t0)
            self._record(exc.report, started, None)
            raise
        report = LoadReport(load_id=new_load_id(), table=command.table, files=list(plan.names),
                            mode=mode, message=prefix_note(command.source, plan.files)
                            if not plan.remote else "")
        plan.sizes = {n: p.stat().st_size for p, n in zip(plan.files, plan.names, strict=True)}
        if mode == "append":  # only append compares content; other modes skip a pass over the files
            plan.digests = {n: file_sha256(p) for p, n in zip(plan.files, plan.names, strict=True)}
            done = self._loaded_digests(command.table)
            plan.keep({n for n in plan.names if plan.digests[n] not in done})
            if not plan.files:
                report.status, report.message = "skipped", "already loaded (same file content)"
                report.seconds = time.perf_counter() - t0
                self._record(report, started, plan)
                return report
        stage, in_transaction = None, False
        # count: from the files, independently of the engine, while the engine reads them
        counting = ThreadPoolExecutor(1, thread_name_prefix="rfmkit-count")
        counts = counting.submit(count_files, plan.files, command.ignore_header, plan.parquet)
        try:
            # sets rows_loaded and rejects; in place = in the target, inside an open transaction
            in_transaction = self._load_in_place(plan, report, mode, counts)
            if not in_transaction:
                stage = self._stage(plan, report)
            report.rows_rejected = len(report.rejects)
            account(report, plan.files, command.ignore_header, command.delimiter,
                    parquet=plan.parquet, counts=counts.result())
            _report_under_names(report, plan)
            self._verify(report, command, mode, allow_empty, plan.rows_before)
            if not in_transaction:
                self._begin()
                in_transaction = True
                inserted = self._apply(stage, plan, mode, key)
                if inserted is not None and inserted != report.rows_loaded:
                    raise LoadError(f"{command.table}: {report.rows_loaded} rows staged but "
                                    f"{inserted} inserted; the load was rolled back", report)
            report.status = "loaded"
            report.seconds = time.perf_counter() - t0
            self._record(report, started, plan)
            self._commit()
        except Exception as exc:
            if in_transaction:
                self._rollback()
            _report_under_names(report, plan)
            report.status = "failed"
            report.message = "; ".join(filter(None, [str(exc).splitlines()[0][:1000], report.message]))
            report.seconds = time.perf_counter() - t0
            self._record(report, started, plan)  # outside the rolled-back transaction
            if isinstance(exc, LoadError):
                exc.report = report
                raise
            raise LoadError(f"load of {command.table} failed: {exc}", report) from exc
        finally:
            counting.shutdown(wait=True)
            if stage is not None:
                self._drop_stage(stage)
        return report

    def _plan(self, command: CopyCommand) -> LoadPlan:
        """Check the target table and the source files (header, Parquet columns) before reading."""
        catalog = self.table_columns(command.table)
        if catalog.empty:
            raise LoadError(f"table {command.table} does not exist: create it first "
                            f"(for Olist: warehouse.run_file('010_raw_tables.sql'))")
        columns = command.columns or list(catalog["name"])
        unknown = sorted(set(columns) - set(catalog["name"]))
        if unknown:
            raise LoadError(f"COPY {command.table}: no column(s) {unknown} in the table")
        types = dict(zip(catalog["name"], catalog.get("data_type", catalog["name"]), strict=True))
        nullable = catalog["nullable"] if "nullable" in catalog else [True] * len(catalog)
        required = [c for c, ok in zip(catalog["name"], nullable, strict=True)
                    if not _truthy(ok) and c in columns]
        parquet = is_parquet(command.options)
        if parquet and command.max_errors and not self.parquet_max_errors:
            raise ValueError(f"max_errors={command.max_errors}: {self.name.capitalize()}'s COPY from Parquet has "
                             "no MAXERROR (any bad row fails the load); use max_errors=0, or load CSV")
        remote = "://" in command.source
        if remote:
            fetched = self._fetch(command.source)
            names, files = list(fetched), list(fetched.values())
        else:
            files = local_files(command.source, "*.parquet" if parquet else "*.csv")
            names = [str(p) for p in files]
        for path in files:
            if parquet:
                check_parquet_columns(path, columns)
            else:
                check_header(path, columns, command.ignore_header, command.delimiter)
        return LoadPlan(command, columns, types, required, parquet, files, names, remote)

    def _fetch(self, source: str) -> dict[str, Path]:
        """A remote prefix's objects downloaded once: URI → local copy."""
        from rfmkit.storage import storage_for

        return storage_for(source).fetch_prefix(source)

    def _verify(self, report: LoadReport, command: CopyCommand, mode: str, allow_empty: bool,
                rows_before: int | None = None) -> None:
        if not report.balanced:
            raise LoadError(f"row accounting does not balance for {command.table}: read "
                            f"{report.rows_read}, loaded {report.rows_loaded}, rejected "
                            f"{report.rows_rejected}; nothing was loaded", report)
        if report.rows_rejected > command.max_errors:
            raise MaxErrorsExceeded(max_errors_message(report, command.max_errors), report)
        if mode == "replace" and report.rows_loaded == 0 and not allow_empty:
            refuse_empty_replace(report, self.row_count(command.table) if rows_before is None
                                 else rows_before)

    def _loaded_digests(self, table: str) -> set[str]:
        found = self.query("SELECT file_sha256 FROM load_audit WHERE table_name = :t "
                           "AND status = 'loaded' AND file_sha256 IS NOT NULL", {"t": table})
        return set(found["file_sha256"]) if not found.empty else set()

    def _record(self, report: LoadReport, started: datetime, plan: LoadPlan | None) -> None:
        """One load_audit row per file (rows read, loaded, rejected) and every rejected row."""
        loaded = set(plan.names) if plan else set()
        for name in report.files:
            mine = report.rejects[report.rejects["file_name"] == name] \
                if len(report.rejects) else report.rejects
            read = report.file_counts.get(name, (0, 0))[0]
            status = report.status
            if (status == "loaded" and name not in loaded) or status == "skipped":
                status, read = "skipped", 0
            self._insert_row("load_audit", {
                "load_id": report.load_id, "table_name": report.table, "file_name": name[:1024],
                "file_sha256": plan.digests.get(name) if plan else None,
                "file_bytes": plan.sizes.get(name) if plan else None, "mode": report.mode,
                "rows_read": read, "rows_loaded": read - len(mine) if status == "loaded" else 0,
                "rows_rejected": len(mine), "status": status,
                "message": (report.message or "")[:4000] or None,
                "started_at": started.strftime("%Y-%m-%d %H:%M:%S.%f"),
                "seconds": round(report.seconds, 3)})
        if len(report.rejects):
            self._insert_rejects(report.rejects.assign(load_id=report.load_id,
                                                       table_name=report.table))

    def _insert_row(self, table: str, row: dict[str, Any]) -> None:
        """INSERT one row with every value bound (NULL written as NULL: nothing from a file is
        ever pasted into SQL)."""
        names = [k for k, v in row.items() if v is not None and v != ""]
        values = ", ".join(f":{k}" if k in names else ("NULL" if row[k] is None else "''")
                           for k in row)
        self.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({values})",
                     {k: row[k] for k in names})

    # -- hooks each backend implements -----------------------------------------------------------
    @abstractmethod
    def _stage(self, plan: LoadPlan, report: LoadReport) -> str:
        """Put the files' valid rows into a new stage table; set report.rows_loaded and
        report.rejects (file_name = the local file). Returns the stage's name."""

    def _load_in_place(self, plan: LoadPlan, report: LoadReport, mode: str,
                       counts: Future[dict[str, tuple[int, int]]]) -> bool:
        """Optionally load straight into the target inside an open transaction (what _stage +
        _apply do in two copies), setting report.rows_loaded and report.rejects, and
        plan.rows_before where the target was emptied. `counts`: the files' record counts, being
        made. Returns False to use _stage and _apply."""
        return False

    @abstractmethod
    def _apply(self, stage: str, plan: LoadPlan, mode: str, key: tuple[str, ...]) -> int | None:
        """Move the staged rows into the target (replace / merge / append); returns the rows
        inserted, or None when the engine does not say."""

    @abstractmethod
    def _drop_stage(self, stage: str) -> None: ...

    @abstractmethod
    def _insert_rejects(self, rejects: pd.DataFrame) -> None:
        """Append rejected rows (REJECT_COLUMNS + load_id, table_name) to load_rejects."""

    def _begin(self) -> None:  # noqa: B027 - a backend whose _apply is one transaction needs none
        """Start the transaction that holds apply and record."""

    def _commit(self) -> None:  # noqa: B027
        ...

    def _rollback(self) -> None:  # noqa: B027
        ...

    def load_csv(
        self,
        table: str,
        source: str | Path,
        *,
        ignore_header: int = 1,
        max_errors: int = 100,
        mode: str = "replace",
        key: Iterable[str] = (),
        time_format: str = "YYYY-MM-DD HH:MI:SS",
        delimiter: str = ",",
        allow_empty: bool = False,
    ) -> LoadReport:
        """Load a CSV file (or folder / S3 prefix of them) into `table`.

        mode: 'replace' (table := the file's rows), 'merge' (upsert on `key`), or 'append'
        (skipped when the same file content was already appended). All three are idempotent.
        max_errors: rows that may be rejected before the whole load fails and rolls back
        (Redshift's MAXERROR; Redshift defaults to 0, we allow a few so a workshop is not stopped
        by one bad row; every rejected row is kept with its reason either way).
        """
        options: dict[str, str | bool] = {
            "CSV": True, "IGNOREHEADER": str(ignore_header), "MAXERROR": str(max_errors),
            "TIMEFORMAT": time_format, "EMPTYASNULL": True,
        }
        if delimiter != ",":
            options["DELIMITER"] = delimiter
        return self.copy(CopyCommand(table=table, source=str(source), options=options),
                         mode=mode, key=key, allow_empty=allow_empty)

    def load_parquet(self, table: str, source: str | Path, *, max_errors: int = 0,
                     mode: str = "replace", key: Iterable[str] = (), allow_empty: bool = False
                     ) -> LoadReport:
        """Load a Parquet file (or folder / S3 prefix of them) into `table`.

        Columns map to the table's by position, as Redshift's COPY ... FORMAT AS PARQUET does, and
        must match in number and name. Rows whose values do not convert to the column types (or
        are null in NOT NULL columns) are rejected with their row number and reason. Redshift
        fails a Parquet COPY on the first bad row (it has no MAXERROR for columnar formats), so
        max_errors defaults to 0 and anything else is local-only.
        """
        options: dict[str, str | bool] = {"FORMAT": "PARQUET"}
        if max_errors:
            options["MAXERROR"] = str(max_errors)
        return self.copy(CopyCommand(table=table, source=str(source), options=options),
                         mode=mode, key=key, allow_empty=allow_empty)

    @abstractmethod
    def unload(self, command: UnloadCommand) -> list[str]:
        """Write a query's result to CSV files; returns the paths or URIs written."""

    def unload_query(self, query: str, destination: str | Path, *, header: bool = True
                     ) -> list[str]:
        """UNLOAD a query to one CSV file set starting with `destination`."""
        options: dict[str, str | bool] = {"CSV": True, "PARALLEL": "OFF", "ALLOWOVERWRITE": True,
                                          "EXTENSION": "csv"}
        if header:
            options["HEADER"] = True
        return self.unload(UnloadCommand(query=query, destination=str(destination),
                                         options=options))

    # -- catalog -------------------------------------------------------------------------------
    @abstractmethod
    def table_columns(self, table: str) -> pd.DataFrame:
        """Columns of a table in order: name, data_type, nullable."""

    def table_exists(self, table: str) -> bool:
        return not self.table_columns(table).empty

    def row_count(self, table: str) -> int:
        from rfmkit.warehouse.dialect import quote_table

        return int(self.query(f"SELECT COUNT(*) AS n FROM {quote_table(table)}")["n"].iloc[0])

    def load_history(self, table: str | None = None) -> pd.DataFrame:
        """Every load recorded in load_audit, newest first."""
        where = "WHERE table_name = :table " if table else ""
        return self.query(f"SELECT * FROM load_audit {where}ORDER BY started_at DESC",
                          {"table": table} if table else None)

    def rejects(self, load_id: str | None = None, table: str | None = None) -> pd.DataFrame:
        """Rejected rows with file, line, column, reason and raw text."""
        clauses, params = [], {}
        if load_id:
            clauses.append("load_id = :load_id")
            params["load_id"] = load_id
        if table:
            clauses.append("table_name = :table")
            params["table"] = table
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        return self.query(f"SELECT * FROM load_rejects {where}ORDER BY file_name, line_number",
                          params or None)

    def close(self) -> None:  # noqa: B027 - optional for backends without a connection
        """Release the connection."""

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "t", "1", "yes")


def _report_under_names(report: LoadReport, plan: LoadPlan) -> None:
    """Counts and rejects under the files' names (S3 URIs for remote objects) instead of their
    local copies. report.files keeps every file of the source: those append mode skipped are
    recorded as skipped."""
    rename = {str(p): n for p, n in zip(plan.files, plan.names, strict=True)}
    report.file_counts = {rename.get(k, k): v for k, v in report.file_counts.items()}
    if len(report.rejects):
        report.rejects = report.rejects.assign(
            file_name=report.rejects["file_name"].map(lambda f: rename.get(str(f), f)))
