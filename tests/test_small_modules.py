import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from rfmkit import backends, environment
from rfmkit.paths import PROJECT_ROOT
from rfmkit.storage import LocalStorage, S3Storage


def test_environment_report_lists_packages_and_passes_here():
    report = environment.report("local")
    assert {"python", "duckdb", "sqlglot", "papermill"} <= set(report["check"])
    assert report["ok"].all(), report[~report["ok"]]


def test_environment_aws_rows_without_credentials(monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    rows = environment.report("aws").set_index("check")
    assert not rows.loc["AWS credentials", "ok"] and "configure credentials" in rows.loc["AWS credentials", "fix"]


def test_local_storage_round_trip(tmp_path):
    source = tmp_path / "a.csv"
    source.write_text("x\n")
    store = LocalStorage(tmp_path / "store")
    uri = store.upload(source, "exports/a.csv")
    assert store.list_keys("exports") == ["exports/a.csv"]
    assert store.download(uri, tmp_path / "back.csv").read_text() == "x\n"


@mock_aws
def test_s3_storage_round_trip(tmp_path):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="bkt")
    source = tmp_path / "a.csv"
    source.write_text("x\n")
    store = S3Storage("bkt", "rfmkit", client=client)
    assert store.upload(source, "exports/a.csv") == "s3://bkt/rfmkit/exports/a.csv"
    assert [p.read_text() for p in store.download_prefix("s3://bkt/rfmkit/exports/", tmp_path / "dl")] == ["x\n"]


def test_generate_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "rfmkit", "generate", "--scale", "0.01", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    assert "olist_orders" in done.stdout and (tmp_path / "olist_orders_dataset.csv").exists()


def test_duckdb_memory_limit_is_capped_and_a_bad_value_names_the_parameter(monkeypatch):
    from rfmkit.warehouse import duckdb as embedded
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    # a tenth of the machine's memory, between 1 and 4 GB
    for machine_gb, cap in ((24.0, "2.4GB"), (200.0, "4.0GB"), (4.0, "1.0GB"), (float("nan"), "1.0GB")):
        monkeypatch.setattr(embedded, "memory_gb", lambda gb=machine_gb: gb)
        assert DuckDBWarehouse.default_memory_limit() == cap
    monkeypatch.setattr(embedded, "memory_gb", lambda: 24.0)
    monkeypatch.delenv("RFMKIT_DUCKDB_MEMORY", raising=False)
    with DuckDBWarehouse() as wh:
        assert wh.memory_limit == "2.4GB"
        assert wh.query("SELECT current_setting('memory_limit') AS m")["m"].iloc[0] == "2.2 GiB"
    monkeypatch.setenv("RFMKIT_DUCKDB_MEMORY", "1GB")
    with DuckDBWarehouse() as wh:
        assert wh.query("SELECT current_setting('memory_limit') AS m")["m"].iloc[0] == "953.6 MiB"
    with pytest.raises(ValueError, match="memory_limit='lots'"):
        DuckDBWarehouse(memory_limit="lots")


def test_text_compression_is_skipped_unless_asked_for(monkeypatch):
    from rfmkit.warehouse.duckdb import SKIPPED_COMPRESSION, DuckDBWarehouse

    def skipped() -> str:
        with DuckDBWarehouse() as wh:
            return wh.query("SELECT current_setting('disabled_compression_methods') AS m")["m"].iloc[0]

    monkeypatch.delenv("RFMKIT_DUCKDB_COMPRESS_TEXT", raising=False)
    assert set(skipped().lower().split(",")) == set(SKIPPED_COMPRESSION.split(","))
    monkeypatch.setenv("RFMKIT_DUCKDB_COMPRESS_TEXT", "1")
    assert skipped() == ""


def test_out_of_memory_says_which_statement_and_how_to_raise_the_limit():
    from rfmkit.warehouse.duckdb import DuckDBWarehouse, WarehouseMemoryError

    with DuckDBWarehouse(memory_limit="20MB") as wh:
        wh.execute_native("SET threads = 1")
        with pytest.raises(WarehouseMemoryError, match=r"memory limit \(20MB\) for: CREATE TABLE big .*"
                                                       r"RFMKIT_DUCKDB_MEMORY"):
            wh.execute("CREATE TABLE big AS SELECT i, CAST(i AS VARCHAR) || 'padding-padding' AS s "
                       "FROM generate_series(1, 3000000) AS t(i) ORDER BY s DESC")


def test_run_s3_locations_keep_the_prefix_tidy():
    from rfmkit.config import AwsSettings, RunConfig
    from rfmkit.sagemaker_jobs import run_folder_uri

    cfg = RunConfig(backend="aws", run_dir="/tmp/runs/20261123-101500",
                    aws=AwsSettings(region="eu-west-1", bucket="b", prefix="/p/"))
    assert backends.get(cfg).exporter().base_uri() == "s3://b/p/exports"
    assert run_folder_uri(cfg, "churn") == "s3://b/p/churn/20261123-101500"
    cfg.aws.prefix = ""
    assert backends.get(cfg).exporter().base_uri() == "s3://b/exports"
