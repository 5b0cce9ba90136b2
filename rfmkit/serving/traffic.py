"""Requests against an endpoint from the notebook: sequential latency, and steady background
traffic that shows a model swap losing no request. Both use boto3 invoke_endpoint, so they measure
what a client sees (for the local server: HTTP on loopback plus botocore's own overhead)."""

from __future__ import annotations

import threading
import time

import numpy as np

from rfmkit.serving.inference import CSV, JSON


def invoke(runtime, endpoint: str, body: bytes) -> bytes:
    return runtime.invoke_endpoint(EndpointName=endpoint, ContentType=CSV, Accept=JSON,
                                   Body=body)["Body"].read()


def measure(runtime, endpoint: str, body: bytes, n: int, warmup: int = 3) -> np.ndarray:
    """Milliseconds for each of `n` sequential requests (after `warmup` unmeasured ones)."""
    for _ in range(warmup):
        invoke(runtime, endpoint, body)
    timings = np.empty(n)
    for i in range(n):
        started = time.perf_counter()
        invoke(runtime, endpoint, body)
        timings[i] = (time.perf_counter() - started) * 1000
    return timings


class Traffic:
    """`with Traffic(runtime, endpoint, body, rate=50):` sends requests at about `rate` per second
    in a background thread; afterwards `sent`, `ok` and `failures` (the error messages)."""

    def __init__(self, runtime, endpoint: str, body: bytes, rate: float = 50.0):
        self.runtime, self.endpoint, self.body, self.interval = runtime, endpoint, body, 1.0 / rate
        self.sent, self.ok, self.failures = 0, 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rfmkit-traffic", daemon=True)

    def _run(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            self.sent += 1
            try:
                invoke(self.runtime, self.endpoint, self.body)
                self.ok += 1
            except Exception as exc:  # noqa: BLE001 - every failure is the measurement
                self.failures.append(str(exc))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.perf_counter()))

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def __str__(self) -> str:
        return f"{self.sent:,} requests during the switch: {self.ok:,} answered, {len(self.failures)} failed"


def bad_requests(runtime, endpoint: str, rows, model) -> list[tuple[str, str]]:
    """Three broken requests (a missing column, text in a number column, an empty body) and what
    the endpoint answered each; a good request must still work afterwards (raises if not)."""
    from botocore.exceptions import ClientError

    from rfmkit.serving.batch import csv_body

    number = next(c for c in model.columns if model.metadata["kinds"].get(c) == "numeric")
    broken = rows.head(1).astype(object)
    broken[number] = "hello"
    cases = {"a column missing": csv_body(rows.iloc[:, :-1]),
             f"text in the number column {number}": csv_body(broken), "an empty body": b""}
    answers = []
    for problem, body in cases.items():
        try:
            runtime.invoke_endpoint(EndpointName=endpoint, ContentType=CSV, Body=body)
            answers.append((problem, "accepted (it should not be)"))
        except ClientError as error:
            answers.append((problem, f"{error.response['Error']['Code']}: "
                                     f"{error.response['Error']['Message']}"))
    answers.append(("and a good request", invoke(runtime, endpoint, csv_body(rows.head(1))).decode()))
    return answers


def latency(runtime, endpoint: str, model, sample, *, requests: int, seed: int) -> dict:
    """Single-row round trips (ms each), a 1,000-row CSV over HTTP, and the same 1,000 rows in
    this process without HTTP (medians of 5): what a client sees against the model's own cost."""
    from rfmkit.serving.batch import InProcessScorer, csv_body

    one_row = csv_body(sample[model.columns].head(1))
    single = measure(runtime, endpoint, one_row, n=int(requests))
    thousand = sample[model.columns].sample(1000, replace=True, random_state=seed)
    over_http = float(np.median(measure(runtime, endpoint, csv_body(thousand), n=5, warmup=1)))
    direct = []
    scorer = InProcessScorer(model)
    for _ in range(5):
        started = time.perf_counter()
        scorer(thousand)
        direct.append((time.perf_counter() - started) * 1000)
    in_process = float(np.median(direct))
    return {"single_ms": single, "thousand_http_ms": over_http, "thousand_in_process_ms": in_process,
            "text": (f"Single row: p50 **{np.percentile(single, 50):.1f} ms**, p99 "
                     f"**{np.percentile(single, 99):.1f} ms**. 1,000 rows: **{over_http:.0f} ms** over "
                     f"HTTP vs **{in_process:.0f} ms** in process ({over_http / in_process:.1f}×).")}
