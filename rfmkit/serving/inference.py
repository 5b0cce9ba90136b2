"""The SageMaker inference contract for both kit models: model_fn, input_fn, predict_fn, output_fn.

The same four functions serve the local endpoint (rfmkit.serving.server) and run inside
SageMaker's scikit-learn container, so a request gets the same answer in both places.

* k-means (`model.json`, rfmkit-kmeans format): raw RFM columns in; `closest_cluster` and
  `distance_to_cluster` out, as SageMaker's built-in KMeans returns them.
* churn (`model.joblib` + `metadata.json`): the training columns in; `churn_probability` and
  `churn_label` (probability at or above the model's cost-optimal threshold) out.

Requests: `text/csv` (rows without a header, columns in the model's order), `application/json`
(`{"instances": [[...], ...]}`, `{"instances": [{"column": value, ...}]}` or a bare list), and
`application/jsonlines` (one list or object per line). Responses: `application/json`
(`{"predictions": [{...}, ...]}`), `application/jsonlines` or `text/csv` (one line per row, no header).
Every problem raises InferenceError with an HTTP status and a message that says what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CSV, JSON, JSONLINES = "text/csv", "application/json", "application/jsonlines"
CONTENT_TYPES = (CSV, JSON, JSONLINES)
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's real-time limit
# Inputs beyond this magnitude are refused: no RFM or usage figure comes near it, and it keeps the
# models' squares and sums finite (1e308 would overflow a k-means distance to Infinity).
MAX_ABS_VALUE = 1e12


class InferenceError(ValueError):
    """A request the model cannot answer; `status` is the HTTP status to return (4xx)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class ServedModel:
    kind: str                 # "kmeans" or "churn"
    columns: list[str]        # input columns, in CSV order
    model: object
    metadata: dict
    rows: object = None       # churn: a RowPredictor for small requests (same probabilities, less overhead)

    def __post_init__(self):
        from rfmkit.churn.row_predictor import RowPredictor

        if self.kind == "churn" and self.rows is None and RowPredictor.supports(self.model):
            self.rows = RowPredictor(self.model)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        from rfmkit.churn.row_predictor import MAX_ROWS

        if self.kind == "kmeans":
            return self.model.predict_frame(frame)
        if self.rows is not None and len(frame) <= MAX_ROWS:
            return pd.DataFrame(self.label(self.rows.predict_proba(frame)[:, 1]))
        return pd.DataFrame(self.label(self.model.predict_proba(frame)[:, 1]))

    def predict_columns(self, columns: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        """The answer from checked input columns (to_columns), as one array per output column:
        small requests build no DataFrame at all (about 0.3 ms of a 1 ms single-row answer)."""
        from rfmkit.churn.row_predictor import MAX_ROWS

        if self.kind == "kmeans":
            return self.model.predict_values(np.column_stack([columns[c] for c in self.columns]))
        if self.rows is not None and rows <= MAX_ROWS:
            return self.label(self.rows.predict_columns(columns)[:, 1])
        return dict(self.predict(pd.DataFrame(columns, columns=self.columns)).items())

    def label(self, probability: np.ndarray) -> dict[str, np.ndarray]:
        """Churn output: the probability and the label at the model's cost-optimal threshold."""
        label = (probability >= float(self.metadata.get("threshold", 0.5))).astype(int)
        return {"churn_probability": probability, "churn_label": label}


# -- the contract ---------------------------------------------------------------------------------
def model_fn(model_dir: str | Path) -> ServedModel:
    """Load whichever kit model the folder (or model.tar.gz) holds."""
    from rfmkit.churn import artifact as churn_artifact
    from rfmkit.segmentation import model as kmeans_model

    path = Path(model_dir)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder (a run's models are in its folder, "
                                f"e.g. runs/latest/models/kmeans/model.tar.gz after `make run`)")
    if (path / kmeans_model.MODEL_FILE).exists() or _tar_has(path, kmeans_model.MODEL_FILE):
        model = kmeans_model.load(path)
        return ServedModel("kmeans", list(model.features.columns), model, model.to_dict())
    if (path / churn_artifact.MODEL_FILE).exists() or _tar_has(path, churn_artifact.MODEL_FILE):
        pipeline, metadata = churn_artifact.load(path)
        return ServedModel("churn", list(metadata["columns"]), pipeline, metadata)
    raise FileNotFoundError(f"{path}: neither a k-means (model.json) nor a churn model "
                            f"(model.joblib + metadata.json)")


def input_fn(body: bytes | str, content_type: str) -> list:
    """Parse a request body into rows (lists of values, or dicts keyed by column)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in CONTENT_TYPES:
        raise InferenceError(f"unsupported content type {content_type!r}; use one of "
                             f"{', '.join(CONTENT_TYPES)}", status=415)
    if len(body) > MAX_PAYLOAD_BYTES:
        raise InferenceError(f"request body of {len(body):,} bytes is over the 6 MB limit; send "
                             f"fewer rows per request", status=413)
    text = _text(body) if isinstance(body, bytes) else body
    if not text.strip():
        raise InferenceError("empty request body: send at least one row")
    if media == CSV:
        return [row for row in csv.reader(io.StringIO(text)) if row]
    if media == JSONLINES:
        return [_json(line, f"line {n}") for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    payload = _json(text, "body")
    rows = payload.get("instances") if isinstance(payload, dict) else payload
    if isinstance(rows, list):  # SageMaker's {"features": [...]} instance form is accepted too
        rows = [r["features"] if isinstance(r, dict) and "features" in r else r for r in rows]
    if not isinstance(rows, list) or not rows:
        raise InferenceError('JSON body must be {"instances": [...]} or a non-empty list of rows')
    return rows


def predict_fn(rows: list, model: ServedModel) -> pd.DataFrame:
    """Check every value against the model's domain (400 naming row and column), then predict.

    An answer that is not a finite number is refused too: JSON has no NaN or Infinity."""
    return pd.DataFrame(predict_columns(rows, model))


def predict_columns(rows: list, model: ServedModel) -> dict[str, np.ndarray]:
    """predict_fn's answer as one array per output column (the endpoint's path: output_fn takes
    either form)."""
    prediction = model.predict_columns(to_columns(rows, model), len(rows))
    _check_finite_output(prediction)
    return prediction


def output_fn(prediction: pd.DataFrame | dict[str, np.ndarray], accept: str | None) -> tuple[str, str]:
    """(body, content type) in the shape SageMaker's containers return, from predict_fn's frame
    or predict_columns' arrays."""
    media = (accept or JSON).split(";")[0].strip().lower()
    if media in ("*/*", ""):
        media = JSON
    # Column lists through tolist() give plain Python numbers; DataFrame.to_dict("records") costs
    # about 0.3 ms even for one row, a tenth of a whole single-row request.
    names = [str(c) for c in prediction]
    columns = [np.asarray(prediction[c]).tolist() for c in prediction]
    records = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    if media == JSON:  # allow_nan=False: a non-finite number is a bug, never invalid JSON on the wire
        return json.dumps({"predictions": records}, allow_nan=False), JSON
    if media == JSONLINES:
        return "".join(json.dumps(r, allow_nan=False) + "\n" for r in records), JSONLINES
    if media == CSV:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([list(r.values()) for r in records])
        return buffer.getvalue(), CSV
    raise InferenceError(f"unsupported Accept {accept!r}; use one of {', '.join(CONTENT_TYPES)}",
                         status=406)


# -- helpers --------------------------------------------------------------------------------------
def to_columns(rows: list, model: ServedModel) -> dict[str, np.ndarray]:
    """Rows as one checked array per model column (floats, or objects for categories)."""
    columns, kinds = model.columns, model.metadata.get("kinds", {})
    grid = np.empty((len(rows), len(columns)), dtype=object)
    grid[:] = _records(rows, columns)
    numeric = [i for i, c in enumerate(columns) if kinds.get(c) != "categorical"]
    try:  # fast path: every value parses as a number (what well-formed requests send)
        values = grid[:, numeric].astype(float)
        fast = not np.isnan(values).any()  # a NaN here came from text such as "nan": say so below
    except (TypeError, ValueError, OverflowError):
        fast = False
    if not fast:  # blanks, yes/no words or a bad value: column by column, naming the first bad cell
        values = np.column_stack([_numbers(grid[:, i], columns[i], kinds.get(columns[i]),
                                           model.kind) for i in numeric]) if numeric else None
    if numeric:
        _check_domain(values, [columns[i] for i in numeric], model)
    data = {}
    for i, column in enumerate(columns):
        if i in numeric:
            data[column] = values[:, numeric.index(i)]
        else:  # categorical: a blank is a missing category
            _check_text(grid[:, i], column)
            data[column] = np.array([np.nan if v is None or v == "" else v for v in grid[:, i]],
                                    dtype=object)
    return data


def domain(model: ServedModel) -> dict[str, str]:
    """What each numeric input column accepts, beyond being a finite number within MAX_ABS_VALUE.

    k-means features are RFM counts, days and money, all >= 0 in the data the model was fitted on;
    a log-transformed one would even turn a negative value into NaN or -Infinity (log1p(-1))."""
    if model.kind != "kmeans":
        return {}
    logged = set(model.metadata.get("features", {}).get("log_columns") or [])
    return {c: "log-transformed" if c in logged else "non-negative" for c in model.columns}


def _check_domain(values: np.ndarray, names: list[str], model: ServedModel) -> None:
    """Finite, within MAX_ABS_VALUE, and inside each column's domain; blanks (NaN) are left to
    the model's imputer. The first bad cell is named by row and column."""
    with np.errstate(invalid="ignore"):
        out_of_range = ~np.isnan(values) & ~(np.abs(values) <= MAX_ABS_VALUE)
        rules = domain(model)
        negative = np.zeros_like(out_of_range)
        for j, name in enumerate(names):
            if name in rules:
                negative[:, j] = values[:, j] < 0
    if out_of_range.any():
        row, col = (int(x) for x in np.argwhere(out_of_range)[0])
        raise InferenceError(f"row {row + 1}, column {names[col]!r}: {values[row, col]!r} is not a "
                             f"finite number within ±{MAX_ABS_VALUE:.0e}")
    if negative.any():
        row, col = (int(x) for x in np.argwhere(negative)[0])
        why = ("the model log-transforms it (log1p)" if rules[names[col]] == "log-transformed"
               else "it is a count, a number of days or an amount of money")
        raise InferenceError(f"row {row + 1}, column {names[col]!r}: {values[row, col]!r} is negative; "
                             f"{why}, so it needs a value >= 0")


def _check_text(values: np.ndarray, column: str) -> None:
    for row, value in enumerate(values, 1):
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InferenceError(f"row {row}, column {column!r}: expected a value, got "
                                 f"{type(value).__name__}")


def _check_finite_output(prediction: dict[str, np.ndarray]) -> None:
    for name, column in prediction.items():
        if column.dtype.kind == "f" and not np.isfinite(column).all():
            row = int(np.flatnonzero(~np.isfinite(column))[0]) + 1
            raise InferenceError(f"row {row}: the model has no finite {name} for these values; "
                                 f"they are outside what it was trained on")


def _records(rows: list, columns: list[str]) -> list[list]:
    records = []
    for n, row in enumerate(rows, 1):
        if isinstance(row, dict):
            missing = [c for c in columns if c not in row]
            if missing:
                raise InferenceError(f"row {n}: missing column(s) {missing}; the model needs {columns}")
            row = [row[c] for c in columns]
        if not isinstance(row, list):
            raise InferenceError(f"row {n}: expected a list of {len(columns)} values or an object, "
                                 f"got {type(row).__name__}")
        if len(row) != len(columns):
            raise InferenceError(f"row {n}: {len(row)} value(s), the model needs {len(columns)} "
                                 f"({', '.join(columns)})")
        records.append(row)
    return records


def _numbers(cells: np.ndarray, column: str, kind: str | None, model_kind: str) -> np.ndarray:
    """One column as floats (blank = missing; yes/no/true/false for boolean columns)."""
    for row, value in enumerate(cells, 1):
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InferenceError(f"row {row}, column {column!r}: expected a number, got "
                                 f"{type(value).__name__}")
    values = pd.Series(cells, dtype=object)
    blank = values.isna() | (values == "")
    try:
        numbers = pd.to_numeric(values.where(~blank, np.nan), errors="coerce")
    except (TypeError, ValueError, OverflowError):  # an integer too large for a float, ...
        numbers = pd.Series([_float_or_nan(v) for v in values], dtype=float)
    if kind == "boolean":
        words = values.astype(str).str.strip().str.lower()
        numbers = numbers.where(numbers.notna(), words.map({"true": 1.0, "yes": 1.0, "false": 0.0,
                                                            "no": 0.0}))
    bad = numbers.isna() & ~blank
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise InferenceError(f"row {row}, column {column!r}: {values.iloc[row - 1]!r} is not a number")
    if model_kind == "kmeans" and numbers.isna().any():
        row = int(np.flatnonzero(numbers.isna().to_numpy())[0]) + 1
        raise InferenceError(f"row {row}, column {column!r}: a value is required")
    return numbers.astype(float).to_numpy()


def _float_or_nan(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return np.nan


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        hint = " (it looks like UTF-16)" if body[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise InferenceError(f"request body is not UTF-8 text{hint}: byte {error.start} "
                             f"({body[error.start:error.start + 1]!r}) cannot be decoded") from None


def _reject_constant(name: str):
    raise InferenceError(f"{name} is not a number JSON allows; send a finite number, or null "
                         f"for a missing value")


def _json(text: str, where: str):
    # json.loads recurses once per nesting level; too deep a body raises RecursionError, caught here.
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise InferenceError(f"{where}: not valid JSON ({error.msg} at line {error.lineno}, "
                             f"column {error.colno})") from None
    except RecursionError:
        raise InferenceError(f"{where}: JSON nested too deeply") from None


def _tar_has(path: Path, name: str) -> bool:
    import tarfile

    if not path.is_file():
        return False
    with tarfile.open(path, "r:gz") as archive:
        return name in archive.getnames()
