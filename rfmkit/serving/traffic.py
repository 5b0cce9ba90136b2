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
