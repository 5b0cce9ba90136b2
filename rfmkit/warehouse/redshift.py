"""Amazon Redshift behind the Warehouse interface.

Two transports run the same SQL:
- `ConnectorTransport`: redshift_connector to a host (user/password from the environment, or IAM).
- `DataApiTransport`: the Redshift Data API (boto3 `redshift-data`) for Serverless workgroups or
  provisioned clusters with Secrets Manager or IAM credentials; statements are polled to a
  terminal state with a timeout, and a failed statement's own error is raised.

Loads follow Warehouse.copy (check, stage, count, verify, apply, record). The stage is a table
filled by COPY (MAXERROR), the apply step one transaction (replace / merge / append), so an
exceeded MAXERROR or a count that does not balance leaves the target unchanged. Rejected rows come
from SYS_LOAD_ERROR_DETAIL (file, line, column, reason) with the raw line read back from the local
copy of the file; an S3 source is downloaded once for that and for the independent count.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from rfmkit.warehouse.base import LoadPlan, Params, Warehouse
from rfmkit.warehouse.dialect import (
    CopyCommand,
    UnloadCommand,
    parameter_names,
    quote_ident,
    quote_table,
)
from rfmkit.warehouse.loading import (
    REJECT_COLUMNS,
    LoadError,
    LoadReport,
    MaxErrorsExceeded,
    collapse_rejects,
    max_errors_message,
    new_load_id,
    raw_lines,
)


class RedshiftStatementError(RuntimeError):
    """A statement failed on Redshift; carries the statement id and Redshift's error text."""

    def __init__(self, message: str, statement_id: str | None = None, sql: str | None = None):
        super().__init__(message)
        self.statement_id, self.sql = statement_id, sql


# ---------------------------------------------------------------- transports

class DataApiTransport:
    """Runs SQL through the Redshift Data API, waiting for each statement to finish."""

    TERMINAL = ("FINISHED", "FAILED", "ABORTED")

    def __init__(self, *, database: str, workgroup: str | None = None,
                 cluster_id: str | None = None, secret_arn: str | None = None,
                 db_user: str | None = None, client=None, region: str | None = None,
                 timeout: float = 900.0, poll_interval: float = 0.25, max_interval: float = 5.0):
        if bool(workgroup) == bool(cluster_id):
            raise ValueError("Data API: set exactly one of workgroup (Serverless) or cluster_id")
        if cluster_id and not (secret_arn or db_user):
            raise ValueError("Data API on a cluster needs secret_arn or db_user")
        if client is None:
            import boto3

            client = boto3.client("redshift-data", region_name=region)
        self.client = client
        self.target: dict[str, str] = {"Database": database}
        if workgroup:
            self.target["WorkgroupName"] = workgroup
        else:
            self.target["ClusterIdentifier"] = cluster_id  # type: ignore[assignment]
        if secret_arn:
            self.target["SecretArn"] = secret_arn
        elif db_user:
            self.target["DbUser"] = db_user
        self.timeout, self.poll_interval, self.max_interval = timeout, poll_interval, max_interval

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame | None:
        request = {**self.target, "Sql": sql}
        if params:
            # The Data API takes every value as a string and casts it server-side; it has no NULL.
            missing = [k for k, v in params.items() if v is None]
            if missing:
                raise ValueError(f"Data API parameters cannot be NULL: {missing}")
            request["Parameters"] = [{"name": k, "value": str(v)} for k, v in params.items()]
        statement_id = self.client.execute_statement(**request)["Id"]
        described = self.wait(statement_id, sql)
        return self.fetch(statement_id) if described.get("HasResultSet") else None

    MAX_BATCH = 40  # BatchExecuteStatement's limit (botocore's Stubber does not check it)

    def run_batch(self, statements: Sequence[str]) -> list[pd.DataFrame | int | None]:
        """Run statements as one transaction; returns each sub-statement's rows, or the number
        of rows it changed (None when Redshift does not say)."""
        if not 1 <= len(statements) <= self.MAX_BATCH:
            raise ValueError(f"a Data API batch holds 1 to {self.MAX_BATCH} statements, "
                             f"not {len(statements)}")
        statement_id = self.client.batch_execute_statement(
            **self.target, Sqls=list(statements))["Id"]
        described = self.wait(statement_id, "; ".join(statements))
        return [self.fetch(sub["Id"]) if sub.get("HasResultSet") else sub.get("ResultRows")
                for sub in described.get("SubStatements", [])]

    def wait(self, statement_id: str, sql: str) -> dict:
        """Poll until the statement finishes; raise with Redshift's error, or cancel on timeout."""
        deadline, interval = time.monotonic() + self.timeout, self.poll_interval
        while True:
            described = self.client.describe_statement(Id=statement_id)
            status = described["Status"]
            if status == "FINISHED":
                return described
            if status in ("FAILED", "ABORTED"):
                error = described.get("Error") or status
                for sub in described.get("SubStatements", []):
                    if sub.get("Status") == "FAILED":
                        error = f"{sub.get('Error', error)} (in: {sub.get('QueryString', '')[:200]})"
                raise RedshiftStatementError(f"Redshift statement {statement_id} {status}: {error}",
                                             statement_id, sql)
            if time.monotonic() > deadline:
                self.client.cancel_statement(Id=statement_id)
                raise TimeoutError(f"Redshift statement {statement_id} still {status} after "
                                   f"{self.timeout:.0f} s; cancelled. SQL: {sql[:200]}")
            time.sleep(interval)
            interval = min(interval * 2, self.max_interval)

    def fetch(self, statement_id: str) -> pd.DataFrame:
        columns: list[str] = []
        records: list[list[Any]] = []
        token = None
        while True:
            page = self.client.get_statement_result(
                Id=statement_id, **({"NextToken": token} if token else {}))
            if not columns:
                columns = [c["name"] for c in page["ColumnMetadata"]]
            records += [[_field_value(f) for f in row] for row in page["Records"]]
            token = page.get("NextToken")
            if not token:
                return pd.DataFrame(records, columns=columns)

    def close(self) -> None:
        pass


def _field_value(field: Mapping[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    for kind in ("stringValue", "longValue", "doubleValue", "booleanValue", "blobValue"):
        if kind in field:
            return field[kind]
    return None


class ConnectorTransport:
    """Runs SQL over a redshift_connector connection (named `:param` binding)."""

    def __init__(self, connection):
        self.connection = connection

    @classmethod
    def connect(cls, *, host: str, database: str, user: str, port: int = 5439,
                password: str | None = None, **kwargs: Any) -> ConnectorTransport:
        import redshift_connector

        password = password or os.environ.get("REDSHIFT_PASSWORD")
        if not password and not kwargs.get("iam"):
            raise ValueError("redshift_connector needs $REDSHIFT_PASSWORD (never put passwords "
                             "in notebooks) or iam=True with cluster_identifier/db_user")
        return cls(redshift_connector.connect(host=host, database=database, user=user,
                                              port=port, password=password, **kwargs))

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame | None:
        cursor = self.connection.cursor()
        cursor.paramstyle = "named"
        try:
            cursor.execute(sql, dict(params) if params else None)
            result = None
            if cursor.description:
                columns = [d[0] for d in cursor.description]
                result = pd.DataFrame(cursor.fetchall(), columns=columns)
            self.connection.commit()
            return result
        except Exception:
            self.connection.rollback()
            raise
        finally:
            cursor.close()

    def run_batch(self, statements: Sequence[str]) -> list[pd.DataFrame | int | None]:
        cursor = self.connection.cursor()
        results: list[pd.DataFrame | int | None] = []
        try:
            for statement in statements:
                cursor.execute(statement)
                results.append(pd.DataFrame(cursor.fetchall(),
                                            columns=[d[0] for d in cursor.description])
                               if cursor.description else
                               (cursor.rowcount if cursor.rowcount >= 0 else None))
            self.connection.commit()
            return results
        except Exception as exc:
            self.connection.rollback()
            raise RedshiftStatementError(str(exc)) from exc
        finally:
            cursor.close()

    def close(self) -> None:
        self.connection.close()


# ---------------------------------------------------------------- the warehouse

class RedshiftWarehouse(Warehouse):
    name = "redshift"

    def __init__(self, transport, *, storage=None, copy_role_arn: str | None = None,
                 region: str | None = None, staging_prefix: str = "loads"):
        self.transport, self.storage = transport, storage
        self.copy_role_arn, self.region = copy_role_arn, region
        self.staging_prefix = staging_prefix

    def execute(self, sql: str, params: Params = None) -> None:
        self.transport.run(sql, self._bound(sql, params))

    def query(self, sql: str, params: Params = None) -> pd.DataFrame:
        result = self.transport.run(sql, self._bound(sql, params))
        return result if result is not None else pd.DataFrame()

    @staticmethod
    def _bound(sql: str, params: Params) -> dict[str, Any] | None:
        if not params:
            return None
        names = parameter_names(sql)
        return {k: v for k, v in params.items() if k in names} or None

    def table_columns(self, table: str) -> pd.DataFrame:
        schema, _, name = table.rpartition(".")
        frame = self.query(
            "SELECT column_name AS name, data_type, is_nullable = 'YES' AS nullable "
            "FROM information_schema.columns WHERE table_name = :name "
            "AND table_schema = " + (":schema" if schema else "current_schema()") +
            " ORDER BY ordinal_position", {"name": name, **({"schema": schema} if schema else {})})
        return frame if not frame.empty else pd.DataFrame(columns=["name", "data_type", "nullable"])

    def close(self) -> None:
        self.transport.close()

    # -- COPY ----------------------------------------------------------------------------------
    def copy_sql(self, command: CopyCommand, target: str) -> str:
        """The COPY statement Redshift runs (into the staging table), with credentials."""
        options = dict(command.options)
        if self.copy_role_arn and "IAM_ROLE" not in options and "CREDENTIALS" not in options:
            options["IAM_ROLE"] = self.copy_role_arn
        if self.region and "REGION" not in options:
            options["REGION"] = self.region
        return CopyCommand(table=target, source=command.source, columns=command.columns,
                           options=options).to_redshift()

    # -- COPY hooks (the algorithm is Warehouse.copy) ---------------------------------------------
    parquet_max_errors = False  # Redshift fails a Parquet COPY on its first bad row

    def _fetch(self, source: str) -> dict[str, Path]:
        """An S3 source is downloaded once through the run's S3 client, so that read = loaded +
        rejected is counted from the objects themselves (not from Redshift's own counts) and
        rejected rows keep their raw text."""
        from rfmkit.storage import S3Storage

        client = self.storage.client if self.storage is not None else None
        return S3Storage.for_uri(source, client=client, region=self.region).fetch_prefix(source)

    def _stage(self, plan: LoadPlan, report: LoadReport) -> str:
        """COPY into a new stage table (a real table: Data API calls do not share a session, so a
        temp table would be gone by the apply step); MAXERROR is Redshift's own."""
        command = plan.command
        source = command.source if plan.remote else self._stage_files(plan.files)
        staged = CopyCommand(table=command.table, source=source, columns=command.columns,
                             options=command.options)
        stage = f"stage_{report.load_id.replace('-', '_')}"
        started = datetime.now(UTC).replace(tzinfo=None)
        try:
            results = self.transport.run_batch(self.stage_statements(staged, stage))
        except RedshiftStatementError as exc:  # the batch rolled back: no stage table is left
            report.rejects = self._rejects(plan, source, since=started)
            report.rows_rejected = len(report.rejects)
            if report.rows_rejected > command.max_errors:
                raise MaxErrorsExceeded(max_errors_message(report, command.max_errors),
                                        report) from exc
            raise LoadError(f"load of {command.table} failed: {exc}", report) from exc
        info = results[-1]
        report.rows_loaded = int(info["rows_loaded"].iloc[0])
        report.rejects = self._rejects(plan, source, query_id=int(info["query_id"].iloc[0]))
        return stage

    def stage_statements(self, command: CopyCommand, stage: str) -> list[str]:
        """Create the stage like the target, COPY into it, and read COPY's own numbers."""
        return [f"CREATE TABLE {quote_ident(stage)} (LIKE {quote_table(command.table)})",
                self.copy_sql(command, stage),
                "SELECT pg_last_copy_id() AS query_id, pg_last_copy_count() AS rows_loaded"]

    def apply_statements(self, stage: str, table: str, columns: list[str], mode: str,
                         key: tuple[str, ...]) -> list[str]:
        """One transaction: replace / merge / append from the stage into the target."""
        target, cols = quote_table(table), ", ".join(quote_ident(c) for c in columns)
        statements = []
        if mode == "replace":
            statements.append(f"DELETE FROM {target}")
        elif mode == "merge":
            match = " AND ".join(f"{target}.{quote_ident(k)} = s.{quote_ident(k)}" for k in key)
            statements.append(f"DELETE FROM {target} USING {quote_ident(stage)} s WHERE {match}")
        statements.append(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {quote_ident(stage)}")
        return statements

    def _apply(self, stage: str, plan: LoadPlan, mode: str, key: tuple[str, ...]) -> int | None:
        results = self.transport.run_batch(
            self.apply_statements(stage, plan.command.table, plan.columns, mode, key))
        inserted = results[-1] if results else None
        return inserted if isinstance(inserted, int) else None

    def _drop_stage(self, stage: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {quote_ident(stage)}")

    def _insert_rejects(self, rejects: pd.DataFrame) -> None:
        """Bound multi-row INSERTs in chunks: file content never becomes SQL text, each statement
        stays far below the Data API's 100 KB SQL limit, and no batch is needed (a batch holds at
        most 40 statements)."""
        columns = ["load_id", "table_name", "file_name", "line_number", "column_name", "reason",
                   "raw_line"]
        rows = [dict(zip(columns, values, strict=True))
                for values in rejects[columns].itertuples(index=False, name=None)]
        for chunk in reject_chunks(rows):
            sql, params = multi_row_insert("load_rejects", columns, chunk)
            self.execute(sql, params)

    def _stage_files(self, files: list[Path]) -> str:
        if self.storage is None:
            raise LoadError("loading local files into Redshift needs S3 storage (set the "
                            "bucket in the AWS settings); or pass an s3:// source")
        prefix = f"{self.staging_prefix}/{new_load_id()}"
        for path in files:
            self.storage.upload(path, f"{prefix}/{path.name}")
        return self.storage.uri(prefix + "/")

    def _rejects(self, plan: LoadPlan, source: str, *, query_id: int | None = None,
                 since: datetime | None = None) -> pd.DataFrame:
        """SYS_LOAD_ERROR_DETAIL's rows for this COPY, each under its local file (raw text read
        back from it)."""
        where, params = ("query_id = :query_id", {"query_id": query_id}) if query_id is not None \
            else ("start_time >= :since AND TRIM(file_name) LIKE :prefix",
                  {"since": since.strftime("%Y-%m-%d %H:%M:%S"), "prefix": source + "%"})
        frame = self.query(
            "SELECT TRIM(file_name) AS file_name, line_number, TRIM(column_name) AS column_name, "
            "TRIM(error_message) AS reason FROM sys_load_error_detail WHERE " + where +
            " ORDER BY file_name, line_number", params)
        if frame.empty:
            return pd.DataFrame(columns=REJECT_COLUMNS)
        by_name = {p.name: p for p in plan.files}
        frame["raw_line"] = None
        for name, group in frame.groupby("file_name"):
            path = by_name.get(Path(str(name)).name)
            if path is None:
                continue
            frame.loc[group.index, "file_name"] = str(path)
            if not plan.parquet:  # Parquet has no text lines
                texts = raw_lines(path, set(group["line_number"].astype(int)))
                frame.loc[group.index, "raw_line"] = group["line_number"].astype(int).map(texts)
        return collapse_rejects(frame)

    # -- UNLOAD --------------------------------------------------------------------------------
    def unload(self, command: UnloadCommand) -> list[str]:
        if not command.destination.startswith("s3://"):
            raise LoadError("Redshift UNLOADs to S3: pass an s3:// destination")
        options = dict(command.options)
        if self.copy_role_arn and "IAM_ROLE" not in options:
            options["IAM_ROLE"] = self.copy_role_arn
        options.setdefault("MANIFEST", True)
        self.execute(UnloadCommand(command.query, command.destination, options).to_redshift())
        if self.storage is None:
            return [command.destination]
        return [f"s3://{k}" if k.startswith(self.storage.bucket) else
                f"s3://{self.storage.bucket}/{k}"
                for k in self.storage.list_keys(command.destination)]


def connect_redshift(config, client=None, storage=None) -> RedshiftWarehouse:
    """Redshift for a run: the Data API (Serverless workgroup or provisioned cluster) or a direct
    redshift_connector connection; `storage` is the run's S3 storage (staging local files)."""
    from rfmkit.config import ConfigError

    aws = config.aws
    if aws.host:
        if not aws.user:
            raise ConfigError("AWS setting user is required with host (redshift_connector)")
        transport = ConnectorTransport.connect(host=aws.host, port=aws.port, user=aws.user,
                                               database=aws.database)
    elif aws.workgroup or aws.cluster_id:
        transport = DataApiTransport(database=aws.database, workgroup=aws.workgroup,
                                     cluster_id=aws.cluster_id, secret_arn=aws.secret_arn,
                                     db_user=aws.db_user, region=aws.region, client=client)
    else:
        raise ConfigError("backend='aws' needs a Redshift target: set workgroup (Serverless), "
                          "cluster_id, or host (see notebook 00 and docs/AWS.md)")
    return RedshiftWarehouse(transport, storage=storage, copy_role_arn=aws.copy_role_arn,
                             region=aws.region)


REJECT_CHUNK_ROWS = 50         # rows per INSERT (7 bound values each)
REJECT_CHUNK_BYTES = 32_000    # bound text per INSERT, well under the Data API's request limits


def reject_chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    """Rows in chunks small in count and in bytes (a raw line may be long)."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        row_size = sum(len(str(v)) for v in row.values() if v is not None)
        if chunk and (len(chunk) >= REJECT_CHUNK_ROWS or size + row_size > REJECT_CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += row_size
    if chunk:
        yield chunk


def multi_row_insert(table: str, columns: list[str], rows: list[dict[str, Any]]
                     ) -> tuple[str, dict[str, Any]]:
    """INSERT … VALUES (:v0_0, …), (…) with every value bound; NULL and '' are written as SQL
    (the Data API binds neither a NULL nor an empty string)."""
    params: dict[str, Any] = {}
    tuples = []
    for i, row in enumerate(rows):
        slots = []
        for j, column in enumerate(columns):
            value = row[column]
            if value is None or (isinstance(value, float) and pd.isna(value)):
                slots.append("NULL")
            elif value == "":
                slots.append("''")
            else:
                params[f"v{i}_{j}"] = value.item() if hasattr(value, "item") else value
                slots.append(f":v{i}_{j}")
        tuples.append(f"({', '.join(slots)})")
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(tuples)}", params)
