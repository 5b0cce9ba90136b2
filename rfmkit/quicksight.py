"""QuickSight on the AWS backend (notebook 07): data sources on the S3 manifests, SPICE data sets
with typed columns, and an analysis and a published dashboard with the visuals of the local one.

Everything is created through the QuickSight API with ids derived from a prefix, so a re-run
updates what exists instead of failing or duplicating, and `delete` removes it all, tolerating what
is already gone. Each SPICE ingestion is waited for and its row counts are checked against the
export (QuickSight silently drops rows it cannot parse).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rfmkit.manifests import Column

# What the owner (the principal named in notebook 07) may do with each asset.
OWNER_ACTIONS = {
    "data_source": ["quicksight:DescribeDataSource", "quicksight:DescribeDataSourcePermissions",
                    "quicksight:PassDataSource", "quicksight:UpdateDataSource",
                    "quicksight:DeleteDataSource", "quicksight:UpdateDataSourcePermissions"],
    "data_set": ["quicksight:DescribeDataSet", "quicksight:DescribeDataSetPermissions",
                 "quicksight:PassDataSet", "quicksight:DescribeIngestion", "quicksight:ListIngestions",
                 "quicksight:UpdateDataSet", "quicksight:DeleteDataSet", "quicksight:CreateIngestion",
                 "quicksight:CancelIngestion", "quicksight:UpdateDataSetPermissions"],
    "analysis": ["quicksight:RestoreAnalysis", "quicksight:UpdateAnalysisPermissions",
                 "quicksight:DeleteAnalysis", "quicksight:DescribeAnalysisPermissions",
                 "quicksight:QueryAnalysis", "quicksight:DescribeAnalysis", "quicksight:UpdateAnalysis"],
    "dashboard": ["quicksight:DescribeDashboard", "quicksight:ListDashboardVersions",
                  "quicksight:UpdateDashboardPermissions", "quicksight:QueryDashboard",
                  "quicksight:UpdateDashboard", "quicksight:DeleteDashboard",
                  "quicksight:DescribeDashboardPermissions", "quicksight:UpdateDashboardPublishedVersion"],
}
SCORES = "scores"          # data set identifier inside the analysis
SHEET = "customers"
SEGMENT_FILTER = "segment-filter"


class QuickSightError(RuntimeError):
    """An asset failed to build; the message carries QuickSight's reason."""


@dataclass
class Published:
    data_sources: dict[str, str] = field(default_factory=dict)   # table -> ARN
    data_sets: dict[str, str] = field(default_factory=dict)      # table -> ARN
    rows: dict[str, int] = field(default_factory=dict)           # table -> rows ingested
    analysis_arn: str | None = None
    dashboard_arn: str | None = None


class QuickSightPublisher:
    """Create, update and delete the kit's QuickSight assets in one account and region."""

    def __init__(self, client, account_id: str, principal_arn: str, *, prefix: str = "rfmkit",
                 role_arn: str | None = None, poll_seconds: float = 5.0, timeout_seconds: float = 1800,
                 progress=print):
        self.client, self.account_id, self.principal_arn = client, account_id, principal_arn
        self.prefix, self.role_arn, self.progress = prefix, role_arn, progress
        self.poll_seconds, self.timeout_seconds = poll_seconds, timeout_seconds

    # -- ids ------------------------------------------------------------------------------------
    def asset_id(self, *parts: str) -> str:
        return "-".join([self.prefix, *parts]).replace("_", "-")

    def _permissions(self, kind: str) -> list[dict]:
        return [{"Principal": self.principal_arn, "Actions": OWNER_ACTIONS[kind]}]

    # -- data sources and data sets ---------------------------------------------------------------
    def data_source(self, table: str, manifest_bucket: str, manifest_key: str) -> str:
        """An S3 data source reading one manifest; returns its ARN."""
        source_id = self.asset_id(table)
        s3 = {"ManifestFileLocation": {"Bucket": manifest_bucket, "Key": manifest_key}}
        if self.role_arn:
            s3["RoleArn"] = self.role_arn
        arguments = {"AwsAccountId": self.account_id, "DataSourceId": source_id,
                     "Name": f"rfmkit {table}", "DataSourceParameters": {"S3Parameters": s3}}
        if self._exists(self.client.describe_data_source, DataSourceId=source_id):
            self.client.update_data_source(**arguments)
        else:
            self.client.create_data_source(**arguments, Type="S3", Permissions=self._permissions("data_source"))
        source = self._wait(lambda: self.client.describe_data_source(
            AwsAccountId=self.account_id, DataSourceId=source_id)["DataSource"],
            lambda d: d["Status"], lambda d: d.get("ErrorInfo", {}).get("Message", ""),
            f"data source {source_id}")
        self.progress(f"data source {source_id}: {source['Status']}")
        return source["Arn"]

    def data_set(self, table: str, columns: list[Column], data_source_arn: str, expected_rows: int
                 ) -> tuple[str, int]:
        """A SPICE data set with typed columns; waits for the ingestion and checks every row came in.
        Returns (ARN, rows ingested)."""
        set_id = self.asset_id(table)
        arguments = {"AwsAccountId": self.account_id, "DataSetId": set_id, "Name": f"rfmkit {table}",
                     "PhysicalTableMap": physical_table(columns, data_source_arn),
                     "LogicalTableMap": logical_table(table, columns), "ImportMode": "SPICE"}
        if self._exists(self.client.describe_data_set, DataSetId=set_id):
            answer = self.client.update_data_set(**arguments)
        else:
            answer = self.client.create_data_set(**arguments, Permissions=self._permissions("data_set"))
        ingestion = self._wait(lambda: self.client.describe_ingestion(
            AwsAccountId=self.account_id, DataSetId=set_id, IngestionId=answer["IngestionId"])["Ingestion"],
            lambda i: i["IngestionStatus"], lambda i: i.get("ErrorInfo", {}).get("Message", ""),
            f"SPICE ingestion of {set_id}")
        rows = ingestion.get("RowInfo", {})
        ingested, dropped = int(rows.get("RowsIngested", 0)), int(rows.get("RowsDropped", 0))
        if dropped or ingested != expected_rows:
            raise QuickSightError(f"data set {set_id}: {ingested:,} rows ingested and {dropped:,} "
                                  f"dropped, but the export holds {expected_rows:,}; see the "
                                  f"ingestion's error report in QuickSight")
        self.progress(f"data set {set_id}: {ingested:,} rows in SPICE")
        return answer["Arn"], ingested

    # -- analysis and dashboard -------------------------------------------------------------------
    def analysis(self, definition: dict) -> str:
        analysis_id = self.asset_id("analysis")
        arguments = {"AwsAccountId": self.account_id, "AnalysisId": analysis_id,
                     "Name": "rfmkit customers", "Definition": definition}
        if self._exists(self.client.describe_analysis, AnalysisId=analysis_id):
            self.client.update_analysis(**arguments)
        else:
            self.client.create_analysis(**arguments, Permissions=self._permissions("analysis"))
        analysis = self._wait(lambda: self.client.describe_analysis(
            AwsAccountId=self.account_id, AnalysisId=analysis_id)["Analysis"],
            lambda a: a["Status"], _errors, f"analysis {analysis_id}")
        self.progress(f"analysis {analysis_id}: {analysis['Status']}")
        return analysis["Arn"]

    def dashboard(self, definition: dict) -> str:
        dashboard_id = self.asset_id("dashboard")
        arguments = {"AwsAccountId": self.account_id, "DashboardId": dashboard_id,
                     "Name": "rfmkit customers", "Definition": definition,
                     "DashboardPublishOptions": {
                         "AdHocFilteringOption": {"AvailabilityStatus": "ENABLED"},
                         "ExportToCSVOption": {"AvailabilityStatus": "ENABLED"},
                         "SheetControlsOption": {"VisibilityState": "EXPANDED"}}}
        if self._exists(self.client.describe_dashboard, DashboardId=dashboard_id):
            answer = self.client.update_dashboard(**arguments)
        else:
            answer = self.client.create_dashboard(**arguments, Permissions=self._permissions("dashboard"))
        version = int(answer["VersionArn"].rsplit("/", 1)[-1])
        self._wait(lambda: self.client.describe_dashboard(
            AwsAccountId=self.account_id, DashboardId=dashboard_id, VersionNumber=version)["Dashboard"],
            lambda d: d["Version"]["Status"], lambda d: _errors(d["Version"]),
            f"dashboard {dashboard_id} version {version}")
        if version > 1:  # a created dashboard publishes version 1 itself; updates must be published
            self.client.update_dashboard_published_version(
                AwsAccountId=self.account_id, DashboardId=dashboard_id, VersionNumber=version)
        self.progress(f"dashboard {dashboard_id}: version {version} published")
        return answer["Arn"]

    # -- everything -------------------------------------------------------------------------------
    def publish(self, tables: dict[str, tuple[list[Column], str, int]], manifest_bucket: str,
                empty_columns: frozenset[str] = frozenset()) -> Published:
        """tables: table -> (columns, manifest key, rows exported). The analysis and dashboard read
        customer_scores when it is there, else rfm_scores (fewer visuals); columns in
        `empty_columns` (all NULL, e.g. P(alive) on contractual data) get no visual."""
        published = Published()
        for table, (columns, key, rows) in tables.items():
            source = self.data_source(table, manifest_bucket, key)
            published.data_sources[table] = source
            published.data_sets[table], published.rows[table] = self.data_set(table, columns, source, rows)
        main = "customer_scores" if "customer_scores" in tables else "rfm_scores"
        if main not in tables:
            raise QuickSightError("the analysis needs the rfm_scores or customer_scores export")
        definition = analysis_definition(published.data_sets[main], [
            c.name for c in tables[main][0] if c.name not in empty_columns])
        published.analysis_arn = self.analysis(definition)
        published.dashboard_arn = self.dashboard(definition)
        return published

    def delete(self, tables: tuple[str, ...]) -> list[str]:
        """Delete the dashboard, analysis, data sets and data sources; what is gone is skipped."""
        deleted = []
        steps = [("dashboard", self.client.delete_dashboard, {"DashboardId": self.asset_id("dashboard")}),
                 ("analysis", self.client.delete_analysis, {"AnalysisId": self.asset_id("analysis"),
                                                           "ForceDeleteWithoutRecovery": True})]
        steps += [("data set", self.client.delete_data_set, {"DataSetId": self.asset_id(t)}) for t in tables]
        steps += [("data source", self.client.delete_data_source, {"DataSourceId": self.asset_id(t)})
                  for t in tables]
        for kind, call, arguments in steps:
            name = next(iter(arguments.values()))
            try:
                call(AwsAccountId=self.account_id, **arguments)
            except self.client.exceptions.ResourceNotFoundException:
                self.progress(f"{kind} {name}: already gone")
                continue
            deleted.append(f"{kind} {name}")
            self.progress(f"{kind} {name}: deleted")
        return deleted

    # -- helpers ----------------------------------------------------------------------------------
    def _exists(self, describe, **ids) -> bool:
        try:
            describe(AwsAccountId=self.account_id, **ids)
        except self.client.exceptions.ResourceNotFoundException:
            return False
        return True

    def _wait(self, describe, status, errors, what: str) -> dict:
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            current = describe()
            state = status(current)
            if state in ("CREATION_SUCCESSFUL", "UPDATE_SUCCESSFUL", "COMPLETED"):
                return current
            if state.endswith("FAILED") or state == "CANCELLED":
                raise QuickSightError(f"{what} ended {state}: {errors(current) or 'no reason given'}")
            if time.monotonic() > deadline:
                raise QuickSightError(f"{what} still {state} after {self.timeout_seconds:.0f} s")
            time.sleep(self.poll_seconds)


def _errors(asset: dict) -> str:
    return "; ".join(f"{e.get('Type', '')}: {e.get('Message', '')}" for e in asset.get("Errors", []))


# -- request bodies -------------------------------------------------------------------------------
def physical_table(columns: list[Column], data_source_arn: str) -> dict:
    # QuickSight reads delimited files as text; the logical table casts the columns (below).
    return {"csv": {"S3Source": {
        "DataSourceArn": data_source_arn,
        "InputColumns": [{"Name": c.name, "Type": "STRING"} for c in columns],
        "UploadSettings": {"Format": "CSV", "StartFromRow": 1, "ContainsHeader": True,
                           "TextQualifier": "DOUBLE_QUOTE", "Delimiter": ","}}}}


def logical_table(table: str, columns: list[Column]) -> dict:
    casts = []
    for c in columns:
        if c.type == "STRING":
            continue
        cast = {"ColumnName": c.name, "NewColumnType": c.type}
        if c.type == "DATETIME":
            cast["Format"] = "yyyy-MM-dd"
        casts.append({"CastColumnTypeOperation": cast})
    logical = {"Alias": table, "Source": {"PhysicalTableId": "csv"}}
    if casts:
        logical["DataTransforms"] = casts
    return {"typed": logical}


def _column(name: str) -> dict:
    return {"DataSetIdentifier": SCORES, "ColumnName": name}


def _dimension(visual: str, name: str) -> dict:
    return {"CategoricalDimensionField": {"FieldId": f"{visual}.{name}", "Column": _column(name)}}


def _measure(visual: str, name: str, aggregation: str) -> dict:
    return {"NumericalMeasureField": {"FieldId": f"{visual}.{name}.{aggregation.lower()}",
                                      "Column": _column(name),
                                      "AggregationFunction": {"SimpleNumericalAggregation": aggregation}}}


def _title(text: str) -> dict:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def _bar(visual: str, title: str, value: dict, category: str = "segment") -> dict:
    return {"BarChartVisual": {"VisualId": visual, "Title": _title(title), "ChartConfiguration": {
        "FieldWells": {"BarChartAggregatedFieldWells": {"Category": [_dimension(visual, category)],
                                                        "Values": [value]}},
        "Orientation": "VERTICAL"}}}


# customer_scores columns that are NULL until notebook 05 (or the alert list) has run
OPTIONAL_COLUMNS = ("p_alive", "expected_purchases_365d", "clv", "value_at_risk", "alert_status",
                    "overdue_ratio", "cluster_label")


def analysis_definition(data_set_arn: str, columns: list[str]) -> dict:
    """The sheet of the local dashboard: segment sizes and revenue, recency against spend, and
    (when the data set has them) churn risk, revenue at risk, P(alive), value at risk, churn
    alerts and cluster profiles, with a segment filter control over every visual."""
    visuals = [
        _bar("segment-sizes", "Customers per segment",
             {"CategoricalMeasureField": {"FieldId": "segment-sizes.customers",
                                          "Column": _column("customer_id"), "AggregationFunction": "COUNT"}}),
        _bar("segment-revenue", "Revenue by segment", _measure("segment-revenue", "monetary", "SUM")),
        {"ScatterPlotVisual": {"VisualId": "rfm-scatter", "Title": _title("Recency against spend"),
                               "ChartConfiguration": {"FieldWells": {"ScatterPlotUnaggregatedFieldWells": {
                                   "XAxis": [{"NumericalDimensionField": {"FieldId": "rfm-scatter.recency",
                                                                          "Column": _column("recency_days")}}],
                                   "YAxis": [{"NumericalDimensionField": {"FieldId": "rfm-scatter.monetary",
                                                                          "Column": _column("monetary")}}],
                                   "Category": [_dimension("rfm-scatter", "segment")]}}}}},
    ]
    if "churn_probability" in columns:
        visuals.append({"BoxPlotVisual": {
            "VisualId": "churn-risk", "Title": _title("Churn probability by segment"),
            "ChartConfiguration": {"FieldWells": {"BoxPlotAggregatedFieldWells": {
                "GroupBy": [_dimension("churn-risk", "segment")],
                "Values": [{"NumericalMeasureField": {"FieldId": "churn-risk.probability",
                                                      "Column": _column("churn_probability")}}]}}}}})
        visuals.append(_bar("revenue-at-risk", "Revenue at risk by segment",
                            _measure("revenue-at-risk", "revenue_at_risk", "SUM")))
    if "p_alive" in columns:
        visuals.append(_bar("p-alive", "Mean P(alive) by segment",
                            _measure("p-alive", "p_alive", "AVERAGE")))
        visuals.append(_bar("value-at-risk", "Value at risk by segment (CLV x (1 - P(alive)))",
                            _measure("value-at-risk", "value_at_risk", "SUM")))
    if "alert_status" in columns:
        visuals.append(_bar("churn-alerts", "Churn alerts: customers by status",
                            {"CategoricalMeasureField": {"FieldId": "churn-alerts.customers",
                                                         "Column": _column("customer_id"),
                                                         "AggregationFunction": "COUNT"}},
                            category="alert_status"))
    if "cluster_label" in columns:
        visuals.append({"PivotTableVisual": {
            "VisualId": "cluster-profiles", "Title": _title("Cluster profiles"),
            "ChartConfiguration": {"FieldWells": {"PivotTableAggregatedFieldWells": {
                "Rows": [_dimension("cluster-profiles", "cluster_label")],
                "Values": [_measure("cluster-profiles", c, "AVERAGE")
                           for c in ("recency_days", "frequency", "monetary")]}}}}})
    layout = [{"ElementId": next(iter(v.values()))["VisualId"], "ElementType": "VISUAL",
               "ColumnIndex": 18 * (i % 2), "ColumnSpan": 18, "RowIndex": 12 * (i // 2), "RowSpan": 12}
              for i, v in enumerate(visuals)]
    return {
        "DataSetIdentifierDeclarations": [{"Identifier": SCORES, "DataSetArn": data_set_arn}],
        "Sheets": [{"SheetId": SHEET, "Name": "Customers", "Visuals": visuals,
                    "FilterControls": [{"Dropdown": {"FilterControlId": "segment-control", "Title": "Segment",
                                                     "SourceFilterId": SEGMENT_FILTER, "Type": "MULTI_SELECT"}}],
                    "Layouts": [{"Configuration": {"GridLayout": {"Elements": layout}}}]}],
        "FilterGroups": [{
            "FilterGroupId": "segment-filter-group", "CrossDataset": "SINGLE_DATASET", "Status": "ENABLED",
            "Filters": [{"CategoryFilter": {"FilterId": SEGMENT_FILTER, "Column": _column("segment"),
                                            "Configuration": {"FilterListConfiguration": {
                                                "MatchOperator": "CONTAINS",
                                                "SelectAllOptions": "FILTER_ALL_VALUES"}}}}],
            "ScopeConfiguration": {"SelectedSheets": {"SheetVisualScopingConfigurations": [
                {"SheetId": SHEET, "Scope": "ALL_VISUALS"}]}}}],
    }


# -- a run's exports to QuickSight ------------------------------------------------------------------
def principal_arn(user: str, account_id: str, region: str) -> str:
    """A QuickSight user or group ARN, or a user name in the default namespace."""
    if user.startswith("arn:"):
        return user
    return f"arn:aws:quicksight:{region}:{account_id}:user/default/{user}"


def publish_run(cfg, warehouse, manifests_written: dict, user: str, *, boto_session=None,
                progress=print) -> Published:
    """Upload the run's manifests next to its exports and build every QuickSight asset on them."""
    from rfmkit.config import ConfigError
    from rfmkit.manifests import export_files, table_columns

    if not user:
        raise ConfigError("parameter quicksight_user: name the QuickSight user (or give a user or "
                          "group ARN) who will own the data sets, analysis and dashboard")
    if not cfg.aws.bucket:
        raise ConfigError("backend='aws' needs the bucket setting for QuickSight (notebook 00)")
    if boto_session is None:
        import boto3

        boto_session = boto3.Session(region_name=cfg.aws.region)
    account = boto_session.client("sts").get_caller_identity()["Account"]
    from rfmkit.storage import S3Storage, split_s3_uri

    storage = S3Storage.from_session(boto_session, cfg.aws.bucket, cfg.aws.prefix)
    tables = {}
    for table, path in manifests_written.items():
        uri = storage.upload(path, f"manifests/{path.name}", content_type="application/json")
        key = split_s3_uri(uri)[1]
        tables[table] = (table_columns(warehouse, table, export_files(cfg, table)), key,
                         warehouse.row_count(table))
    publisher = QuickSightPublisher(boto_session.client("quicksight"), account,
                                    principal_arn(user, account, boto_session.region_name),
                                    prefix=cfg.aws.prefix or "rfmkit", role_arn=cfg.aws.quicksight_role_arn,
                                    progress=progress)
    return publisher.publish(tables, cfg.aws.bucket, _empty_columns(warehouse, tables))


def _empty_columns(warehouse, tables: dict) -> frozenset[str]:
    """customer_scores' optional columns that hold no value in this run (no visual for them)."""
    from rfmkit.warehouse.dialect import quote_ident

    optional = [c.name for c in tables.get("customer_scores", ([], "", 0))[0]
                if c.name in OPTIONAL_COLUMNS]
    if not optional:
        return frozenset()
    counts = warehouse.query("SELECT " + ", ".join(f"COUNT({quote_ident(c)}) AS {quote_ident(c)}"
                                                   for c in optional) + " FROM customer_scores")
    return frozenset(c for c in optional if int(counts[c].iloc[0]) == 0)
