"""The inference contract (model_fn/input_fn/predict_fn/output_fn) for both models and every
content type, and every malformed request turned into a 4xx with a message."""

import json

import numpy as np
import pandas as pd
import pytest

from rfmkit.churn import artifact, training
from rfmkit.churn.datasets import contact_center
from rfmkit.segmentation.features import FeatureTransform
from rfmkit.segmentation.model import KMeansSegmenter
from rfmkit.serving.inference import InferenceError, input_fn, model_fn, output_fn, predict_fn


@pytest.fixture(scope="module")
def kmeans(tmp_path_factory):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"recency_days": rng.integers(1, 700, 500), "frequency": rng.integers(1, 4, 500),
                          "monetary": rng.lognormal(4, 1, 500)})
    features = FeatureTransform(list(frame.columns))
    model = KMeansSegmenter(k=3, seed=1, features=features).fit(features.fit_transform(frame))
    return model_fn(model.save(tmp_path_factory.mktemp("kmeans"))), model, frame


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    data = contact_center()
    parts = training.split(data, seed=1)
    candidate = training.tune("logistic_regression", data, parts, budget=1, folds=3, seed=1)
    metadata = {"columns": list(parts.x_train.columns), "kinds": data.kinds, "threshold": 0.3}
    folder = tmp_path_factory.mktemp("churn")
    artifact.write_dir(candidate.pipeline, metadata, folder)
    return model_fn(folder), candidate.pipeline, parts.x_test.head(5)


def test_kmeans_answers_like_sagemaker_in_every_format(kmeans):
    served, model, frame = kmeans
    rows = frame.head(3)
    expected = model.predict_frame(rows)
    csv_body = rows.to_csv(index=False, header=False)
    json_body = json.dumps({"instances": rows.to_numpy().tolist()})
    lines_body = "".join(json.dumps(r) + "\n" for r in rows.to_dict("records"))
    for body, content_type in ((csv_body, "text/csv"), (json_body, "application/json"),
                               (lines_body, "application/jsonlines; charset=utf-8")):
        prediction = predict_fn(input_fn(body.encode(), content_type), served)
        pd.testing.assert_frame_equal(prediction, expected, check_dtype=False)
    text, media = output_fn(expected, "application/json")
    assert media == "application/json"
    first = json.loads(text)["predictions"][0]
    assert set(first) == {"closest_cluster", "distance_to_cluster"} and isinstance(first["closest_cluster"], int)
    csv_out, _ = output_fn(expected, "text/csv")
    assert csv_out.splitlines()[0] == f"{expected.iloc[0, 0]},{expected.iloc[0, 1]}"  # cluster,distance
    assert len(output_fn(expected, "application/jsonlines")[0].splitlines()) == 3


def test_churn_answers_with_probability_and_label(churn):
    served, pipeline, rows = churn
    probability = pipeline.predict_proba(rows)[:, 1]
    body = json.dumps({"instances": json.loads(rows.to_json(orient="records"))})
    prediction = predict_fn(input_fn(body, "application/json"), served)
    np.testing.assert_allclose(prediction["churn_probability"], probability)
    assert list(prediction["churn_label"]) == list((probability >= 0.3).astype(int))
    csv_body = rows.astype(object).to_csv(index=False, header=False)  # State stays text, plans 0/1
    np.testing.assert_allclose(predict_fn(input_fn(csv_body, "text/csv"), served)["churn_probability"], probability)


@pytest.mark.parametrize("body, content_type, status, message", [
    (b"", "text/csv", 400, "empty request body"),
    (b"1,2", "text/csv", 400, r"row 1: 2 value\(s\), the model needs 3"),
    (b"1,abc,3", "text/csv", 400, r"row 1, column 'frequency': 'abc' is not a number"),
    (b"1,2,3", "application/xml", 415, "unsupported content type 'application/xml'"),
    (b"{not json", "application/json", 400, "body: not valid JSON"),
    (b'{"rows": []}', "application/json", 400, "must be"),
    (b'[{"recency_days": 1, "frequency": 2}]', "application/json", 400, r"missing column\(s\) \['monetary'\]"),
    (b'[1, 2, 3]\n{"a"', "application/jsonlines", 400, "line 2: not valid JSON"),
    (b"1,,3", "text/csv", 400, "column 'frequency': a value is required"),
    (b"x" * (6 * 1024 * 1024 + 1), "text/csv", 413, "over the 6 MB limit"),
])
def test_bad_requests_are_4xx_with_a_reason(kmeans, body, content_type, status, message):
    served, _, _ = kmeans
    with pytest.raises(InferenceError, match=message) as info:
        predict_fn(input_fn(body, content_type), served)
    assert info.value.status == status


def test_unknown_accept_is_406(kmeans):
    served, model, frame = kmeans
    with pytest.raises(InferenceError, match="unsupported Accept") as info:
        output_fn(model.predict_frame(frame.head(1)), "image/png")
    assert info.value.status == 406


def test_model_fn_names_what_it_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a k-means"):
        model_fn(tmp_path)
