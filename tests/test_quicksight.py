"""QuickSight assets through the API, offline: botocore Stubber checks every request against the
QuickSight service model (moto has no create_analysis), moto provides S3 and STS."""

import datetime as dt

import boto3
import exported_run
import pytest
from botocore.stub import ANY, Stubber

from rfmkit import manifests, quicksight
from rfmkit.config import AwsSettings, ConfigError, RunConfig

REGION, ACCOUNT = "eu-west-1", "123456789012"
USER = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:user/default/analyst"
QS = f"arn:aws:quicksight:{REGION}:{ACCOUNT}"
NOT_FOUND = "ResourceNotFoundException"
NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def client():
    return boto3.client("quicksight", region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def ingestion(status: str, ingested: int | None = None, dropped: int = 0) -> dict:
    answer = {"Arn": "arn:ingestion", "IngestionStatus": status, "CreatedTime": NOW}
    if ingested is not None:
        answer["RowInfo"] = {"RowsIngested": ingested, "RowsDropped": dropped}
    return {"Ingestion": answer}


def stub_upsert(stub, kind: str, exists: bool, existing: dict, created: dict) -> None:
    """publish() describes each asset first, then updates it (exists) or creates it."""
    if exists:
        stub.add_response(f"describe_{kind}", existing)
        stub.add_response(f"update_{kind}", created)
    else:
        stub.add_client_error(f"describe_{kind}", NOT_FOUND, http_status_code=404)
        stub.add_response(f"create_{kind}", created)


def stub_create(stub, tables: dict[str, int], *, exists: bool = False, dashboard_version: int = 1) -> None:
    """The calls publish() makes for `tables` (name -> rows), creating or (exists) updating."""
    for table, rows in tables.items():
        asset = f"rfmkit-{table.replace('_', '-')}"
        stub_upsert(stub, "data_source", exists, {"DataSource": {"Status": "CREATION_SUCCESSFUL"}},
                    {"Arn": f"{QS}:datasource/{asset}"})
        stub.add_response("describe_data_source", {"DataSource": {"Status": "CREATION_IN_PROGRESS"}})
        stub.add_response("describe_data_source", {"DataSource": {"Status": "CREATION_SUCCESSFUL",
                                                                  "Arn": f"{QS}:datasource/{asset}"}})
        stub_upsert(stub, "data_set", exists, {"DataSet": {"DataSetId": asset}},
                    {"Arn": f"{QS}:dataset/{asset}", "IngestionId": "i1"})
        stub.add_response("describe_ingestion", ingestion("RUNNING"))
        stub.add_response("describe_ingestion", ingestion("COMPLETED", rows))
    stub_upsert(stub, "analysis", exists, {"Analysis": {"AnalysisId": "rfmkit-analysis"}},
                {"Arn": f"{QS}:analysis/rfmkit-analysis"})
    stub.add_response("describe_analysis", {"Analysis": {"Status": "CREATION_SUCCESSFUL",
                                                         "Arn": f"{QS}:analysis/rfmkit-analysis"}})
    dashboard = f"{QS}:dashboard/rfmkit-dashboard"
    stub_upsert(stub, "dashboard", exists, {"Dashboard": {"DashboardId": "rfmkit-dashboard"}},
                {"Arn": dashboard, "VersionArn": f"{dashboard}/version/{dashboard_version}"})
    stub.add_response("describe_dashboard", {"Dashboard": {"Version": {"Status": "CREATION_SUCCESSFUL"}}},
                      {"AwsAccountId": ACCOUNT, "DashboardId": "rfmkit-dashboard", "VersionNumber": dashboard_version})
    if dashboard_version > 1:
        stub.add_response("update_dashboard_published_version", {},
                          {"AwsAccountId": ACCOUNT, "DashboardId": "rfmkit-dashboard",
                           "VersionNumber": dashboard_version})


def requests(qs, operation: str) -> list[dict]:
    seen: list[dict] = []
    qs.meta.events.register(f"provide-client-params.quicksight.{operation}",
                            lambda params, **_: seen.append(dict(params)))
    return seen


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quicksight") / "run"
    cfg, warehouse = exported_run.build(folder)
    cfg = RunConfig(backend="aws", run_dir=cfg.run_dir, aws=AwsSettings(
        region=REGION, bucket="workshop-data", prefix="rfmkit",
        quicksight_role_arn=f"arn:aws:iam::{ACCOUNT}:role/rfmkit-quicksight"))
    written = {t: manifests.write_manifest(cfg.run_dir / "manifests", t, manifests.export_files(cfg, t),
                                           "s3://workshop-data/rfmkit/exports") for t in manifests.EXPORTED_TABLES}
    yield cfg, warehouse, written
    warehouse.close()


class Session(boto3.Session):
    """moto for S3 and STS; the stubbed QuickSight client."""

    def __init__(self, qs):
        super().__init__(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        self._qs = qs

    def client(self, name, *args, **kwargs):
        return self._qs if name == "quicksight" else super().client(name, *args, **kwargs)


def test_publish_run_uploads_manifests_and_builds_typed_data_sets_analysis_and_dashboard(run, monkeypatch):
    from moto import mock_aws

    cfg, warehouse, written = run
    counts = {t: warehouse.row_count(t) for t in written}
    qs = client()
    sources, data_sets = requests(qs, "CreateDataSource"), requests(qs, "CreateDataSet")
    analyses, dashboards = requests(qs, "CreateAnalysis"), requests(qs, "CreateDashboard")
    monkeypatch.setattr(quicksight.time, "sleep", lambda _: None)
    with mock_aws(), Stubber(qs) as stub:
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket="workshop-data", CreateBucketConfiguration={"LocationConstraint": REGION})
        stub_create(stub, counts)
        published = quicksight.publish_run(cfg, warehouse, written, "analyst", boto_session=Session(qs),
                                           progress=lambda _: None)
        stub.assert_no_pending_responses()
        keys = [o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(
            Bucket="workshop-data", Prefix="rfmkit/manifests/")["Contents"]]
    assert sorted(keys) == sorted(f"rfmkit/manifests/{t}.json" for t in written)
    assert published.rows == counts and set(published.data_sets) == set(written)

    scores_source = next(s for s in sources if s["DataSourceId"] == "rfmkit-customer-scores")
    assert scores_source["Type"] == "S3" and scores_source["DataSourceParameters"]["S3Parameters"] == {
        "ManifestFileLocation": {"Bucket": "workshop-data", "Key": "rfmkit/manifests/customer_scores.json"},
        "RoleArn": cfg.aws.quicksight_role_arn}
    assert scores_source["Permissions"][0]["Principal"] == USER

    scores_set = next(s for s in data_sets if s["DataSetId"] == "rfmkit-customer-scores")
    physical = scores_set["PhysicalTableMap"]["csv"]["S3Source"]
    header = [c.name for c in manifests.table_columns(warehouse, "customer_scores", [])]
    assert [c["Name"] for c in physical["InputColumns"]] == header
    assert {c["Type"] for c in physical["InputColumns"]} == {"STRING"}  # delimited files are text
    casts = {t["CastColumnTypeOperation"]["ColumnName"]: t["CastColumnTypeOperation"]
             for t in scores_set["LogicalTableMap"]["typed"]["DataTransforms"]}
    assert casts["churn_probability"]["NewColumnType"] == "DECIMAL"
    assert casts["recency_days"]["NewColumnType"] == "INTEGER"
    assert casts["scored_at"] == {"ColumnName": "scored_at", "NewColumnType": "DATETIME", "Format": "yyyy-MM-dd"}
    assert "customer_id" not in casts and scores_set["ImportMode"] == "SPICE"

    definition = analyses[0]["Definition"]
    assert definition["DataSetIdentifierDeclarations"][0]["DataSetArn"].endswith("dataset/rfmkit-customer-scores")
    visuals = [next(iter(v.values()))["VisualId"] for v in definition["Sheets"][0]["Visuals"]]
    assert visuals == ["segment-sizes", "segment-revenue", "rfm-scatter", "churn-risk", "revenue-at-risk",
                       "cluster-profiles"]
    control = definition["Sheets"][0]["FilterControls"][0]["Dropdown"]
    assert control["SourceFilterId"] == definition["FilterGroups"][0]["Filters"][0]["CategoryFilter"]["FilterId"]
    assert dashboards[0]["Definition"] == definition
    assert dashboards[0]["DashboardPublishOptions"]["SheetControlsOption"]["VisibilityState"] == "EXPANDED"


def test_a_second_publish_updates_and_publishes_the_new_dashboard_version(run):
    cfg, warehouse, _ = run
    qs = client()
    publisher = quicksight.QuickSightPublisher(qs, ACCOUNT, USER, poll_seconds=0, progress=lambda _: None)
    columns = manifests.table_columns(warehouse, "rfm_scores", [])
    rows = warehouse.row_count("rfm_scores")
    with Stubber(qs) as stub:
        stub_create(stub, {"rfm_scores": rows}, exists=True, dashboard_version=3)
        published = publisher.publish({"rfm_scores": (columns, "rfmkit/manifests/rfm_scores.json", rows)},
                                      "workshop-data")
        stub.assert_no_pending_responses()
    assert published.dashboard_arn.endswith("dashboard/rfmkit-dashboard")


def test_rows_quicksight_dropped_and_a_failed_analysis_are_errors_with_the_reason(run):
    _, warehouse, _ = run
    qs = client()
    publisher = quicksight.QuickSightPublisher(qs, ACCOUNT, USER, poll_seconds=0, progress=lambda _: None)
    columns = manifests.table_columns(warehouse, "rfm_scores", [])
    with Stubber(qs) as stub:
        stub.add_client_error("describe_data_set", NOT_FOUND, http_status_code=404)
        stub.add_response("create_data_set", {"Arn": f"{QS}:dataset/x", "IngestionId": "i1"})
        stub.add_response("describe_ingestion", ingestion("COMPLETED", 595, dropped=5))
        with pytest.raises(quicksight.QuickSightError, match="595 rows ingested and 5 dropped, but the export "
                                                             "holds 600"):
            publisher.data_set("rfm_scores", columns, f"{QS}:datasource/x", 600)
        stub.add_client_error("describe_analysis", NOT_FOUND, http_status_code=404)
        stub.add_response("create_analysis", {"Arn": f"{QS}:analysis/rfmkit-analysis"})
        stub.add_response("describe_analysis", {"Analysis": {"Status": "CREATION_FAILED", "Errors": [
            {"Type": "COLUMN_TYPE_MISMATCH", "Message": "monetary is not numeric"}]}})
        with pytest.raises(quicksight.QuickSightError, match="CREATION_FAILED: COLUMN_TYPE_MISMATCH: monetary"):
            publisher.analysis(quicksight.analysis_definition(f"{QS}:dataset/x", [c.name for c in columns]))


def test_delete_removes_everything_and_a_second_delete_finds_it_gone():
    qs = client()
    publisher = quicksight.QuickSightPublisher(qs, ACCOUNT, USER, progress=lambda _: None)
    tables = ("rfm_scores", "customer_scores")
    with Stubber(qs) as stub:
        stub.add_response("delete_dashboard", {}, {"AwsAccountId": ACCOUNT, "DashboardId": "rfmkit-dashboard"})
        stub.add_response("delete_analysis", {}, {"AwsAccountId": ACCOUNT, "AnalysisId": "rfmkit-analysis",
                                                  "ForceDeleteWithoutRecovery": True})
        for operation, key in (("delete_data_set", "DataSetId"), ("delete_data_source", "DataSourceId")):
            for _ in tables:
                stub.add_response(operation, {}, {"AwsAccountId": ACCOUNT, key: ANY})
        assert len(publisher.delete(tables)) == 6
        for operation in ("delete_dashboard", "delete_analysis", *["delete_data_set"] * 2,
                          *["delete_data_source"] * 2):
            stub.add_client_error(operation, NOT_FOUND, http_status_code=404)
        assert publisher.delete(tables) == []
        stub.assert_no_pending_responses()


def test_publishing_needs_an_owner_and_a_bucket(run):
    cfg, warehouse, written = run
    with pytest.raises(ConfigError, match="parameter quicksight_user"):
        quicksight.publish_run(cfg, warehouse, written, "")
    bare = RunConfig(backend="aws", run_dir=cfg.run_dir)
    with pytest.raises(ConfigError, match="bucket"):
        quicksight.publish_run(bare, warehouse, written, "analyst")
    assert quicksight.principal_arn("analyst", ACCOUNT, REGION) == USER
    group = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:group/default/analysts"
    assert quicksight.principal_arn(group, ACCOUNT, REGION) == group


def test_the_analysis_shows_customer_value_and_alerts_in_a_valid_request():
    """With P(alive), value at risk and alert status in the data set, the analysis gains their
    visuals, and create_analysis accepts the definition's shape (botocore validates it)."""
    columns = ["customer_id", "segment", "recency_days", "frequency", "monetary", "churn_probability",
               "revenue_at_risk", "p_alive", "clv", "value_at_risk", "alert_status", "cluster_label"]
    definition = quicksight.analysis_definition(f"{QS}:dataset/x", columns)
    visual_ids = [next(iter(v.values()))["VisualId"] for v in definition["Sheets"][0]["Visuals"]]
    assert {"p-alive", "value-at-risk", "churn-alerts"} <= set(visual_ids)
    qs = client()
    publisher = quicksight.QuickSightPublisher(qs, ACCOUNT, USER, progress=lambda _: None)
    with Stubber(qs) as stub:
        stub.add_client_error("describe_analysis", NOT_FOUND, http_status_code=404)
        stub.add_response("create_analysis", {"Arn": f"{QS}:analysis/rfmkit-analysis"})
        stub.add_response("describe_analysis", {"Analysis": {"Status": "CREATION_SUCCESSFUL",
                                                             "Arn": f"{QS}:analysis/rfmkit-analysis"}})
        assert publisher.analysis(definition).endswith("analysis/rfmkit-analysis")
        stub.assert_no_pending_responses()
