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


@pytest.fixture
def data_api():
    client = boto3.client("redshift-data", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


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


def test_load_statements_are_valid_redshift():
    wh = RedshiftWarehouse(transport=None, copy_role_arn="arn:aws:iam::123456789012:role/copy", region="us-east-1")
    command = parse_copy("COPY olist_orders FROM 's3://b/loads/x/' CSV IGNOREHEADER 1 MAXERROR 3 "
                         "TIMEFORMAT 'YYYY-MM-DD HH:MI:SS' EMPTYASNULL")
    statements = wh.load_statements(command, "stage_1", ["order_id", "customer_id"], "merge", ("order_id",))
    copy = parse_copy(statements[1])
    assert copy.table == "stage_1" and copy.options["IAM_ROLE"].endswith("role/copy")
    assert copy.max_errors == 3 and copy.options["REGION"] == "us-east-1"
    for statement in statements:
        if statement_kind(statement) == "sql":
            sqlglot.parse_one(statement, read="redshift")
    assert statements[3].startswith('DELETE FROM "olist_orders" USING "stage_1" s WHERE')


@mock_aws
def test_load_local_file_through_s3_and_data_api(data_api, tmp_path):
    client, stub = data_api
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="workshop")
    path = write_payments(tmp_path / "payments.csv", ["a,1,credit_card,1,10.00", "b,1,boleto,1,x"])
    audit_statements = split_statements((SQL_DIR / "000_load_audit.sql").read_text())
    for i, statement in enumerate(audit_statements):
        expect_statement(stub, sql=statement, statement_id=f"ddl{i}")
    expect_statement(stub, params=[{"name": "name", "value": "olist_order_payments"}], statement_id="cols",
                     columns=("name", "data_type", "nullable"),
                     rows=[(c, "character varying", "false") for c in
                           ("order_id", "payment_sequential", "payment_type", "payment_installments",
                            "payment_value")])
    stub.add_response("batch_execute_statement", {"Id": "load"}, {**TARGET, "Sqls": ANY})
    stub.add_response("describe_statement", {"Id": "load", "Status": "FINISHED", "SubStatements": [
        {"Id": "load:1", "HasResultSet": False}, {"Id": "load:2", "HasResultSet": False},
        {"Id": "load:3", "HasResultSet": True}, {"Id": "load:4", "HasResultSet": False},
        {"Id": "load:5", "HasResultSet": False}]}, {"Id": "load"})
    stub.add_response("get_statement_result", {"ColumnMetadata": [{"name": "query_id"}, {"name": "rows_loaded"}],
                                               "Records": [[{"longValue": 77}, {"longValue": 1}]]}, {"Id": "load:3"})
    expect_statement(stub, params=[{"name": "query_id", "value": "77"}], statement_id="rej",
                     columns=("file_name", "line_number", "column_name", "reason"),
                     rows=[("s3://workshop/rfmkit/loads/x/payments.csv", 3, "payment_value",
                            "Invalid digit, Value 'x', Pos 0, Type: Decimal")])
    stub.add_response("batch_execute_statement", {"Id": "audit"}, {**TARGET, "Sqls": ANY})
    stub.add_response("describe_statement", {"Id": "audit", "Status": "FINISHED"}, {"Id": "audit"})

    wh = RedshiftWarehouse(transport(client), storage=S3Storage("workshop", "rfmkit", client=s3),
                           copy_role_arn="arn:aws:iam::123456789012:role/copy")
    report = wh.load_csv("olist_order_payments", path)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (2, 1, 1)
    assert report.rejects.iloc[0]["raw_line"] == "b,1,boleto,1,x"
    staged = s3.list_objects_v2(Bucket="workshop", Prefix="rfmkit/loads/")["Contents"]
    assert [o["Key"].rsplit("/", 1)[1] for o in staged] == ["payments.csv"]


def test_max_errors_on_redshift_raises_with_rejects(data_api, tmp_path):
    client, stub = data_api
    path = write_payments(tmp_path / "p.csv", ["a,1,credit_card,1,x", "b,1,boleto,1,y"])
    wh = RedshiftWarehouse(transport(client), copy_role_arn="arn:aws:iam::1:role/r")
    wh._audit_ready = True
    wh.table_columns = lambda table: __import__("pandas").DataFrame(
        {"name": ["order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"]})
    wh._stage_files = lambda files: "s3://b/loads/1/"
    stub.add_response("batch_execute_statement", {"Id": "load"}, {**TARGET, "Sqls": ANY})
    stub.add_response("describe_statement", {"Id": "load", "Status": "FAILED", "Error":
                      "Load into table 'stage' failed. Check 'sys_load_error_detail' system table for details."},
                      {"Id": "load"})
    expect_statement(stub, params=ANY, statement_id="rej",
                     columns=("file_name", "line_number", "column_name", "reason"),
                     rows=[("s3://b/loads/1/p.csv", 2, "payment_value", "Invalid digit"),
                           ("s3://b/loads/1/p.csv", 3, "payment_value", "Invalid digit")])
    stub.add_response("batch_execute_statement", {"Id": "audit"}, {**TARGET, "Sqls": ANY})
    stub.add_response("describe_statement", {"Id": "audit", "Status": "FINISHED"}, {"Id": "audit"})
    with pytest.raises(MaxErrorsExceeded, match="2 rows rejected, more than max_errors=1"):
        wh.load_csv("olist_order_payments", path, max_errors=1)


def test_connect_needs_a_redshift_target(tmp_path):
    cfg = RunConfig.resolve(backend="aws", run_dir=tmp_path, bucket="b")
    with pytest.raises(ConfigError, match="needs a Redshift target"):
        backends.get(cfg).warehouse()


def test_connect_builds_data_api_warehouse(tmp_path):
    cfg = RunConfig.resolve(backend="aws", run_dir=tmp_path, workgroup="rfmkit", region="us-east-1", bucket="b")
    wh = backends.get(cfg).warehouse()
    assert isinstance(wh, RedshiftWarehouse)
    assert wh.transport.target == {"Database": "dev", "WorkgroupName": "rfmkit"}


def _stubbed_warehouse(client, rows: int = 5):
    wh = RedshiftWarehouse(transport(client), copy_role_arn="arn:aws:iam::1:role/r")
    wh._audit_ready = True
    wh.table_columns = lambda table: __import__("pandas").DataFrame(
        {"name": ["order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"]})
    wh.row_count = lambda table: rows
    wh._stage_files = lambda files: "s3://b/loads/1/"
    return wh


def test_a_failure_before_any_row_is_read_is_recorded_on_redshift_too(data_api, tmp_path):
    client, stub = data_api
    stub.add_response("batch_execute_statement", {"Id": "audit"}, {**TARGET, "Sqls": ANY})
    stub.add_response("describe_statement", {"Id": "audit", "Status": "FINISHED"}, {"Id": "audit"})
    with pytest.raises(LoadError, match="no such file") as caught:
        _stubbed_warehouse(client).load_csv("olist_order_payments", tmp_path / "missing.csv")
    assert caught.value.report.status == "failed"
    assert caught.value.report.files == [str(tmp_path / "missing.csv")]


def test_a_header_only_file_does_not_empty_a_redshift_table(data_api, tmp_path):
    client, stub = data_api
    path = write_payments(tmp_path / "empty.csv", [])
    stub.add_response("batch_execute_statement", {"Id": "audit"}, {**TARGET, "Sqls": ANY})
    stub.add_response("describe_statement", {"Id": "audit", "Status": "FINISHED"}, {"Id": "audit"})
    with pytest.raises(LoadError, match="would delete its 5 rows"):  # nothing staged, no COPY sent
        _stubbed_warehouse(client).load_csv("olist_order_payments", path)
