"""Redshift paths validated offline: botocore Stubber checks every Data API request against the
service model; moto provides S3 for staging local files."""

import boto3
import pytest
import sqlglot
from botocore.stub import ANY, Stubber
from conftest import write_payments
from moto import mock_aws

from rfmkit import backends
from rfmkit.config import ConfigError, RunConfig
from rfmkit.paths import SQL_DIR
from rfmkit.storage import S3Storage
from rfmkit.warehouse.dialect import parse_copy, split_statements, statement_kind
from rfmkit.warehouse.loading import LoadError, MaxErrorsExceeded
from rfmkit.warehouse.redshift import DataApiTransport, RedshiftStatementError, RedshiftWarehouse

TARGET = {"WorkgroupName": "rfmkit", "Database": "dev"}


def enforce_service_limits(params, **_):
    """Limits of the Data API that botocore's Stubber does not check: a batch holds 1 to 40
    statements and a statement's SQL text is at most 100 KB."""
    statements = params.get("Sqls", [params.get("Sql", "")])
    assert 1 <= len(statements) <= 40, f"BatchExecuteStatement with {len(statements)} statements"
    assert all(len(sql.encode()) <= 100_000 for sql in statements), "SQL text over 100 KB"


@pytest.fixture
def data_api():
    client = boto3.client("redshift-data", region_name="us-east-1")
    client.meta.events.register("provide-client-params.redshift-data.*", enforce_service_limits)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def expect_batch(stub, statement_id, results, status="FINISHED", error=None):
    """One BatchExecuteStatement: per sub-statement a (columns, rows) result, a changed-row count,
    or None."""
    stub.add_response("batch_execute_statement", {"Id": statement_id}, {**TARGET, "Sqls": ANY})
    subs = [{"Id": f"{statement_id}:{k}", "HasResultSet": isinstance(r, tuple),
             **({"ResultRows": r} if isinstance(r, int) else {})} for k, r in enumerate(results, 1)]
    described = {"Id": statement_id, "Status": status, "SubStatements": subs}
    if error:
        described["Error"] = error
    stub.add_response("describe_statement", described, {"Id": statement_id})
    if status != "FINISHED":
        return
    for k, result in enumerate(results, 1):
        if isinstance(result, tuple):
            columns, rows = result
            stub.add_response("get_statement_result", {
                "ColumnMetadata": [{"name": c} for c in columns],
                "Records": [[{"longValue": v} for v in row] for row in rows]}, {"Id": f"{statement_id}:{k}"})


PAYMENT_COLUMNS = ("order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value")


def expect_statement(stub, sql=ANY, params=None, rows=None, columns=(), statement_id="s1"):
    request = {**TARGET, "Sql": sql}
    if params is not None:
        request["Parameters"] = params
    stub.add_response("execute_statement", {"Id": statement_id}, request)
    stub.add_response("describe_statement", {"Id": statement_id, "Status": "FINISHED",
                                             "HasResultSet": rows is not None}, {"Id": statement_id})
    if rows is not None:
        stub.add_response("get_statement_result", {
            "ColumnMetadata": [{"name": c} for c in columns],
            "Records": [[{"stringValue": v} if isinstance(v, str) else {"longValue": v} for v in row] for row in rows],
        }, {"Id": statement_id})


def transport(client, **kw):
    return DataApiTransport(database="dev", workgroup="rfmkit", client=client, poll_interval=0, **kw)


def test_query_binds_named_parameters_and_pages(data_api):
    client, stub = data_api
    stub.add_response("execute_statement", {"Id": "q1"}, {
        **TARGET, "Sql": "SELECT order_id FROM olist_orders WHERE order_status = :status",
        "Parameters": [{"name": "status", "value": "delivered"}]})
    stub.add_response("describe_statement", {"Id": "q1", "Status": "STARTED"}, {"Id": "q1"})
    stub.add_response("describe_statement", {"Id": "q1", "Status": "FINISHED", "HasResultSet": True}, {"Id": "q1"})
    stub.add_response("get_statement_result", {"ColumnMetadata": [{"name": "order_id"}],
                                               "Records": [[{"stringValue": "a"}]], "NextToken": "t"}, {"Id": "q1"})
    stub.add_response("get_statement_result", {"Records": [[{"isNull": True}]]}, {"Id": "q1", "NextToken": "t"})
    wh = RedshiftWarehouse(transport(client))
    frame = wh.query("SELECT order_id FROM olist_orders WHERE order_status = :status",
                     {"status": "delivered", "unused": 1})
    assert frame["order_id"].iloc[0] == "a" and frame["order_id"].isna().tolist() == [False, True]


def test_failed_statement_surfaces_redshift_error(data_api):
    client, stub = data_api
    stub.add_response("execute_statement", {"Id": "bad"}, {**TARGET, "Sql": "SELECT nope"})
    stub.add_response("describe_statement", {"Id": "bad", "Status": "FAILED",
                                             "Error": 'ERROR: column "nope" does not exist'}, {"Id": "bad"})
    with pytest.raises(RedshiftStatementError, match='bad FAILED: ERROR: column "nope" does not exist'):
        RedshiftWarehouse(transport(client)).execute("SELECT nope")


def test_timeout_cancels_the_statement(data_api):
    client, stub = data_api
    stub.add_response("execute_statement", {"Id": "slow"}, {**TARGET, "Sql": "SELECT 1"})
    stub.add_response("describe_statement", {"Id": "slow", "Status": "STARTED"}, {"Id": "slow"})
    stub.add_response("cancel_statement", {"Status": True}, {"Id": "slow"})
    with pytest.raises(TimeoutError, match="still STARTED after 0 s; cancelled"):
        transport(client, timeout=0).run("SELECT 1")


def test_stage_and_apply_statements_are_valid_redshift():
    wh = RedshiftWarehouse(transport=None, copy_role_arn="arn:aws:iam::123456789012:role/copy", region="us-east-1")
    command = parse_copy("COPY olist_orders FROM 's3://b/loads/x/' CSV IGNOREHEADER 1 MAXERROR 3 "
                         "TIMEFORMAT 'YYYY-MM-DD HH:MI:SS' EMPTYASNULL")
    staged = wh.stage_statements(command, "stage_1")
    applied = wh.apply_statements("stage_1", "olist_orders", ["order_id", "customer_id"], "merge", ("order_id",))
    copy = parse_copy(staged[1])
    assert copy.table == "stage_1" and copy.options["IAM_ROLE"].endswith("role/copy")
    assert copy.max_errors == 3 and copy.options["REGION"] == "us-east-1"
    for statement in [*staged, *applied]:
        if statement_kind(statement) == "sql":
            sqlglot.parse_one(statement, read="redshift")
    assert staged[0] == 'CREATE TABLE "stage_1" (LIKE "olist_orders")'  # not TEMP: apply runs in another session
    assert applied[0].startswith('DELETE FROM "olist_orders" USING "stage_1" s WHERE')


def expect_load(stub, *, loaded, rejects, files=1, query_id=77, table_rows=None):
    """The Data API calls of one successful COPY after the catalog lookup: stage batch, rejects,
    (row count for an empty replace), apply batch, one audit row per file, reject chunks, drop."""
    expect_batch(stub, "stage", [None, None, (("query_id", "rows_loaded"), [(query_id, loaded)])])
    expect_statement(stub, params=[{"name": "query_id", "value": str(query_id)}], statement_id="rej",
                     columns=("file_name", "line_number", "column_name", "reason"), rows=rejects)
    expect_batch(stub, "apply", [3, loaded])
    for i in range(files):
        expect_statement(stub, params=ANY, statement_id=f"audit{i}")
    for i in range((len(rejects) + 49) // 50):
        expect_statement(stub, params=ANY, statement_id=f"rejects{i}")
    expect_statement(stub, sql=ANY, statement_id="drop")


def expect_audit_ddl(stub):
    for i, statement in enumerate(split_statements((SQL_DIR / "000_load_audit.sql").read_text())):
        expect_statement(stub, sql=statement, statement_id=f"ddl{i}")
    expect_statement(stub, params=[{"name": "name", "value": "olist_order_payments"}], statement_id="cols",
                     columns=("name", "data_type", "nullable"),
                     rows=[(c, "character varying", "false") for c in PAYMENT_COLUMNS])


@mock_aws
def test_load_local_file_through_s3_and_data_api(data_api, tmp_path):
    client, stub = data_api
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="workshop")
    path = write_payments(tmp_path / "payments.csv", ["a,1,credit_card,1,10.00", "b,1,boleto,1,x"])
    expect_audit_ddl(stub)
    expect_load(stub, loaded=1, rejects=[("s3://workshop/rfmkit/loads/x/payments.csv", 3, "payment_value",
                                          "Invalid digit, Value 'x', Pos 0, Type: Decimal")])
    wh = RedshiftWarehouse(transport(client), storage=S3Storage("workshop", "rfmkit", client=s3),
                           copy_role_arn="arn:aws:iam::123456789012:role/copy")
    report = wh.load_csv("olist_order_payments", path)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (2, 1, 1)
    assert report.rejects.iloc[0]["raw_line"] == "b,1,boleto,1,x"
    assert report.rejects.iloc[0]["file_name"] == str(path)
    staged = s3.list_objects_v2(Bucket="workshop", Prefix="rfmkit/loads/")["Contents"]
    assert [o["Key"].rsplit("/", 1)[1] for o in staged] == ["payments.csv"]


def _requests(client, operation):
    sent = []
    client.meta.events.register(f"provide-client-params.redshift-data.{operation}",
                                lambda params, **_: sent.append(params))
    return sent


def test_many_rejects_are_recorded_in_bound_chunks_never_as_sql_text(data_api, tmp_path):
    """120 rejected rows (the old code sent one INSERT each in one batch: over the 40-statement
    limit, so recording failed and replaced the real error)."""
    client, stub = data_api
    evil = "'); DROP TABLE load_audit; --"
    rows = [f"ok{i},1,boleto,1,1.00" for i in range(10)] + [f"bad{i},1,O'Brien {evil},1,x" for i in range(120)]
    path = write_payments(tmp_path / "p.csv", rows)
    wh = _stubbed_warehouse(client)
    rejects = [("s3://b/loads/1/p.csv", 12 + i, "payment_value", "Invalid digit") for i in range(120)]
    expect_load(stub, loaded=10, rejects=rejects)
    statements = _requests(client, "ExecuteStatement")
    batches = _requests(client, "BatchExecuteStatement")
    report = wh.load_csv("olist_order_payments", path, max_errors=200)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (130, 10, 120)
    inserts = [s for s in statements if s["Sql"].startswith("INSERT INTO load_rejects")]
    assert len(inserts) == 3 and all(len(b["Sqls"]) <= 40 for b in batches)
    assert all(evil not in s["Sql"] and "O'Brien" not in s["Sql"] for s in statements + inserts)
    bound = [p["value"] for s in inserts for p in s["Parameters"]]
    assert sum(v.startswith("bad") and evil in v for v in bound) == 120  # every raw line, bound


def test_a_batch_over_the_data_api_limit_is_refused_before_it_is_sent(data_api):
    client, _ = data_api
    with pytest.raises(ValueError, match="a Data API batch holds 1 to 40 statements, not 41"):
        transport(client).run_batch(["SELECT 1"] * 41)


def test_max_errors_on_redshift_raises_with_rejects(data_api, tmp_path):
    client, stub = data_api
    path = write_payments(tmp_path / "p.csv", ["a,1,credit_card,1,x", "b,1,boleto,1,y"])
    wh = _stubbed_warehouse(client)
    expect_batch(stub, "stage", [None, None, None], status="FAILED",
                 error="Load into table 'stage' failed. Check 'sys_load_error_detail' system table for details.")
    expect_statement(stub, params=ANY, statement_id="rej",
                     columns=("file_name", "line_number", "column_name", "reason"),
                     rows=[("s3://b/loads/1/p.csv", 2, "payment_value", "Invalid digit"),
                           ("s3://b/loads/1/p.csv", 3, "payment_value", "Invalid digit")])
    expect_statement(stub, params=ANY, statement_id="audit")
    expect_statement(stub, params=ANY, statement_id="rejects")
    with pytest.raises(MaxErrorsExceeded, match="2 rows rejected, more than max_errors=1") as caught:
        wh.load_csv("olist_order_payments", path, max_errors=1)
    assert caught.value.report.status == "failed" and caught.value.report.rows_rejected == 2


@mock_aws
def test_an_s3_source_is_counted_from_its_objects_not_from_redshift(data_api, tmp_path):
    """read = loaded + rejected is a real check for S3 sources: the objects are counted."""
    client, stub = data_api
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="inbox")
    body = write_payments(tmp_path / "p.csv", [f"o{i},1,boleto,1,1.00" for i in range(5)]).read_bytes()
    s3.put_object(Bucket="inbox", Key="in/p.csv", Body=body)
    wh = _stubbed_warehouse(client, s3=s3)
    expect_load(stub, loaded=5, rejects=[])
    report = wh.load_csv("olist_order_payments", "s3://inbox/in/")
    assert (report.rows_read, report.rows_loaded, report.files) == (5, 5, ["s3://inbox/in/p.csv"])
    # Redshift reports fewer rows than the object holds: the load does not balance and is refused
    expect_batch(stub, "stage", [None, None, (("query_id", "rows_loaded"), [(78, 4)])])
    expect_statement(stub, params=ANY, statement_id="rej", columns=("file_name", "line_number", "column_name",
                                                                    "reason"), rows=[])
    expect_statement(stub, params=ANY, statement_id="audit")
    expect_statement(stub, sql=ANY, statement_id="drop")
    with pytest.raises(LoadError, match="read 5, loaded 4, rejected 0; nothing was loaded"):
        wh.load_csv("olist_order_payments", "s3://inbox/in/")


@mock_aws
def test_append_on_redshift_skips_content_already_loaded(data_api, tmp_path):
    client, stub = data_api
    path = write_payments(tmp_path / "p.csv", ["a,1,boleto,1,1.00"])
    wh = _stubbed_warehouse(client, s3=boto3.client("s3", region_name="us-east-1"))
    wh.storage.client.create_bucket(Bucket="workshop")
    from rfmkit.warehouse.loading import file_sha256

    expect_statement(stub, params=ANY, statement_id="done", columns=("file_sha256",), rows=[])
    expect_load(stub, loaded=1, rejects=[])
    assert wh.load_csv("olist_order_payments", path, mode="append").status == "loaded"
    expect_statement(stub, params=ANY, statement_id="done", columns=("file_sha256",),
                     rows=[(file_sha256(path),)])
    expect_statement(stub, params=ANY, statement_id="audit")
    again = wh.load_csv("olist_order_payments", path, mode="append")
    assert again.status == "skipped" and again.rows_loaded == 0


def test_connect_needs_a_redshift_target(tmp_path):
    cfg = RunConfig.resolve(backend="aws", run_dir=tmp_path, bucket="b")
    with pytest.raises(ConfigError, match="needs a Redshift target"):
        backends.get(cfg).warehouse()


def test_connect_builds_data_api_warehouse(tmp_path):
    cfg = RunConfig.resolve(backend="aws", run_dir=tmp_path, workgroup="rfmkit", region="us-east-1", bucket="b")
    wh = backends.get(cfg).warehouse()
    assert isinstance(wh, RedshiftWarehouse)
    assert wh.transport.target == {"Database": "dev", "WorkgroupName": "rfmkit"}


def _stubbed_warehouse(client, rows: int = 5, s3=None):
    """A Redshift warehouse whose catalog and row count are given (the Data API calls under test
    are the load's own); local files are staged at s3://b/loads/1/ unless `s3` is given."""
    storage = S3Storage("workshop", "rfmkit", client=s3) if s3 is not None else None
    wh = RedshiftWarehouse(transport(client), storage=storage, copy_role_arn="arn:aws:iam::1:role/r")
    wh._audit_ready = True
    wh.table_columns = lambda table: __import__("pandas").DataFrame({"name": list(PAYMENT_COLUMNS)})
    wh.row_count = lambda table: rows
    if s3 is None:
        wh._stage_files = lambda files: "s3://b/loads/1/"
    return wh


def test_a_failure_before_any_row_is_read_is_recorded_on_redshift_too(data_api, tmp_path):
    client, stub = data_api
    expect_statement(stub, params=ANY, statement_id="audit")
    with pytest.raises(LoadError, match="no such file") as caught:
        _stubbed_warehouse(client).load_csv("olist_order_payments", tmp_path / "missing.csv")
    assert caught.value.report.status == "failed"
    assert caught.value.report.files == [str(tmp_path / "missing.csv")]


def test_a_header_only_file_does_not_empty_a_redshift_table(data_api, tmp_path):
    client, stub = data_api
    path = write_payments(tmp_path / "empty.csv", [])
    expect_batch(stub, "stage", [None, None, (("query_id", "rows_loaded"), [(79, 0)])])
    expect_statement(stub, params=ANY, statement_id="rej", columns=("file_name", "line_number", "column_name",
                                                                    "reason"), rows=[])
    expect_statement(stub, params=ANY, statement_id="audit")
    expect_statement(stub, sql=ANY, statement_id="drop")  # the stage goes; the target was never touched
    with pytest.raises(LoadError, match="would delete its 5 rows"):
        _stubbed_warehouse(client).load_csv("olist_order_payments", path)
