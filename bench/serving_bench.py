"""Serving benchmark: the local endpoint (`python -m rfmkit serve`, its own process) under a load
generator on loopback, against the in-process predict in the same run; and batch scoring of
100k customers in process, through the endpoint, and the bare-model baseline.

Latency is measured open-loop: request i is due at t0 + i/rate and its latency runs from that due
time to the answer, so a slow server cannot hide queueing by slowing the generator down.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bench.report import machine, write_section

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bench:serving:begin -->", "<!-- bench:serving:end -->"
CSV = "text/csv"


# -- models -----------------------------------------------------------------------------------
def build_models(folder: Path) -> dict[str, tuple[Path, pd.DataFrame]]:
    """The two kit models as the notebooks save them, with rows each one accepts."""
    from rfmkit.churn import artifact, training
    from rfmkit.churn.datasets import contact_center
    from rfmkit.segmentation.features import FeatureTransform
    from rfmkit.segmentation.model import KMeansSegmenter

    data = contact_center()
    parts = training.split(data, seed=42)
    # Calibrated, as notebook 04 registers and serves it.
    tuned = training.tune("gradient_boosting", data, parts, budget=2, folds=3, seed=42)
    churn = training.calibrate(tuned, parts, folds=3, seed=42).pipeline
    churn_path = artifact.save(churn, {"columns": list(parts.x_train.columns), "kinds": data.kinds,
                                       "threshold": 0.5}, folder / "churn")
    rng = np.random.default_rng(42)
    rfm = pd.DataFrame({"recency_days": rng.integers(1, 700, 100_000),
                        "frequency": rng.geometric(0.8, 100_000),
                        "monetary": rng.lognormal(4.5, 0.9, 100_000).round(2)})
    features = FeatureTransform(list(rfm.columns))
    kmeans = KMeansSegmenter(k=5, seed=42, features=features).fit(features.fit_transform(rfm))
    kmeans_path = kmeans.save(folder / "kmeans")
    return {"churn": (churn_path, data.features[list(parts.x_train.columns)]),
            "segments": (kmeans_path, rfm)}


def resample(rows: pd.DataFrame, n: int, seed: int = 42) -> pd.DataFrame:
    return rows.sample(n, replace=True, random_state=seed).reset_index(drop=True)


# -- the server ---------------------------------------------------------------------------------
def start_server(models: dict[str, tuple[Path, pd.DataFrame]], capture_dir: Path | None = None
                 ) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "rfmkit", "serve", "--port", str(port)]
    if capture_dir is not None:  # every invocation captured, as notebook 10's endpoint does
        command += ["--capture-dir", str(capture_dir)]
    for name, (path, _) in models.items():
        command += ["--model", f"{name}={path}"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {process.stderr.read().decode()[-2000:]}")


# -- load generation ----------------------------------------------------------------------------
# aiohttp on uvloop: about 0.3 ms of client CPU per request where httpx's async client took over
# 1 ms, so on two cores shared with the server the generator itself stays on time at 200/s.
def run_async(coroutine):
    import uvloop

    return uvloop.run(coroutine)


async def _steady(url: str, body: bytes, rate: float, seconds: float
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    import aiohttp

    total = int(rate * seconds)
    latencies, lags, errors = np.full(total, np.nan), np.full(total, np.nan), 0
    headers = {"Content-Type": CSV}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as client:
        async def one(i: int, due: float) -> None:
            nonlocal errors
            lags[i] = (time.perf_counter() - due) * 1000  # the generator's own delay
            async with client.post(url, data=body, headers=headers) as response:
                await response.read()
            latencies[i] = (time.perf_counter() - due) * 1000
            errors += response.status != 200

        for _ in range(20):  # warm the connections
            async with client.post(url, data=body, headers=headers) as response:
                await response.read()
        start, tasks = time.perf_counter(), []
        for i in range(total):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
    return latencies, lags, errors


async def _closed(url: str, body: bytes, concurrency: int, seconds: float) -> tuple[int, int]:
    import aiohttp

    done, errors = 0, 0
    headers = {"Content-Type": CSV}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < stop:
                async with client.post(url, data=body, headers=headers) as response:
                    await response.read()
                done += 1
                errors += response.status != 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, errors


def percentiles(milliseconds: np.ndarray) -> dict[str, float]:
    return {"p50": float(np.percentile(milliseconds, 50)), "p99": float(np.percentile(milliseconds, 99)),
            "max": float(np.max(milliseconds)), "requests": int(len(milliseconds))}


def median_ms(action, repeat: int = 20) -> float:
    action()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


# -- the run ------------------------------------------------------------------------------------
def run(*, rate: float = 200.0, seconds: float = 10.0, batch_sizes: tuple[int, ...] = (100_000, 1_000_000),
        repeat: int = 3) -> dict:
    import os

    import boto3

    results: dict = {"seconds": seconds, "repeat": repeat, "models": {}, "batch": {}}
    with tempfile.TemporaryDirectory(prefix="rfmkit-serving-bench-") as folder:
        models = build_models(Path(folder))
        process, url = start_server(models)
        os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = url
        runtime = boto3.Session(region_name="us-east-1", aws_access_key_id="local",
                                aws_secret_access_key="local").client("sagemaker-runtime")
        try:
            for name, (path, rows) in models.items():
                results["models"][name] = measure_model(f"{url}/endpoints/{name}/invocations", path, rows,
                                                        rate=rate, seconds=seconds, repeat=repeat)
            for customers in batch_sizes:
                runs = repeat if customers <= 100_000 else 1
                results["batch"][customers] = {
                    name: batch_one(name, path, resample(rows, customers), runtime, runs)
                    for name, (path, rows) in models.items()}
            results["server_peak_mb"] = peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=15)
        results["capture"] = measure_capture(models["churn"], Path(folder) / "capture", rate=rate,
                                             seconds=seconds, repeat=repeat)
    write_report(results)
    return results


def measure_capture(churn: tuple[Path, pd.DataFrame], folder: Path, *, rate: float, seconds: float,
                    repeat: int) -> dict:
    """The churn model again, on a server that captures every invocation (100 %) to disk."""
    process, url = start_server({"churn": churn}, capture_dir=folder)
    try:
        measured = measure_model(f"{url}/endpoints/churn/invocations", *churn, rate=rate, seconds=seconds,
                                 repeat=repeat)
    finally:
        process.terminate()
        process.wait(timeout=15)
    measured["captured"] = sum(len(p.read_text().splitlines()) for p in folder.rglob("*.jsonl"))
    return measured


def peak_rss_mb(pid: int) -> float:
    """A live process's peak resident memory (VmHWM), read from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def measure_model(endpoint: str, path: Path, rows: pd.DataFrame, *, rate: float, seconds: float,
                  repeat: int) -> dict:
    """Sequential and steady-rate single-row latency, closed-loop throughput, and a 1,000-row CSV
    over HTTP against the same contract called in process. Steady-rate runs are repeated and the
    median p50/p99 reported with the spread of p99: on two shared cores the tail varies."""
    import httpx

    from rfmkit.serving.batch import csv_body
    from rfmkit.serving.inference import input_fn, model_fn, output_fn, predict_fn

    single, thousand = csv_body(rows.head(1)), csv_body(resample(rows, 1000))
    loaded = model_fn(path)
    measured: dict = {"errors": 0}
    with httpx.Client(timeout=30) as client:
        def post(body: bytes) -> None:
            client.post(endpoint, content=body, headers={"Content-Type": CSV}).raise_for_status()

        measured["sequential"] = percentiles(np.array([median_ms(lambda: post(single), 1)
                                                       for _ in range(300)]))
        measured["http_1000_ms"] = median_ms(lambda: post(thousand))
    for load in sorted({rate / 2, rate}):
        runs = []
        for _ in range(repeat):
            latencies, lags, errors = run_async(_steady(endpoint, single, load, seconds))
            runs.append({**percentiles(latencies), "generator_lag_p99": float(np.percentile(lags, 99))})
            measured["errors"] += errors
        measured[f"{load:.0f}/s"] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        measured[f"{load:.0f}/s"]["p99_range"] = (min(r["p99"] for r in runs), max(r["p99"] for r in runs))
    done, errors = run_async(_closed(endpoint, single, 4, 5.0))
    measured["errors"] += errors
    measured["throughput"] = done / 5.0
    measured["in_process_1000_ms"] = median_ms(lambda: output_fn(predict_fn(input_fn(thousand, CSV), loaded),
                                                                 None))
    measured["in_process_1_ms"] = median_ms(lambda: output_fn(predict_fn(input_fn(single, CSV), loaded), None),
                                            300)
    print(f"{endpoint.rsplit('/', 2)[-2]}: "
          + "; ".join(f"{k} p50 {v['p50']:.1f} / p99 {v['p99']:.1f} ms"
                      for k, v in measured.items() if isinstance(v, dict) and "p50" in v)
          + f"; {measured['throughput']:.0f} req/s closed-loop; 1,000 rows {measured['http_1000_ms']:.0f} ms "
            f"over HTTP vs {measured['in_process_1000_ms']:.0f} ms in process", flush=True)
    return measured


def batch_one(name: str, path: Path, frame: pd.DataFrame, runtime, repeat: int) -> dict[str, float]:
    """Every customer scored: bare model on the whole frame (baseline), the kit's chunked
    in-process path, and chunked requests through the endpoint with boto3 (medians of `repeat`)."""
    from rfmkit.serving.batch import EndpointScorer, InProcessScorer, score_all
    from rfmkit.serving.inference import model_fn

    loaded = model_fn(path)
    if loaded.kind == "churn":
        def bare():
            return loaded.model.predict_proba(frame)
    else:
        def bare():
            return loaded.model.predict_frame(frame)
    timings = {}
    for label, action in (("bare model", bare),
                          ("in process (chunked)",
                           lambda: score_all(frame, InProcessScorer(loaded), progress=False)),
                          ("local endpoint (boto3, chunked)",
                           lambda: score_all(frame, EndpointScorer(name, loaded.columns, runtime),
                                             progress=False))):
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            action()
            runs.append(time.perf_counter() - started)
        timings[label] = statistics.median(runs)
    print(f"batch {name} {len(frame):,}: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()),
          flush=True)
    return timings


def write_report(results: dict) -> None:
    loads = [k for k in next(iter(results["models"].values())) if k.endswith("/s")]
    versions = machine("scikit-learn", "treelite", "fastapi", "uvicorn", "uvloop", "httptools")
    lines = [f"Measured {date.today()} on {versions}. The server "
             f"is `python -m rfmkit serve` (one uvicorn worker) in its own process; the load generator "
             f"(aiohttp on uvloop) runs beside it on the same 2 cores. *Sequential*: one request at a time "
             f"(300). *At N/s*: open-loop at a steady rate for {results['seconds']:.0f} s, latency measured "
             f"from each request's due time, so queueing counts; medians of {results['repeat']} runs, "
             f"with the range of p99 over the runs and how late the generator itself sent its requests "
             f"(its p99 lag: when it is large, the client, not the server, was short of CPU). "
             f"Churn = the gradient-boosting pipeline (impute, scale, one-hot, 24 columns); "
             f"segments = k-means (k = 5, 3 columns). "
             f"Server peak memory (both models loaded, after every case below): "
             f"{results['server_peak_mb']:,.0f} MB.", "",
             "| model | in process, 1 row | sequential p50 / p99 | "
             + " | ".join(f"at {k} p50 / p99 (p99 range; generator lag)" for k in loads)
             + " | errors | throughput (4 clients) | 1,000-row CSV over HTTP | same in process | ratio |",
             "|---|---:|---:|" + "---:|" * len(loads) + "---:|---:|---:|---:|---:|"]
    for name, m in results["models"].items():
        cells = [f"{m['sequential']['p50']:.1f} / {m['sequential']['p99']:.1f} ms"]
        cells += [f"{m[k]['p50']:.1f} / {m[k]['p99']:.1f} ms ({m[k]['p99_range'][0]:.1f}–"
                  f"{m[k]['p99_range'][1]:.1f}; generator lag p99 {m[k]['generator_lag_p99']:.1f})"
                  for k in loads]
        lines.append(f"| {name} | {m['in_process_1_ms']:.1f} ms | " + " | ".join(cells)
                     + f" | {m['errors']} | {m['throughput']:.0f} req/s | {m['http_1000_ms']:.0f} ms | "
                     f"{m['in_process_1000_ms']:.0f} ms | {m['http_1000_ms'] / m['in_process_1000_ms']:.2f}× |")
    off, on = results["models"]["churn"], results.get("capture")
    if on:
        lines += ["", f"Request capture (SageMaker's data-capture format, 100 % of invocations, "
                      f"{on['captured']:,} records written): the churn model on a server that captures "
                      f"against the run above without capture. Same load, measured after it:", "",
                  "| churn model | sequential p50 / p99 | "
                  + " | ".join(f"at {k} p50 / p99" for k in loads) + " | throughput (4 clients) |",
                  "|---|---:|" + "---:|" * len(loads) + "---:|"]
        for label, m in (("capture off", off), ("capture on (100 %)", on)):
            lines.append(f"| {label} | {m['sequential']['p50']:.1f} / {m['sequential']['p99']:.1f} ms | "
                         + " | ".join(f"{m[k]['p50']:.1f} / {m[k]['p99']:.1f} ms" for k in loads)
                         + f" | {m['throughput']:.0f} req/s |")
    lines += ["", "Batch scoring of every customer (seconds, medians; chunks stay under the 6 MB request "
                  "limit). The baseline is the bare model on the whole frame in one call; the ratios are "
                  "the kit's paths over it:", "",
              "| customers | model | bare model (baseline) | in process, chunked | ratio | "
              "local endpoint via boto3 | ratio | runs |",
              "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for customers, by_model in results["batch"].items():
        runs = results["repeat"] if customers <= 100_000 else 1
        for name, t in by_model.items():
            bare = t["bare model"]
            lines.append(f"| {customers:,} | {name} | {bare:.2f} | {t['in process (chunked)']:.2f} | "
                         f"{t['in process (chunked)'] / bare:.1f}× | "
                         f"{t['local endpoint (boto3, chunked)']:.2f} | "
                         f"{t['local endpoint (boto3, chunked)'] / bare:.1f}× | {runs} |")
    write_section(BEGIN, END, "Endpoint and batch scoring", lines)
