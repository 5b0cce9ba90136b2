"""Monitoring: request capture in SageMaker's format, ground truth by id, drift per window with
too-small windows refused, reports, Prometheus metrics, the monitor command, retraining once."""

import json
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from exported_run import contact_center_model
from prometheus_client.parser import text_string_to_metric_families

from rfmkit.monitoring import ground_truth, replay
from rfmkit.monitoring.actions import ActionLog
from rfmkit.monitoring.checks import Sources, check, model_metadata
from rfmkit.monitoring.drift import DriftError, DriftSettings, Profile, compare
from rfmkit.monitoring.metrics import ServingMetrics
from rfmkit.monitoring.monitor import MonitorSettings, Reference, windows
from rfmkit.paths import PROJECT_ROOT
from rfmkit.serving.capture import CaptureError, CaptureWriter, read_events
from rfmkit.serving.inference import model_fn
from rfmkit.serving.operations import runtime_client_for
from rfmkit.serving.server import LocalEndpointServer


# -- a parser written against SageMaker's documented data-capture format -------------------------
def parse_documented(line: str) -> dict:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html:
    captureData.endpointInput / endpointOutput, each with observedContentType, mode, data and
    encoding (CSV, JSON or BASE64); eventMetadata with eventId, inferenceTime (and inferenceId when
    the caller sent one); eventVersion "0"."""
    record = json.loads(line)
    assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
    assert record["eventVersion"] == "0"
    for side, mode in (("endpointInput", "INPUT"), ("endpointOutput", "OUTPUT")):
        item = record["captureData"][side]
        assert set(item) == {"observedContentType", "mode", "data", "encoding"}
        assert item["mode"] == mode and item["encoding"] in ("CSV", "JSON", "BASE64")
    metadata = record["eventMetadata"]
    assert {"eventId", "inferenceTime"} <= set(metadata) <= {"eventId", "inferenceTime", "inferenceId"}
    datetime.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%S.%fZ")  # ISO 8601, UTC, milliseconds
    return record


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    data, parts, path = contact_center_model(folder, threshold=0.4)
    model = model_fn(path)
    reference = parts.x_train.reset_index(drop=True).copy()
    reference["churn_probability"] = model.predict(parts.x_train)["churn_probability"].to_numpy()
    reference["__label__"] = parts.y_train.to_numpy()
    reference.to_parquet(folder / "reference.parquet")
    return model, path, folder / "reference.parquet", parts


@pytest.fixture
def capturing_server(tmp_path, churn):
    model, path, _, _ = churn
    capture = CaptureWriter(tmp_path / "capture", percent=100)
    with LocalEndpointServer(capture=capture, metrics=ServingMetrics(tmp_path / "monitoring")) as server:
        server.deploy("churn-production", path)
        yield server, tmp_path


def test_every_answered_invocation_is_captured_in_sagemakers_documented_format(capturing_server, churn):
    server, folder = capturing_server
    model, _, _, parts = churn
    runtime = runtime_client_for(server.url)
    body = parts.x_test[model.columns].head(3).to_csv(header=False, index=False).encode()
    answer = runtime.invoke_endpoint(EndpointName="churn-production", ContentType="text/csv",
                                     Accept="application/json", Body=body, InferenceId="call-42")
    answer["Body"].read()
    with pytest.raises(runtime.exceptions.ClientError):  # a refused request is not captured
        runtime.invoke_endpoint(EndpointName="churn-production", ContentType="text/csv", Body=b"1,2")
    files = list((folder / "capture" / "churn-production" / "AllTraffic").rglob("*.jsonl"))
    assert len(files) == 1
    [line] = files[0].read_text().splitlines()
    record = parse_documented(line)
    served_at = datetime.strptime(record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert files[0].relative_to(folder / "capture").parts[2:6] == tuple(
        served_at.strftime("%Y/%m/%d/%H").split("/"))  # yyyy/mm/dd/hh of the request, as SageMaker lays it out
    assert record["captureData"]["endpointInput"]["data"] == body.decode()
    assert record["captureData"]["endpointInput"]["encoding"] == "CSV"
    assert json.loads(record["captureData"]["endpointOutput"]["data"])["predictions"][0]["churn_probability"] >= 0
    assert record["eventMetadata"]["inferenceId"] == "call-42"
    events = read_events(folder / "capture")
    assert list(events["inference_id"]) == ["call-42"] and list(events["endpoint"]) == ["churn-production"]


def test_the_sampling_percentage_is_applied_and_checked(tmp_path):
    half = CaptureWriter(tmp_path, percent=50, seed=1)
    captured = sum(half.record("e", "1", "text/csv", "0.5", "text/csv") is not None for _ in range(400))
    assert 150 < captured < 250
    assert CaptureWriter(tmp_path / "none", percent=0).record("e", "1", "text/csv", "0", "text/csv") is None
    with pytest.raises(CaptureError, match="capture_percent=120"):
        CaptureWriter(tmp_path, percent=120)


def test_binary_bodies_are_kept_as_base64_and_a_broken_record_names_its_file_and_line(tmp_path):
    writer = CaptureWriter(tmp_path, seed=0)
    writer.record("e", b"\x00\xff", "application/x-npy", "[]", "application/json")
    writer.close()
    [path] = list(tmp_path.rglob("*.jsonl"))
    assert parse_documented(path.read_text())["captureData"]["endpointInput"]["encoding"] == "BASE64"
    path.write_text(path.read_text() + '{"captureData": {}}\n')
    with pytest.raises(CaptureError, match=r"\.jsonl, line 2: not a SageMaker data-capture record"):
        read_events(tmp_path)


def test_the_same_reader_reads_capture_from_s3():
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="kit", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        from rfmkit.serving.capture import capture_line

        text = capture_line("1,2", "text/csv", '{"predictions": [{"churn_probability": 0.2}]}',
                            "application/json", event_id="e-1", inference_id=None,
                            when=datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
        key = "rfmkit/run/capture/churn/AllTraffic/2026/12/03/10/00-00-000-x.jsonl"
        s3.put_object(Bucket="kit", Key=key, Body=text.encode())
        from rfmkit.storage import S3Storage

        events = read_events("s3://kit/rfmkit/run/capture", storage=S3Storage("kit", client=s3))
        assert list(events["event_id"]) == ["e-1"]
        assert list(events["endpoint"]) == ["churn"] and events["time"][0].hour == 10


# -- drift --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def population():
    rng = np.random.default_rng(7)
    n = 6000
    frame = pd.DataFrame({"minutes": rng.gamma(4, 40, n), "calls": rng.poisson(3, n).astype(float),
                          "plan": rng.choice(["basic", "plus", "max"], n, p=[0.6, 0.3, 0.1]),
                          "state": rng.choice([f"S{i}" for i in range(30)], n)})
    kinds = {"minutes": "numeric", "calls": "numeric", "plan": "categorical", "state": "categorical"}
    return frame.iloc[:3000].reset_index(drop=True), frame.iloc[3000:].reset_index(drop=True), kinds


def test_a_planted_shift_in_one_column_is_found_and_named(population):
    reference, fresh, kinds = population
    window = fresh.sample(500, random_state=1).copy()
    window["minutes"] += 0.5 * reference["minutes"].std()
    result = compare(reference, window, kinds)
    assert result.drift and [c.column for c in result.drifted] == ["minutes"]
    minutes = result.drifted[0]
    assert minutes.test == "Kolmogorov-Smirnov" and minutes.p_value < 1e-6 and minutes.distance > 0.4
    summary = json.loads(json.dumps(result.to_dict(), allow_nan=False))  # valid JSON: no NaN
    assert summary["drifted"] == ["minutes"] and "Bonferroni" in summary["method"]


def test_a_shift_in_a_category_mix_is_found_with_chi_square_and_jensen_shannon(population):
    reference, fresh, kinds = population
    window = fresh.sample(500, random_state=2).copy()
    window.loc[window.index[:150], "plan"] = "max"
    plan = next(c for c in compare(reference, window, kinds).columns if c.column == "plan")
    assert plan.drifted and plan.test == "chi-square" and plan.measure == "Jensen-Shannon"


def test_windows_resampled_from_the_same_population_are_not_flagged(population):
    reference, fresh, kinds = population
    profile = Profile(reference, kinds)
    rng = np.random.default_rng(11)
    flagged = [profile.compare(fresh.iloc[rng.choice(len(fresh), 500, replace=False)]).drift
               for _ in range(60)]
    assert sum(flagged) == 0


def test_the_ks_test_and_wasserstein_distance_agree_exactly_with_scipys():
    from scipy import stats

    from rfmkit.monitoring.drift import ks_p_value, ks_statistic_and_wasserstein

    rng = np.random.default_rng(3)
    samples = [(rng.normal(size=3750), rng.normal(0.2, 1.1, size=500)),     # continuous
               (rng.poisson(3, 3000).astype(float), rng.poisson(3.4, 400).astype(float)),  # ties
               (rng.gamma(2, 5, 1000), rng.gamma(2, 5, 1000)),              # same sizes
               (np.r_[np.zeros(900), np.ones(100)], np.r_[np.zeros(150), np.ones(350)])]  # D near 1
    for reference, current in samples:
        statistic, wasserstein = ks_statistic_and_wasserstein(np.sort(reference), np.sort(current))
        expected = stats.ks_2samp(reference, current, method="asymp")
        assert statistic == float(expected.statistic)
        assert ks_p_value(statistic, len(reference), len(current)) == float(expected.pvalue)
        assert wasserstein == float(stats.wasserstein_distance(reference, current))


def test_counting_drifted_windows_gives_what_the_full_comparison_gives(population):
    reference, fresh, kinds = population
    profile, rng = Profile(reference, kinds), np.random.default_rng(5)
    answers = []
    for shift in (0.0, 0.15, 0.3, 0.6):  # from no drift to drift in every window
        for _ in range(15):
            window = fresh.iloc[rng.choice(len(fresh), 400, replace=False)].copy()
            window["minutes"] += shift * reference["minutes"].std()
            window.loc[window.index[:int(shift * 200)], "plan"] = "max"
            answers.append((profile.drifts(window), profile.compare(window).drift))
    assert [fast for fast, _ in answers] == [full for _, full in answers]
    assert 0 < sum(full for _, full in answers) < len(answers)  # both answers occur


def test_a_window_too_small_to_judge_is_refused_not_flagged(population):
    reference, fresh, kinds = population
    shifted = fresh.head(50).assign(minutes=lambda f: f["minutes"] * 10)
    result = compare(reference, shifted, kinds, DriftSettings(min_rows=200))
    assert not result.judged and not result.drift and "fewer than min_rows=200" in result.reason
    with pytest.raises(DriftError, match="min_rows=10"):
        DriftSettings(min_rows=10)
    with pytest.raises(DriftError, match="alpha=2"):
        DriftSettings(alpha=2)
    with pytest.raises(DriftError, match="window_rows=100 is below min_rows=200"):
        MonitorSettings(window_rows=100)
    with pytest.raises(DriftError, match="no column"):
        compare(reference, fresh.drop(columns="plan"), kinds)


def test_row_windows_wait_for_traffic_unless_the_data_is_final(population):
    _, fresh, _ = population
    rows = fresh.head(1200)
    settings = MonitorSettings(window_rows=500)
    live = windows(rows, "e", settings)
    assert [len(w.rows) for w in live] == [500, 500, 200] and [w.complete for w in live] == [True, True, False]
    assert windows(rows, "e", settings, final=True)[-1].complete


# -- ground truth and quality --------------------------------------------------------------------
def test_ground_truth_joins_on_the_inference_id_else_the_event_id(tmp_path):
    ground_truth.write(tmp_path, {"call-1": [1, 0], "event-b": [1]})
    truth = ground_truth.read(tmp_path)
    served = pd.DataFrame({"event_id": ["event-a", "event-a", "event-b", "event-c"],
                           "inference_id": ["call-1", "call-1", None, None], "row": [0, 1, 0, 0]})
    joined = ground_truth.join(served, truth)
    assert joined["label"].tolist()[:3] == [1, 0, 1] and pd.isna(joined["label"].iloc[3])
    with pytest.raises(CaptureError, match="labels are 1"):
        ground_truth.write(tmp_path, {"x": [2]})


# -- the check end to end: capture → windows → reports → action ----------------------------------
def serve_traffic(server, model, parts, *, shift: float = 0.0, rows: int = 1000):
    runtime = runtime_client_for(server.url)
    holdout = parts.x_test[model.columns].reset_index(drop=True)
    plan = replay.plan(holdout, parts.y_test.reset_index(drop=True), parts.x_train,
                       rows=rows, drift_column="Day_Mins", shift=shift, seed=3)
    return replay.send(runtime, "churn-production", plan, rows_per_request=20)


def test_the_check_writes_reports_and_acts_once_per_alarm(capturing_server, churn):
    server, folder = capturing_server
    model, path, reference_path, parts = churn
    sent = serve_traffic(server, model, parts, shift=1.0, rows=1000)
    assert replay.record_outcomes(folder / "groundtruth", sent) == 1000
    sources = Sources(folder, capture=str(folder / "capture"), ground_truth=str(folder / "groundtruth"),
                      reference=str(reference_path), model=str(path))
    calls = []
    result = check(sources, "churn-production", MonitorSettings(window_rows=500),
                   on_alarm=lambda window, labelled, log: calls.append((window, len(labelled))))
    assert result.windows["judged"].tolist() == [True, True]
    assert result.windows["drift"].tolist() == [False, True]
    assert "Day_Mins" in result.windows["drifted"].iloc[1]
    assert len(calls) == 1 and calls[0][1] == 1000  # every served row with its outcome
    summary = json.loads((folder / "monitoring" / "reports" / f"{result.windows['window'].iloc[1]}.json").read_text())
    assert summary["performance"]["labelled"] == 500 and 0.5 < summary["performance"]["roc_auc"] <= 1
    page = result.index.read_text()
    assert "alarm" in page and '<script src="plotly.min.js">' in page
    assert (result.index.parent / "plotly.min.js").stat().st_size > 1_000_000  # offline: no CDN
    again = check(sources, "churn-production", MonitorSettings(window_rows=500),
                  on_alarm=lambda *args: calls.append(args))
    assert len(calls) == 1 and again.alarms == 1  # acted on once
    assert ActionLog(folder / "monitoring").handled() == {result.windows["window"].iloc[1]}


def test_metrics_are_prometheus_text_with_counts_latency_and_the_last_drift(capturing_server, churn):
    server, folder = capturing_server
    model, path, reference_path, parts = churn
    import httpx

    replay.record_outcomes(folder / "groundtruth", serve_traffic(server, model, parts, shift=1.0, rows=1000))
    httpx.post(f"{server.url}/endpoints/churn-production/invocations", content=b"x",
               headers={"content-type": "text/csv"})
    httpx.post(f"{server.url}/endpoints/made-up-{np.random.randint(1e9)}/invocations", content=b"1",
               headers={"content-type": "text/csv"})
    sources = Sources(folder, reference=str(reference_path), model=str(path))
    check(sources, "churn-production", MonitorSettings(window_rows=500))
    answer = httpx.get(f"{server.url}/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    requests = {(s.labels["endpoint"], s.labels["status"]): s.value
                for s in families["rfmkit_requests"].samples if s.name == "rfmkit_requests_total"}
    assert requests[("churn-production", "200")] == 50 and requests[("churn-production", "400")] == 1
    assert requests[("unknown", "400")] == 1  # a made-up endpoint name is not a new label
    count = next(s.value for s in families["rfmkit_request_seconds"].samples
                 if s.name == "rfmkit_request_seconds_count" and s.labels["endpoint"] == "churn-production")
    assert count == 51
    detected = next(s for s in families["rfmkit_drift_detected"].samples)
    assert detected.labels == {"endpoint": "churn-production"} and detected.value == 1.0
    distances = {s.labels["feature"]: s.value for s in families["rfmkit_feature_drift_distance"].samples}
    assert distances["Day_Mins"] > 0.5 > distances["Night_Mins"]
    # the shipped Grafana dashboard asks only for series this endpoint serves
    import re

    dashboard = json.loads((PROJECT_ROOT / "docs" / "grafana" / "rfmkit-monitoring.json").read_text())
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"rfmkit_[a-z_]+", target["expr"])}
    served = {sample.name for family in families.values() for sample in family.samples}
    assert len(asked) >= 7 and asked <= served, asked - served


def test_the_monitor_command_finds_drift_planted_in_a_file_of_rows(tmp_path, churn):
    """What a user with their own data runs: a reference file, a current file, the documented
    parameters; the planted column is named, the exit status says alarm with --fail-on-alarm."""
    model, path, reference_path, parts = churn
    holdout = parts.x_test.reset_index(drop=True)
    current = pd.concat([holdout.iloc[:300], holdout.iloc[300:].assign(Eve_Mins=lambda f: f["Eve_Mins"] * 1.25)])
    current.to_csv(tmp_path / "current.csv", index=False)
    parts.x_train.to_csv(tmp_path / "reference.csv", index=False)
    run = subprocess.run([sys.executable, "-m", "rfmkit", "monitor", "--run-dir", str(tmp_path),
                          "--reference", str(tmp_path / "reference.csv"), "--current", str(tmp_path / "current.csv"),
                          "--model", str(path), "--window-rows", "300", "--min-rows", "200", "--fail-on-alarm"],
                         capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert run.returncode == 3, run.stderr
    assert "Eve_Mins" in run.stdout and "current-0000" in run.stdout
    summaries = [json.loads(p.read_text()) for p in sorted((tmp_path / "monitoring" / "reports").glob("*.json"))]
    # 1,250 rows: windows of 300 (the first before the drift) and a last one of 50, not judged
    assert [s["judged"] for s in summaries] == [True, True, True, True, False]
    assert [s["drifted"][:1] for s in summaries] == [[], ["Eve_Mins"], ["Eve_Mins"], ["Eve_Mins"], []]
    assert "fewer than min_rows=200" in summaries[-1]["reason"] and not summaries[-1]["alarm"]
    bad = subprocess.run([sys.executable, "-m", "rfmkit", "monitor", "--run-dir", str(tmp_path),
                          "--reference", str(tmp_path / "reference.csv"), "--current", str(tmp_path / "current.csv"),
                          "--window-rows", "100"], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert bad.returncode == 2 and "window_rows=100 is below min_rows=200" in bad.stderr


def test_the_shipped_csv_as_it_is_shows_no_drift_until_one_is_planted(tmp_path, churn):
    """Raw rows (yes/no words, True/False outcomes, extra columns) through the documented command:
    quiet as they are; a planted shift in the second half is found and named."""
    from rfmkit.churn.datasets import CONTACT_CENTER_CSV

    model, path, reference_path, _ = churn
    raw = pd.read_csv(CONTACT_CENTER_CSV)
    command = [sys.executable, "-m", "rfmkit", "monitor", "--run-dir", str(tmp_path), "--reference",
               str(reference_path), "--model", str(path), "--label-column", "Churn", "--window-rows", "1000"]
    quiet = subprocess.run([*command, "--current", str(CONTACT_CENTER_CSV)], capture_output=True, text=True,
                           cwd=PROJECT_ROOT, timeout=600)
    assert quiet.returncode == 0 and "5 judged, 0 alarm(s)" in quiet.stdout, quiet.stdout + quiet.stderr
    planted = raw.copy()
    planted.loc[2500:, "CustServ_Calls"] = planted.loc[2500:, "CustServ_Calls"] + 1
    planted.to_csv(tmp_path / "planted.csv", index=False)
    found = subprocess.run([*command, "--current", str(tmp_path / "planted.csv")], capture_output=True,
                           text=True, cwd=PROJECT_ROOT, timeout=600)
    windows = found.stdout.splitlines()
    assert "5 judged, 3 alarm(s)" in found.stdout, found.stdout + found.stderr
    assert [("CustServ_Calls" in line) for line in windows if line.startswith("planted-")] == \
        [False, False, True, True, True]
    labelled = json.loads((tmp_path / "monitoring" / "reports" / "planted-0004.json").read_text())["performance"]
    assert labelled["labelled"] == 1000 and labelled["roc_auc"] > 0.8


def test_the_reference_kinds_and_column_order_come_from_the_model(churn):
    model, path, reference_path, _ = churn
    metadata = model_metadata(path)
    reference = Reference.load(reference_path, metadata["kinds"], metadata["columns"])
    assert reference.columns == model.columns  # CSV requests arrive in this order
    assert reference.judged_kinds()["churn_probability"] == "numeric"
    assert reference.kinds["State"] == "categorical"


def test_two_files_and_no_model_judge_the_columns_they_share_leaving_out_ids_and_the_outcome(tmp_path):
    rng = np.random.default_rng(1)
    n = 4000
    rows = pd.DataFrame({"customerID": [f"C{i:06d}" for i in range(n)], "tenure": rng.integers(0, 72, n),
                         "MonthlyCharges": rng.normal(65, 30, n).round(2),
                         "Contract": rng.choice(["Month-to-month", "One year", "Two year"], n),
                         "Churn": rng.choice(["Yes", "No"], n, p=[0.27, 0.73])})
    rows.iloc[:2000].assign(extra=1.0).to_csv(tmp_path / "reference.csv", index=False)
    current = rows.iloc[2000:].copy()
    current.loc[current.index[1000:], "MonthlyCharges"] *= 1.2
    current.to_csv(tmp_path / "current.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "rfmkit", "monitor", "--run-dir", str(tmp_path / "new-folder"),
                           "--reference", str(tmp_path / "reference.csv"), "--current", str(tmp_path / "current.csv"),
                           "--label-column", "Churn"], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "left out: extra" in done.stdout and "4 judged, 2 alarm(s)" in done.stdout
    summary = json.loads((tmp_path / "new-folder" / "monitoring" / "reports" / "current-0003.json").read_text())
    assert summary["drifted"] == ["MonthlyCharges"]
    assert {c["column"] for c in summary["columns"]} == {"tenure", "MonthlyCharges", "Contract"}


def test_the_reports_render_offline_in_chromium(capturing_server, churn, tmp_path):
    """The index and a drifted window's page, opened from disk in Debian's chromium with no network:
    plotly (loaded from the reports folder) draws every chart, the verdict and the table are there."""
    from test_dashboard import CHROMIUM, chromium, console_errors

    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does it as root)")
    server, folder = capturing_server
    model, path, reference_path, parts = churn
    serve_traffic(server, model, parts, shift=1.0, rows=1000)
    result = check(Sources(folder, reference=str(reference_path), model=str(path)), "churn-production",
                   MonitorSettings(window_rows=500))
    drifted = result.index.parent / f"{result.windows['window'].iloc[1]}.html"
    page = chromium(drifted.as_uri(), tmp_path, "--dump-dom")
    assert 'id="verdict">alarm<' in page.stdout and "Day_Mins" in page.stdout, page.stderr[-2000:]
    assert page.stdout.count('class="main-svg"') >= 6 and not console_errors(page.stderr)
    index = chromium(result.index.as_uri(), tmp_path, "--dump-dom")
    assert index.stdout.count('<a href="churn-production-') == 2 and 'class="main-svg"' in index.stdout
    assert not console_errors(index.stderr)


def test_a_candidate_is_staged_on_a_server_running_in_another_process_through_its_admin_api(tmp_path, churn):
    """`rfmkit monitor --retrain` runs apart from the notebook that serves: it finds the server's
    record in the run folder and puts the candidate on staging with the record's admin token."""
    import secrets

    from rfmkit.churn.registry import Registered
    from rfmkit.monitoring.local import LocalMonitoring
    from rfmkit.serving.operations import record_server

    _, path, _, _ = churn

    class Registry:  # the registry's one call the stager makes
        name = "rfmkit-churn-contact_center"

        def download(self, version, folder):
            return path

    with LocalEndpointServer(admin_token=secrets.token_urlsafe(16)) as server:
        record_server(tmp_path, server)
        stage = LocalMonitoring(tmp_path).stager(Registry(), "churn-staging")
        said = stage(Registered("rfmkit-churn-contact_center", "7", 0.9, True))
        assert "serves version 7" in said and server.endpoints.get("churn-staging").kind == "churn"
        import httpx

        refused = httpx.put(f"{server.url}/endpoints/churn-staging", json={"model": str(path)})
        assert refused.status_code == 403  # without the token
    assert LocalMonitoring(tmp_path / "elsewhere").stager(Registry(), "churn-staging") is None


def test_every_checks_then_waits_and_ctrl_c_stops_it_cleanly(tmp_path, churn):
    import signal
    import time

    _, path, reference_path, parts = churn
    parts.x_test.to_csv(tmp_path / "rows.csv", index=False)
    process = subprocess.Popen([sys.executable, "-m", "rfmkit", "monitor", "--run-dir", str(tmp_path),
                                "--reference", str(reference_path), "--model", str(path),
                                "--current", str(tmp_path / "rows.csv"), "--every", "3h"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT,
                               # as from a terminal: a suite started in the background (CI) passes
                               # SIGINT on ignored, and Python then installs no Ctrl-C handler
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "judged" in line and "alarm(s)" in line:
            break
    time.sleep(0.5)  # into the wait for the next check
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 0
    assert any("0 */3 * * *" in line for line in seen)  # the equivalent cron line
