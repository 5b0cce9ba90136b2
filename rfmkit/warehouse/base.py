"""The Warehouse interface both backends implement.

Notebooks talk to this interface only. SQL handed to it is Redshift dialect with `:name`
placeholders; each backend runs it its own way (DuckDB transpiles, Redshift runs it as is).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
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
from rfmkit.warehouse.loading import LoadReport

Params = Mapping[str, Any] | None


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

    @abstractmethod
    def copy(self, command: CopyCommand, *, mode: str = "replace", key: Iterable[str] = (),
             allow_empty: bool = False) -> LoadReport:
        """Load files into a table with Redshift COPY semantics (see loading.py).

        allow_empty: let a 'replace' with no rows to load empty a table that has rows (refused by
        default: that is almost always a wrong or truncated file)."""

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
        (skipped when the same file content was already loaded). All three are idempotent.
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
