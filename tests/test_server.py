"""The local endpoint over real sockets on 127.0.0.1: good requests, every bad request followed by
a good one, unchanged boto3 invoke_endpoint code, concurrent requests during model swaps."""

import json
import threading
import urllib.error
import urllib.request

import boto3
import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from rfmkit.segmentation.features import FeatureTransform
from rfmkit.segmentation.model import KMeansSegmenter
from rfmkit.serving.server import LocalEndpointServer

COLUMNS = ["recency_days", "frequency", "monetary"]


def train(k, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"recency_days": rng.integers(1, 700, 400), "frequency": rng.integers(1, 4, 400),
                          "monetary": rng.lognormal(4, 1, 400)})
    features = FeatureTransform(COLUMNS)
    return KMeansSegmenter(k=k, seed=seed, features=features).fit(features.fit_transform(frame))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    three, four = train(3, 1).save(folder / "k3"), train(4, 2).save(folder / "k4")
    with LocalEndpointServer() as running:
        running.deploy("staging", three)
        running.deploy("production", three)
        running.models = {"k3": three, "k4": four}
        yield running


def post(url, body, content_type="text/csv", accept="application/json"):
    request = urllib.request.Request(url, data=body if isinstance(body, bytes) else body.encode(),
                                     headers={"Content-Type": content_type, "Accept": accept}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), response.headers.get("Content-Type")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers.get("Content-Type")


GOOD = "30,1,120.5\n400,2,80\n"


def test_ping_and_both_invocation_paths(server):
    assert server.host == "127.0.0.1"
    with urllib.request.urlopen(f"{server.url}/ping", timeout=5) as response:
        assert response.status == 200
    for path in ("/invocations", "/endpoints/production/invocations"):
        status, body, media = post(server.url + path, GOOD)
        assert status == 200 and media.startswith("application/json")
        predictions = json.loads(body)["predictions"]
        assert len(predictions) == 2 and set(predictions[0]) == {"closest_cluster", "distance_to_cluster"}
    status, body, media = post(server.url + "/endpoints/staging/invocations", GOOD, accept="text/csv")
    assert status == 200 and media.startswith("text/csv") and len(body.splitlines()) == 2


@pytest.mark.parametrize("path, body, content_type, status, message", [
    ("/endpoints/production/invocations", "", "text/csv", 400, "empty request body"),
    ("/endpoints/production/invocations", "1,2\n", "text/csv", 400, "needs 3"),
    ("/endpoints/production/invocations", "1,two,3\n", "text/csv", 400, "'two' is not a number"),
    ("/endpoints/production/invocations", "1,2,3", "application/pdf", 415, "unsupported content type"),
    ("/endpoints/production/invocations", "{oops", "application/json", 400, "not valid JSON"),
    ("/endpoints/nope/invocations", GOOD, "text/csv", 400, "Endpoint nope not found"),
    ("/endpoints/production/invocations", "1,2,3\n" * 1_200_000, "text/csv", 413, "6 MB limit"),
])
def test_every_bad_request_is_4xx_and_the_server_keeps_serving(server, path, body, content_type, status, message):
    got, text, _ = post(server.url + path, body, content_type)
    assert got == status and message in json.loads(text)["message"]
    assert post(server.url + "/endpoints/production/invocations", GOOD)[0] == 200


def test_unchanged_boto3_code_reaches_the_local_endpoint(server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server.url)
    runtime = boto3.client("sagemaker-runtime", region_name="eu-west-1",
                           aws_access_key_id="local", aws_secret_access_key="local")
    response = runtime.invoke_endpoint(EndpointName="production", ContentType="text/csv",
                                       Accept="application/json", Body=GOOD)
    assert len(json.loads(response["Body"].read())["predictions"]) == 2
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName="production", ContentType="text/csv", Body="1,2\n")
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert "needs 3" in info.value.response["Error"]["Message"]


def test_swaps_under_load_lose_no_request(server):
    results, failures = [], []

    def client():
        for _ in range(40):
            status, body, _ = post(server.url + "/endpoints/staging/invocations", GOOD)
            (results if status == 200 else failures).append(body)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):  # promote and roll back while requests are in flight
        server.deploy("staging", server.models["k4" if i % 2 == 0 else "k3"])
    for t in threads:
        t.join()
    assert not failures and len(results) == 160
    clusters = {p["closest_cluster"] for body in results for p in json.loads(body)["predictions"]}
    assert clusters <= {0, 1, 2, 3}


def test_cli_serve_starts_answers_and_stops_on_sigterm(server, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from rfmkit.paths import PROJECT_ROOT

    process = subprocess.Popen([sys.executable, "-m", "rfmkit", "serve", "--model", f"segments={server.models['k3']}",
                                "--port", "0"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert "endpoint segments: kmeans model" in lines[0] and "serving on http://127.0.0.1:" in lines[1]
        url = lines[1].split("serving on ")[1].split(" ")[0]
        assert post(url + "/endpoints/segments/invocations", GOOD)[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    assert process.returncode == 0 and "stopped" in process.stdout.read()
    bad = subprocess.run([sys.executable, "-m", "rfmkit", "serve", "--model", f"x={tmp_path}"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "neither a k-means" in bad.stderr


class OpenMPProbe:
    """A churn 'model' that records how many OpenMP threads it may use where it runs."""

    def __init__(self):
        self.seen = []

    def predict_proba(self, frame):
        from threadpoolctl import threadpool_info

        self.seen += [p["num_threads"] for p in threadpool_info() if p["internal_api"] == "openmp"]
        return np.column_stack([np.full(len(frame), 0.8), np.full(len(frame), 0.2)])


def test_requests_compute_with_one_openmp_thread_and_leave_the_callers_setting(server):
    """An OpenMP team left behind by the server thread made the notebook's own training 5× slower."""
    from threadpoolctl import threadpool_info

    from rfmkit.serving.inference import ServedModel

    before = [p["num_threads"] for p in threadpool_info() if p["internal_api"] == "openmp"]
    if not before:
        pytest.skip("no OpenMP runtime loaded in this process")
    probe = OpenMPProbe()
    server.deploy("probe", ServedModel("churn", ["a", "b"], probe, {"kinds": {}, "threshold": 0.5}))
    try:
        request = urllib.request.Request(f"{server.url}/endpoints/probe/invocations", data=b"1,2\n3,4\n",
                                         headers={"Content-Type": "text/csv"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["predictions"][0]["churn_probability"] == 0.2
    finally:
        server.endpoints.remove("probe")
    assert probe.seen and set(probe.seen) == {1}
    assert [p["num_threads"] for p in threadpool_info() if p["internal_api"] == "openmp"] == before
