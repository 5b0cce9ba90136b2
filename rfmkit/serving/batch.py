"""Batch scoring of every customer, in chunks that respect SageMaker's 6 MB request limit.

The same rows go either straight to the model in this process (fast, the default locally) or
through an endpoint with boto3 `invoke_endpoint` (the local server, or a SageMaker endpoint): the
client code is identical for both endpoints. Every input row gets exactly one prediction back;
the count is checked per chunk.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pandas as pd

from rfmkit.serving.inference import CSV, JSON, ServedModel, predict_fn

REQUEST_LIMIT_BYTES = 5 * 1024 * 1024  # under the 6 MB real-time limit, with room for headers


def csv_body(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    return buffer.getvalue().encode()


def chunks(frame: pd.DataFrame, limit_bytes: int = REQUEST_LIMIT_BYTES) -> Iterator[pd.DataFrame]:
    """Consecutive slices whose CSV body stays under `limit_bytes` (measured, then halved if not)."""
    if frame.empty:
        return
    sample = frame.head(1000)
    per_row = max(len(csv_body(sample)) / len(sample), 1.0)
    rows = max(int(limit_bytes / (per_row * 1.25)), 1)
    start = 0
    while start < len(frame):
        piece = frame.iloc[start:start + rows]
        while len(piece) > 1 and len(csv_body(piece)) > limit_bytes:
            piece = piece.iloc[: len(piece) // 2]
        yield piece
        start += len(piece)


class InProcessScorer:
    """predict_fn on the loaded model: what the endpoint would compute, without HTTP."""

    def __init__(self, model: ServedModel):
        self.model = model
        self.columns = model.columns

    def __call__(self, piece: pd.DataFrame) -> pd.DataFrame:
        return predict_fn(piece[self.columns].astype(object).values.tolist(), self.model)


class EndpointScorer:
    """boto3 sagemaker-runtime invoke_endpoint: SageMaker, or the local server via
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME."""

    def __init__(self, endpoint_name: str, columns: list[str], runtime_client=None,
                 region: str | None = None):
        if runtime_client is None:
            import boto3

            runtime_client = boto3.client("sagemaker-runtime", region_name=region)
        self.endpoint_name, self.columns, self.client = endpoint_name, columns, runtime_client

    def __call__(self, piece: pd.DataFrame) -> pd.DataFrame:
        response = self.client.invoke_endpoint(EndpointName=self.endpoint_name, ContentType=CSV,
                                               Accept=JSON, Body=csv_body(piece[self.columns]))
        return pd.DataFrame(json.loads(response["Body"].read())["predictions"])


def score_all(frame: pd.DataFrame, scorer, *, limit_bytes: int = REQUEST_LIMIT_BYTES,
              progress: bool = True, description: str = "scoring") -> pd.DataFrame:
    """Predictions for every row of `frame`, in its order."""
    from tqdm.auto import tqdm

    results = []
    with tqdm(total=len(frame), desc=description, unit="row", disable=not progress) as bar:
        for piece in chunks(frame, limit_bytes):
            predicted = scorer(piece)
            if len(predicted) != len(piece):
                raise RuntimeError(f"{description}: sent {len(piece):,} rows, got "
                                   f"{len(predicted):,} predictions back")
            results.append(predicted)
            bar.update(len(piece))
    if not results:
        return pd.DataFrame()
    return pd.concat(results, ignore_index=True)
