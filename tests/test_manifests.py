"""QuickSight manifests and "Augment with SageMaker" schemas: generated from the run's tables and
models, written as QuickSight reads them, validated against the JSON Schemas in manifests/schema."""

import json

import exported_run
import pandas as pd
import pytest

from rfmkit import backends, manifests
from rfmkit.config import AwsSettings, ConfigError, RunConfig
from rfmkit.serving.inference import input_fn, model_fn, output_fn, predict_fn


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg, warehouse = exported_run.build(tmp_path_factory.mktemp("manifests") / "run")
    yield cfg, warehouse
    warehouse.close()


def test_one_manifest_per_export_lists_its_exact_files_as_quicksight_reads_them(run, tmp_path):
    cfg, _ = run
    base = backends.get(cfg).exporter().base_uri("s3://workshop-data/rfmkit/exports/")
    for table in manifests.EXPORTED_TABLES:
        files = manifests.export_files(cfg, table)
        path = manifests.write_manifest(tmp_path, table, files, base)
        raw = path.read_bytes()
        assert path.name == f"{table}.json" and not raw.startswith(manifests.BOM)
        doc = manifests.check_file(path, manifests.MANIFEST_SCHEMA)
        assert doc["fileLocations"] == [{"URIs": [f"s3://workshop-data/rfmkit/exports/{f.name}" for f in files]}]
        assert doc["globalUploadSettings"]["containsHeader"] == "true"


def test_data_set_columns_follow_the_export_header_with_quicksight_types(run):
    cfg, warehouse = run
    columns = manifests.table_columns(warehouse, "customer_scores",
                                      manifests.export_files(cfg, "customer_scores"))
    header = pd.read_csv(manifests.export_files(cfg, "customer_scores")[0], nrows=0).columns.tolist()
    assert [c.name for c in columns] == header
    types = {c.name: c.type for c in columns}
    assert (types["customer_id"], types["recency_days"], types["monetary"], types["churn_probability"],
            types["scored_at"], types["churn_model_approved"]) == (
        "STRING", "INTEGER", "DECIMAL", "DECIMAL", "DATETIME", "STRING")


def test_a_reordered_export_is_caught_before_quicksight(run, tmp_path):
    cfg, warehouse = run
    frame = pd.read_csv(manifests.export_files(cfg, "customer_segments")[0])
    moved = tmp_path / "customer_segments_000.csv"
    frame[list(reversed(frame.columns))].to_csv(moved, index=False)
    with pytest.raises(manifests.ManifestError, match=r"customer_segments_000.csv: header .* does not match"):
        manifests.table_columns(warehouse, "customer_segments", [moved])
    with pytest.raises(manifests.ManifestError, match="does not exist"):
        manifests.table_columns(warehouse, "no_such_table", [])


def test_files_quicksight_would_reject_are_rejected(tmp_path):
    good = manifests.s3_manifest(["s3://workshop-data/rfmkit/exports/rfm_scores_000.csv"])
    bom = tmp_path / "bom.json"
    bom.write_bytes(manifests.BOM + json.dumps(good).encode())
    with pytest.raises(manifests.ManifestError, match="byte order mark"):
        manifests.check_file(bom, manifests.MANIFEST_SCHEMA)
    with pytest.raises(manifests.ManifestError, match="must end in .json|ending in .json"):
        manifests.write_document(tmp_path / "m.txt", good, manifests.MANIFEST_SCHEMA)
    recursive = {"fileLocations": [{"URIPrefixes": ["s3://workshop-data/rfmkit/"]}],
                 "globalUploadSettings": good["globalUploadSettings"]}
    with pytest.raises(manifests.ManifestError, match=r"fileLocations/0: 'URIs' is a required property"):
        manifests.write_document(tmp_path / "r.json", recursive, manifests.MANIFEST_SCHEMA)
    not_csv = manifests.s3_manifest(["s3://workshop-data/rfmkit/exports/rfm_scores_000.parquet"])
    with pytest.raises(manifests.ManifestError, match="URIs/0"):
        manifests.write_document(tmp_path / "p.json", not_csv, manifests.MANIFEST_SCHEMA)


def test_export_location_per_backend_and_a_bad_override_is_named(tmp_path):
    local = backends.get(RunConfig(run_dir=tmp_path)).exporter()
    assert local.base_uri() == "s3://your-bucket/rfmkit/exports"
    aws = RunConfig(backend="aws", run_dir=tmp_path,
                    aws=AwsSettings(region="eu-west-1", bucket="workshop-data", prefix="kit"))
    assert backends.get(aws).exporter().base_uri() == "s3://workshop-data/kit/exports"
    with pytest.raises(ConfigError, match="s3_exports='exports/'"):
        local.base_uri("exports/")
    with pytest.raises(ConfigError, match="bucket"):
        backends.get(RunConfig(backend="aws", run_dir=tmp_path)).exporter().base_uri()


def _answers_in_schema_order(served, schema, rows: pd.DataFrame):
    """Send rows in the schema's input order as QuickSight would (CSV, no header) and check the
    CSV answer has the schema's output fields."""
    assert [f["name"] for f in schema["input"]] == served.columns
    body = rows[[f["name"] for f in schema["input"]]].to_csv(index=False, header=False)
    text, _ = output_fn(predict_fn(input_fn(body, "text/csv"), served), "text/csv")
    lines = text.strip().splitlines()
    assert len(lines) == len(rows) and all(len(line.split(",")) == len(schema["output"]) for line in lines)


def test_kmeans_schema_comes_from_the_model_and_the_table_it_reads(run, tmp_path):
    cfg, warehouse = run
    served = model_fn(cfg.run_dir / "models" / "kmeans" / "model.tar.gz")
    rfm_types = {c.name: c.type for c in manifests.table_columns(warehouse, "rfm_scores", [])}
    schema = manifests.model_schema(served, description="k-means", input_types=rfm_types)
    assert schema["input"] == [{"name": "recency_days", "type": "INTEGER"},
                               {"name": "frequency", "type": "INTEGER"},
                               {"name": "monetary", "type": "DECIMAL"}]
    assert schema["output"] == [{"name": "closest_cluster", "type": "INTEGER"},
                                {"name": "distance_to_cluster", "type": "DECIMAL"}]
    path = manifests.write_model_schema(tmp_path, "kmeans", schema)
    manifests.check_file(path, manifests.MODEL_SCHEMA)
    _answers_in_schema_order(served, schema, warehouse.query("SELECT * FROM rfm_scores LIMIT 20"))


def test_churn_schema_keeps_the_training_column_order_and_types(tmp_path):
    data, parts, path = exported_run.contact_center_model(tmp_path / "m", threshold=0.4)
    served = model_fn(path)
    schema = manifests.model_schema(served, description="churn", input_types=manifests.frame_types(data.features))
    categorical = [c for c, kind in data.kinds.items() if kind == "categorical"]
    assert all(f["type"] == "STRING" for f in schema["input"] if f["name"] in categorical)
    assert schema["output"] == [{"name": "churn_probability", "type": "DECIMAL"},
                                {"name": "churn_label", "type": "INTEGER"}]
    manifests.validate(schema, manifests.MODEL_SCHEMA, "churn schema")
    _answers_in_schema_order(served, schema, parts.x_test.head(25))


def test_a_schema_quicksight_could_not_use_is_rejected():
    good = {"inputContentType": "CSV", "outputContentType": "CSV",
            "input": [{"name": "recency_days", "type": "INTEGER"}],
            "output": [{"name": "closest_cluster", "type": "INTEGER"}],
            "instanceTypes": ["ml.m5.large"], "defaultInstanceType": "ml.m5.large"}
    manifests.validate(good, manifests.MODEL_SCHEMA, "good")
    cases = {"defaultInstanceType: not one of instanceTypes": {"defaultInstanceType": "ml.c5.xlarge"},
             "input/0/type": {"input": [{"name": "recency_days", "type": "FLOAT"}]},
             "output: field names repeat": {"output": [{"name": "a", "type": "INTEGER"}] * 2},
             "'instanceTypes' is a required property": {"instanceTypes": None}}
    for message, change in cases.items():
        doc = {k: v for k, v in {**good, **change}.items() if v is not None}
        with pytest.raises(manifests.ManifestError, match=message):
            manifests.validate(doc, manifests.MODEL_SCHEMA, "bad")
