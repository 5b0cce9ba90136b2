"""Batch scoring: chunks under the request limit, every row scored once, and the same answers in
process and through the local endpoint with boto3."""

import numpy as np
import pandas as pd
import pytest

from rfmkit.segmentation.features import FeatureTransform
from rfmkit.segmentation.model import KMeansSegmenter
from rfmkit.serving.batch import EndpointScorer, InProcessScorer, chunks, csv_body, score_all
from rfmkit.serving.inference import model_fn
from rfmkit.serving.server import LocalEndpointServer


@pytest.fixture(scope="module")
def customers_and_model(tmp_path_factory):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(5000)],
                          "recency_days": rng.integers(1, 700, 5000), "frequency": rng.integers(1, 4, 5000),
                          "monetary": rng.lognormal(4, 1, 5000).round(2)})
    columns = ["recency_days", "frequency", "monetary"]
    features = FeatureTransform(columns)
    model = KMeansSegmenter(k=4, seed=3, features=features).fit(features.fit_transform(frame))
    return frame, model, model.save(tmp_path_factory.mktemp("m"))


def test_chunks_stay_under_the_limit_and_cover_every_row(customers_and_model):
    frame = customers_and_model[0]
    pieces = list(chunks(frame, limit_bytes=20_000))
    assert len(pieces) > 5 and sum(len(p) for p in pieces) == len(frame)
    assert all(len(csv_body(p)) <= 20_000 for p in pieces)
    assert pd.concat(pieces).index.equals(frame.index)  # in order, nothing twice
    assert list(chunks(frame.head(0))) == []


def test_in_process_and_endpoint_give_the_same_scores(customers_and_model, monkeypatch):
    import boto3

    frame, model, path = customers_and_model
    expected = model.predict_frame(frame)
    local = score_all(frame, InProcessScorer(model_fn(path)), limit_bytes=50_000, progress=False)
    pd.testing.assert_frame_equal(local, expected, check_dtype=False)
    with LocalEndpointServer() as server:
        server.deploy("segments", path)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server.url)
        runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1",
                               aws_access_key_id="local", aws_secret_access_key="local")
        remote = score_all(frame, EndpointScorer("segments", model.features.columns, runtime),
                           limit_bytes=50_000, progress=False)
    pd.testing.assert_frame_equal(remote, expected, check_dtype=False)


def test_a_short_answer_is_an_error(customers_and_model):
    frame = customers_and_model[0]
    with pytest.raises(RuntimeError, match="sent 5,000 rows, got 1 predictions back"):
        score_all(frame, lambda piece: pd.DataFrame({"x": [1]}), progress=False)
