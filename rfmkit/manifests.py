"""QuickSight inputs generated from what the run produced (notebook 07).

* S3 manifests: one per exported table, listing its exact CSV files (`URIs`; `URIPrefixes` would be
  recursive and pick up stray files), written as `.json` in UTF-8 without a byte order mark, the two
  things QuickSight silently insists on.
* "Augment with SageMaker" schemas: the model's input fields in its CSV column order and its output
  fields in the order it answers, with types, content types and instance types.
* Data set columns: the table's columns in export order with QuickSight types, checked against the
  exported CSV header so a renamed or reordered column fails here rather than in QuickSight.

Every document is validated against the JSON Schemas kept in `manifests/schema/`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from rfmkit.config import RunConfig
from rfmkit.paths import PROJECT_ROOT

SCHEMA_DIR = PROJECT_ROOT / "manifests" / "schema"
MANIFEST_SCHEMA = "quicksight-s3-manifest.schema.json"
MODEL_SCHEMA = "quicksight-sagemaker-schema.schema.json"
EXPORTED_TABLES = ("rfm_scores", "customer_segments", "customer_scores")
INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge", "ml.c5.2xlarge")
BOM = b"\xef\xbb\xbf"


class ManifestError(ValueError):
    """A generated document does not match its schema or its data; the message names the file."""


# -- types ----------------------------------------------------------------------------------------
def quicksight_type(data_type: str) -> str:
    """QuickSight column type for a DuckDB or Redshift column type."""
    text = data_type.strip().upper()
    if text.startswith(("SMALLINT", "INTEGER", "BIGINT", "INT", "TINYINT", "HUGEINT")):
        return "INTEGER"
    if text.startswith(("DECIMAL", "NUMERIC", "DOUBLE", "REAL", "FLOAT")):
        return "DECIMAL"
    if text.startswith(("DATE", "TIMESTAMP", "TIME")):
        return "DATETIME"
    if text.startswith(("VARCHAR", "CHAR", "TEXT", "STRING", "BPCHAR", "BOOL")):
        return "STRING"  # booleans export as true/false; a STRING column keeps them readable
    raise ManifestError(f"no QuickSight type for column type {data_type!r}")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # QuickSight: STRING | INTEGER | DECIMAL | DATETIME


def table_columns(warehouse, table: str, exported: list[Path]) -> list[Column]:
    """The table's columns with QuickSight types, in the order of the exported CSV header."""
    catalog = warehouse.table_columns(table)
    if catalog.empty:
        raise ManifestError(f"table {table} does not exist in the warehouse")
    columns = [Column(row.name, quicksight_type(row.data_type)) for row in catalog.itertuples()]
    for path in exported:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        if header != [c.name for c in columns]:
            raise ManifestError(f"{path}: header {header} does not match table {table} "
                                f"({[c.name for c in columns]}); re-export the table")
    return columns


# -- S3 manifests ---------------------------------------------------------------------------------
def export_files(cfg: RunConfig, table: str) -> list[Path]:
    files = sorted(cfg.exports_dir.glob(f"{table}_*.csv"))
    if not files:
        raise ManifestError(f"no export of {table} in {cfg.exports_dir}: run the notebook that "
                            f"writes it first")
    return files


def s3_manifest(uris: list[str]) -> dict:
    return {"fileLocations": [{"URIs": list(uris)}],
            "globalUploadSettings": {"format": "CSV", "delimiter": ",", "textqualifier": '"',
                                     "containsHeader": "true"}}


def write_manifest(folder: Path, table: str, files: list[Path], base_uri: str) -> Path:
    doc = s3_manifest([f"{base_uri}/{path.name}" for path in files])
    return write_document(Path(folder) / f"{table}.json", doc, MANIFEST_SCHEMA)


# -- "Augment with SageMaker" schemas --------------------------------------------------------------
def model_schema(served, *, description: str, version: str = "1",
                 input_types: dict[str, str] | None = None,
                 instance_types: tuple[str, ...] = INSTANCE_TYPES) -> dict:
    """The schema QuickSight needs to run one of the kit's models (an inference.ServedModel).

    input_types: QuickSight types of the data set columns the model reads (e.g. rfm_scores for
    k-means), so the fields map one to one; other inputs get a type from the model's column kinds.
    """
    kinds, known = served.metadata.get("kinds", {}), input_types or {}
    inputs = [{"name": c, "type": known.get(c) or ("DECIMAL" if kinds.get(c, "numeric") == "numeric"
                                                    else "STRING")}
              for c in served.columns]
    outputs = [{"name": name, "type": _dtype_type(dtype)}
               for name, dtype in _probe_outputs(served).items()]
    return {"inputContentType": "CSV", "outputContentType": "CSV", "input": inputs,
            "output": outputs, "description": description, "version": str(version),
            "instanceTypes": list(instance_types), "defaultInstanceType": instance_types[0],
            "instanceCount": 1}


def _probe_outputs(served) -> dict[str, np.dtype]:
    """Run the model on one row to learn its output columns and their types, in answer order."""
    from rfmkit.serving.inference import output_fn, predict_fn

    kinds = served.metadata.get("kinds", {})
    row = [1.0 if kinds.get(c, "numeric") == "numeric" else "" for c in served.columns]
    prediction = predict_fn([row], served)
    output_fn(prediction, "text/csv")  # the container answers in this form; it must not fail
    return dict(prediction.dtypes)


def frame_types(frame: pd.DataFrame) -> dict[str, str]:
    """QuickSight types of a data frame's columns (for a model trained from a CSV)."""
    return {str(c): _dtype_type(t) for c, t in frame.dtypes.items()}


def _dtype_type(dtype) -> str:
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return "INTEGER"
    if pd.api.types.is_float_dtype(dtype):
        return "DECIMAL"
    return "STRING"


def try_schema(served, schema: dict, frame: pd.DataFrame, rows: int = 5) -> pd.DataFrame:
    """Send the schema's input columns of a few rows through the inference contract, the way
    QuickSight's "Augment with SageMaker" does (headerless CSV in and out), and return the answer
    under the schema's output names."""
    from rfmkit.serving.inference import input_fn, output_fn, predict_fn

    body = frame[[f["name"] for f in schema["input"]]].head(rows).to_csv(index=False, header=False)
    answer, _ = output_fn(predict_fn(input_fn(body, "text/csv"), served), "text/csv")
    return pd.DataFrame([line.split(",") for line in answer.strip().splitlines()],
                        columns=[f["name"] for f in schema["output"]])


def write_model_schema(folder: Path, name: str, schema: dict) -> Path:
    return write_document(Path(folder) / f"{name}.schema.json", schema, MODEL_SCHEMA)


# -- writing and checking -------------------------------------------------------------------------
@cache
def _validator(schema_name: str):
    from jsonschema import Draft202012Validator

    schema = json.loads((SCHEMA_DIR / schema_name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate(doc: dict, schema_name: str, where: str) -> None:
    """Raise ManifestError listing every place `doc` breaks the schema."""
    errors = sorted(_validator(schema_name).iter_errors(doc), key=lambda e: list(e.absolute_path))
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]
    if schema_name == MODEL_SCHEMA and not errors:
        if doc["defaultInstanceType"] not in doc["instanceTypes"]:
            problems.append("defaultInstanceType: not one of instanceTypes")
        for part in ("input", "output"):
            names = [f["name"] for f in doc[part]]
            if len(set(names)) != len(names):
                problems.append(f"{part}: field names repeat")
    if problems:
        raise ManifestError(f"{where} does not match {schema_name}:\n  " + "\n  ".join(problems))


def write_document(path: Path, doc: dict, schema_name: str) -> Path:
    if path.suffix != ".json":
        raise ManifestError(f"{path}: QuickSight reads manifests only from files ending in .json")
    validate(doc, schema_name, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8"))  # no BOM
    return path


def check_file(path: Path, schema_name: str) -> dict:
    """Read a written document back as QuickSight would: .json, UTF-8 without BOM, schema-valid."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix != ".json":
        raise ManifestError(f"{path}: must end in .json")
    if raw.startswith(BOM):
        raise ManifestError(f"{path}: starts with a UTF-8 byte order mark, which QuickSight rejects")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"{path}: not UTF-8 JSON ({error})") from None
    validate(doc, schema_name, str(path))
    return doc


# -- what notebook 07 does, one call per step ----------------------------------------------------
def exports_by_table(cfg: RunConfig) -> tuple[dict[str, list[Path]], list[str]]:
    """The run's export files per dashboard table, and the tables not exported yet (rfm_scores is
    required: without it there is nothing to show)."""
    exported = {t: sorted(cfg.exports_dir.glob(f"{t}_*.csv")) for t in EXPORTED_TABLES}
    missing = [t for t, files in exported.items() if not files]
    if "rfm_scores" in missing:
        raise ManifestError(f"no rfm_scores export in {cfg.exports_dir}: run notebooks 01 and 02 first")
    return {t: f for t, f in exported.items() if f}, missing


def write_manifests(warehouse, exported: dict[str, list[Path]], folder: Path, base_uri: str
                    ) -> tuple[dict[str, Path], pd.DataFrame]:
    """One manifest per exported table, each read back and checked as QuickSight would; returns
    them and a table of what each lists."""
    written, rows = {}, []
    for table, files in exported.items():
        columns = table_columns(warehouse, table, files)
        written[table] = write_manifest(folder, table, files, base_uri)
        check_file(written[table], MANIFEST_SCHEMA)
        rows.append({"table": table, "rows": warehouse.row_count(table), "columns": len(columns),
                     "files": ", ".join(f.name for f in files), "manifest": written[table].name})
    return written, pd.DataFrame(rows)


def kmeans_schema(warehouse, model_file: Path, folder: Path):
    """The k-means model's schema written to `folder`, with five customers sent through it; None
    when notebook 03 has not saved a model."""
    from rfmkit.serving.inference import model_fn

    if not Path(model_file).exists():
        return None
    model = model_fn(model_file)
    types = {c.name: c.type for c in table_columns(warehouse, "rfm_scores", [])}
    schema = model_schema(model, input_types=types, version=str(model.metadata["k"]),
                          description="rfmkit k-means segments: RFM values in, cluster and distance out")
    path = write_model_schema(folder, "kmeans", schema)
    return schema, path, try_schema(model, schema, warehouse.query("SELECT * FROM rfm_scores LIMIT 5"))


def churn_schema(warehouse, registry, folder: Path):
    """The churn model's schema (the registry's production version, else the newest), written to
    `folder`, with five customers' features sent through it; the reason instead when no version
    is registered."""
    from rfmkit import rfm
    from rfmkit.churn.transaction_labels import feature_frame
    from rfmkit.serving.operations import load_registered
    from rfmkit.serving.scores import ScoringError, choose_version

    try:
        chosen = choose_version(registry, require_approved=False)
    except ScoringError as error:
        return f"no churn schema: {error}"
    model, _ = load_registered(registry, chosen.version)
    snapshot = rfm.default_snapshot_date(warehouse)
    features = feature_frame(warehouse, snapshot, snapshot)
    schema = model_schema(model, input_types=frame_types(features),
                          version=str(chosen.version).rsplit("/", 1)[-1],
                          description=f"rfmkit churn model {chosen.registered_model}: customer "
                                      f"features in, churn probability and label out")
    path = write_model_schema(folder, "churn", schema)
    return schema, path, try_schema(model, schema, features)
