"""A bad-request corpus against the local endpoint over real sockets: content types, malformed CSV
and JSON, non-finite and out-of-domain numbers, encodings, nesting, oversize and lying
Content-Length, unknown endpoints and concurrency. Every client mistake must get a 4xx (never a 5xx
or SageMaker's 424 ModelError), every JSON body must parse with a strict parser (no NaN or
Infinity), nothing may hang, and the server must answer a good request afterwards."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from exported_run import contact_center_model

from rfmkit.monitoring.metrics import ServingMetrics
from rfmkit.segmentation.features import FeatureTransform
from rfmkit.segmentation.model import KMeansSegmenter
from rfmkit.serving.capture import CaptureWriter
from rfmkit.serving.server import LocalEndpointServer

KMEANS_COLUMNS = ["recency_days", "frequency", "monetary"]
TIMEOUT = 20  # seconds: a request slower than this counts as a hang
SEGMENTS_CSV = {"Content-Type": "text/csv"}


def strict_json(text: str):
    def refuse(name):
        raise ValueError(f"invalid JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"recency_days": rng.integers(1, 700, 300), "frequency": rng.integers(1, 4, 300),
                          "monetary": rng.lognormal(4, 1, 300)})
    features = FeatureTransform(KMEANS_COLUMNS)
    kmeans = KMeansSegmenter(k=3, seed=1, features=features).fit(features.fit_transform(frame)).save(folder / "k")
    data, _, churn_path = contact_center_model(folder / "churn", threshold=0.4)
    # instrumented as the kit's backends start it: every answer captured, Prometheus metrics
    with LocalEndpointServer(capture=CaptureWriter(folder / "capture"),
                             metrics=ServingMetrics(folder / "monitoring")) as server:
        server.deploy("segments", kmeans)
        churn = server.deploy("churn", churn_path)
        server.churn_row = data.features[churn.columns].head(1)
        server.churn_columns = churn.columns
        server.churn_kinds = churn.metadata["kinds"]
        yield server


def post(url, body: bytes, headers: dict[str, str], method: str = "POST"):
    request = urllib.request.Request(url, data=body if method == "POST" else None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def churn_csv(endpoint, replace: dict[str, str] | None = None, drop_last: bool = False) -> str:
    row = endpoint.churn_row.astype(object).iloc[0].to_dict()
    values = [str(v) for v in row.values()]
    for column, value in (replace or {}).items():
        values[endpoint.churn_columns.index(column)] = value
    return ",".join(values[:-1] if drop_last else values)


def first_numeric(endpoint) -> str:
    return next(c for c in endpoint.churn_columns if endpoint.churn_kinds.get(c) == "numeric")


def corpus(endpoint) -> list[tuple[str, str, bytes, dict[str, str], str]]:
    """(case, path, body, headers, method)."""
    seg, churn = "/endpoints/segments/invocations", "/endpoints/churn/invocations"
    csv_h, json_h = {"Content-Type": "text/csv"}, {"Content-Type": "application/json"}
    cases = []

    def add(name, path, body, headers=csv_h, method="POST"):
        cases.append((name, path, body if isinstance(body, bytes) else body.encode(), headers, method))

    # content types and Accept
    for ctype in ["text/plain", "application/xml", "image/png", "", "multipart/form-data", "text/csvx",
                  "application/x-www-form-urlencoded", "application/octet-stream", "json", "text/html"]:
        add(f"content type {ctype!r}", seg, "30,1,120.5", {"Content-Type": ctype})
    for accept in ["application/xml", "text/html", "image/png", "application/pdf"]:
        add(f"accept {accept}", seg, "30,1,120.5", {"Content-Type": "text/csv", "Accept": accept})
    # malformed CSV (k-means: 3 numeric columns)
    for body in ["30,1", "30", "30,1,120.5,4", "30,1,120.5,4,5,6,7", "a,b,c", "30,one,120.5", "30,1,",
                 ",,", "\n\n\n", "   ", '"30,1,120.5', "30;1;120.5", "30\t1\t120.5", "30,1,120.5\n1,2",
                 "30,1,1e", "0x1F,1,2", "30,1,120.5,", "--1,1,2", "30,1,12 0"]:
        add(f"segments csv {body!r}", seg, body)
    # non-finite and out-of-domain numbers, in every k-means column
    for bad in ["inf", "-inf", "Infinity", "nan", "NaN", "1e309", "-1e309", "1e308", "1e13", "-1",
                "-120.5", "-1e-9"]:
        for i in range(3):
            values = ["30", "1", "120.5"]
            values[i] = bad
            add(f"segments {KMEANS_COLUMNS[i]}={bad}", seg, ",".join(values))
    add("segments 1e308 everywhere", seg, "1e308,1e308,1e308")
    # malformed JSON
    for body in ["{", "[", "{}", '{"instances": 5}', '{"instances": []}', "[]", '"text"', "null", "true", "42",
                 '{"instances": [[1,2]]}', '{"instances": [{"recency_days": 1}]}', '{"instances": [[[1,2,3]]]}',
                 '{"instances": [[{"x": 1}, 2, 3]]}', '[[30,1,120.5]] trailing', '{"instances": [[NaN,1,2]]}',
                 '{"instances": [[Infinity,1,2]]}', '{"instances": [[-Infinity,1,2]]}',
                 '{"instances": [[1e999,1,2]]}', '{"instances": [[' + "9" * 400 + ',1,2]]}',
                 '{"instances": [[null,1,2]]}', '{"instances": [["",1,2]]}',
                 '{"instances": [[1,2,3]], "extra": ', '{"instances": [1,2,3]}', '{"instances": "30,1,120.5"}',
                 '{"instances": [{"features": [1,2]}]}', "[" * 100_000 + "]" * 100_000,
                 '{"a":' * 5000 + "1" + "}" * 5000,
                 '[{"recency_days": -5, "frequency": 1, "monetary": 3}]']:
        add(f"segments json {body[:40]!r}", seg, body, json_h)
    for body in ["[1,2,3]\n{", "[1,2]", "{}", "[[1,2,3]]", "[NaN,1,2]", "[1e400,1,2]", "null", "[-1,1,2]"]:
        add(f"segments jsonlines {body[:30]!r}", seg, body, {"Content-Type": "application/jsonlines"})
    # encodings
    good = "30,1,120.5"
    for name, body in [("invalid UTF-8", b"\xff\xfe\xfa"), ("UTF-16 LE", good.encode("utf-16")),
                       ("UTF-16 BE", good.encode("utf-16-be")), ("latin-1 e-acute", "30,1,12é".encode("latin-1")),
                       ("NUL bytes", b"30,\x001,120.5"), ("lone continuation byte", b"30,1,\x80"),
                       ("overlong UTF-8", b"\xc0\xaf,1,2"), ("UTF-8 BOM", "\ufeff30,1,120.5".encode()),
                       ("emoji in a number", "30,1,1🙂".encode()), ("surrogate bytes", b"\xed\xa0\x80,1,2")]:
        add(f"segments {name}", seg, body)
        add(f"churn {name}", churn, body)
    # the churn model: wrong counts, text and non-finite numbers in a numeric column, bad JSON rows
    number = first_numeric(endpoint)
    add("churn one column missing", churn, churn_csv(endpoint, drop_last=True))
    add("churn one column too many", churn, churn_csv(endpoint) + ",1")
    for bad in ["hello", "inf", "-inf", "nan", "1e309", "1e308", "-1e13", "0x10", "1,5", "[]"]:
        add(f"churn {number}={bad}", churn, churn_csv(endpoint, {number: bad}))
    for body in ['{"instances": [{"nope": 1}]}', '{"instances": [[1]]}', '{"instances": [{}]}',
                 '{"instances": [[NaN]]}', "[" * 50_000 + "]" * 50_000]:
        add(f"churn json {body[:30]!r}", churn, body, json_h)
    row = endpoint.churn_row.astype(object).iloc[0].to_dict()
    for bad in [float("inf"), 10**400, [1, 2], {"a": 1}, -1e300 * 1e10]:
        instance = {**{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}}
        instance[number] = bad
        text = json.dumps({"instances": [instance]}, allow_nan=True)
        add(f"churn json {number}={str(bad)[:20]}", churn, text, json_h)
    # unknown endpoints, methods and paths
    for path in ["/endpoints/nope/invocations", "/endpoints/%00/invocations",
                 "/endpoints/" + "x" * 3000 + "/invocations",
                 "/endpoints/segments/invocation", "/nope", "/endpoints/segments", "/invocations/extra"]:
        add(f"path {path[:40]}", path, good)
    for method in ["GET", "PUT", "PATCH"]:
        add(f"{method} invocations", seg, good, csv_h, method)
    add("DELETE without the admin token", "/endpoints/segments", b"", {}, "DELETE")
    add("DELETE with a wrong admin token", "/endpoints/segments", b"", {"x-rfmkit-admin": "wrong"}, "DELETE")
    add("DELETE with a non-ASCII admin token", "/endpoints/segments", b"", {"x-rfmkit-admin": "tök"}, "DELETE")
    # oversize bodies (declared honestly)
    add("7 MB CSV", seg, ("30,1,120.5\n" * 700_000))
    add("7 MB JSON", seg, '{"instances": [' + ",".join(["[30,1,120.5]"] * 560_000) + "]}", json_h)
    return cases


def test_the_corpus_has_at_least_150_cases(endpoint):
    assert len(corpus(endpoint)) >= 150


def check_answer(name: str, status: int, body: bytes, media: str) -> list[str]:
    problems = []
    if not 400 <= status < 500:
        problems.append(f"{name}: status {status} ({body[:200]!r})")
    if body and "json" in media:
        try:
            strict_json(body.decode())
        except ValueError as error:
            problems.append(f"{name}: invalid JSON body ({error}): {body[:200]!r}")
    return problems


def test_every_client_mistake_gets_a_4xx_with_valid_json_and_the_server_keeps_serving(endpoint):
    problems = []
    for name, path, body, headers, method in corpus(endpoint):
        status, answer, media = post(endpoint.url + path, body, headers, method)
        problems += check_answer(name, status, answer, media)
        if status == 400 and "json" in media:
            assert strict_json(answer.decode())["message"], name  # says what is wrong
    assert not problems, "\n".join(problems)
    status, answer, _ = post(endpoint.url + "/endpoints/segments/invocations", b"30,1,120.5", SEGMENTS_CSV)
    assert status == 200 and strict_json(answer.decode())["predictions"][0]["closest_cluster"] in (0, 1, 2)
    # the instrumentation counted every mistake as a 4xx, and only under known endpoint names
    from prometheus_client.parser import text_string_to_metric_families

    status, answer, _ = post(endpoint.url + "/metrics", b"", {}, "GET")
    samples = [s for f in text_string_to_metric_families(answer.decode()) for s in f.samples
               if s.name == "rfmkit_requests_total"]
    assert status == 200 and samples
    assert {s.labels["endpoint"] for s in samples} <= {"segments", "churn", "unknown"}
    assert not [s for s in samples if s.labels["status"].startswith("5")]


def test_domain_errors_name_row_and_column(endpoint):
    url = endpoint.url + "/endpoints/segments/invocations"
    status, answer, _ = post(url, b"30,1,120.5\n30,-1,120.5", SEGMENTS_CSV)
    message = strict_json(answer.decode())["message"]
    assert status == 400 and "row 2" in message and "'frequency'" in message and "negative" in message
    status, answer, _ = post(url, b"1e308,1,2", SEGMENTS_CSV)
    assert status == 400 and "'recency_days'" in strict_json(answer.decode())["message"]
    status, answer, _ = post(endpoint.url + "/endpoints/churn/invocations", b"\xff\xfe3\x000\x00",
                             SEGMENTS_CSV)
    assert status == 400 and "UTF-16" in strict_json(answer.decode())["message"]


def raw_request(endpoint, head: bytes, body: bytes = b"", timeout: float = TIMEOUT) -> bytes:
    with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as sock:
        sock.sendall(head + body)
        sock.settimeout(timeout)
        return sock.recv(65536)


@pytest.mark.parametrize("length", ["99999999999999999999", "10000000", "7000000", "1000000000"])
def test_a_lying_content_length_gets_413_without_hanging(endpoint, length):
    head = (f"POST /endpoints/segments/invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()
    answer = raw_request(endpoint, head, b"30,1,120.5\n")
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500 and (status == 413 or length == "99999999999999999999"), answer[:200]


@pytest.mark.parametrize("head", [
    b"POST /endpoints/segments/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /endpoints/segments/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /endpoints/segments/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"POST /endpoints/segments/invocations HTTP/9.9\r\nHost: x\r\n\r\n",
])
def test_broken_http_gets_a_4xx(endpoint, head):
    answer = raw_request(endpoint, head)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]


def test_a_chunked_upload_over_the_limit_is_refused(endpoint):
    chunk = b"30,1,120.5\n" * 100_000
    head = (b"POST /endpoints/segments/invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    body = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(7)) + b"0\r\n\r\n"
    assert raw_request(endpoint, head, body).startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize("length", ["1000", "7000000"])
def test_a_client_that_disconnects_mid_body_leaves_no_traceback(endpoint, length):
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logging.getLogger("uvicorn.error").addHandler(handler)  # where uvicorn reports ASGI exceptions
    with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as sock:
        sock.sendall(b"POST /endpoints/segments/invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     b"Content-Length: " + length.encode() + b"\r\n\r\n30,1,")
    time.sleep(0.5)  # the server notices the disconnect and finishes the request
    status, _, _ = post(endpoint.url + "/endpoints/segments/invocations", b"30,1,120.5", SEGMENTS_CSV)
    logging.getLogger("uvicorn.error").removeHandler(handler)
    assert status == 200
    assert not records, [r.getMessage() for r in records]


def test_concurrent_bad_and_good_requests(endpoint):
    bad = [c for c in corpus(endpoint) if len(c[2]) < 100_000][:60]
    good = [("good", "/endpoints/segments/invocations", b"30,1,120.5", {"Content-Type": "text/csv"}, "POST")] * 60

    def send(case):
        name, path, body, headers, method = case
        return (name, *post(endpoint.url + path, body, headers, method))

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(send, [c for pair in zip(bad, good, strict=False) for c in pair]))
    problems = []
    for name, status, body, media in results:
        if name == "good":
            if status != 200:
                problems.append(f"good request got {status}")
        else:
            problems += check_answer(name, status, body, media)
    assert not problems, "\n".join(problems)
