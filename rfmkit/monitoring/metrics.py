"""Prometheus metrics for the local endpoint (`GET /metrics`), with the standard client library.

* `rfmkit_requests_total{endpoint, model, status}`: invocations by HTTP status;
* `rfmkit_request_seconds{endpoint, model}`: a latency histogram (buckets around the 10 ms target);
* `rfmkit_rows_scored_total{endpoint, model}` and `rfmkit_captured_requests_total{endpoint}`;
* the last judged drift window per endpoint as gauges (`rfmkit_drift_*`, `rfmkit_window_*`), read
  from the monitor's `monitoring/latest.json` at each scrape, because the monitor usually runs in
  another process (cron, `python -m rfmkit monitor`).

Each server owns its CollectorRegistry, so two servers in one process never share counts.
"""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LATEST_FILE = "latest.json"


class ServingMetrics:
    def __init__(self, monitoring_dir: str | Path | None = None):
        self.registry = CollectorRegistry()
        self.requests = Counter("rfmkit_requests", "Invocations by endpoint, model and HTTP status",
                                ["endpoint", "model", "status"], registry=self.registry)
        self.latency = Histogram("rfmkit_request_seconds", "Time from request to response, seconds",
                                 ["endpoint", "model"], buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.rows = Counter("rfmkit_rows_scored", "Rows scored by endpoint and model",
                            ["endpoint", "model"], registry=self.registry)
        self.captured = Counter("rfmkit_captured_requests", "Invocations written to request capture",
                                ["endpoint"], registry=self.registry)
        if monitoring_dir is not None:
            self.registry.register(DriftCollector(Path(monitoring_dir)))

    def observe(self, endpoint: str, model: str, status: int, seconds: float, rows: int = 0,
                captured: bool = False) -> None:
        self.requests.labels(endpoint, model, str(status)).inc()
        self.latency.labels(endpoint, model).observe(seconds)
        if rows:
            self.rows.labels(endpoint, model).inc(rows)
        if captured:
            self.captured.labels(endpoint).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class DriftCollector:
    """Gauges from the newest judged window of each endpoint (monitoring/latest.json)."""

    def __init__(self, monitoring_dir: Path):
        self.path = monitoring_dir / LATEST_FILE

    def describe(self):
        return []  # the families depend on the file: collected at scrape time only

    def collect(self):
        try:
            latest = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        gauges = {
            "detected": GaugeMetricFamily("rfmkit_drift_detected",
                                          "1 when the last judged window drifted from the reference",
                                          labels=["endpoint"]),
            "drifted": GaugeMetricFamily("rfmkit_drifted_features",
                                         "Columns that drifted in the last judged window",
                                         labels=["endpoint"]),
            "distance": GaugeMetricFamily("rfmkit_feature_drift_distance",
                                          "Drift distance per column in the last judged window "
                                          "(normed Wasserstein or Jensen-Shannon)",
                                          labels=["endpoint", "feature", "measure"]),
            "p_value": GaugeMetricFamily("rfmkit_feature_drift_p_value",
                                         "Test p-value per column in the last judged window",
                                         labels=["endpoint", "feature", "test"]),
            "rows": GaugeMetricFamily("rfmkit_window_rows", "Rows in the last judged window",
                                      labels=["endpoint"]),
            "end": GaugeMetricFamily("rfmkit_window_end_timestamp_seconds",
                                     "When the last judged window ended (Unix time)",
                                     labels=["endpoint"]),
            "auc": GaugeMetricFamily("rfmkit_window_roc_auc",
                                     "ROC-AUC on the labelled rows of the newest window with labels",
                                     labels=["endpoint"]),
        }
        for endpoint, summary in sorted(latest.items()):
            gauges["detected"].add_metric([endpoint], float(bool(summary.get("drift"))))
            gauges["drifted"].add_metric([endpoint], float(len(summary.get("drifted", []))))
            gauges["rows"].add_metric([endpoint], float(summary.get("rows", 0)))
            if summary.get("end_epoch") is not None:
                gauges["end"].add_metric([endpoint], float(summary["end_epoch"]))
            for column in summary.get("columns", []):
                if column.get("distance") is not None:
                    gauges["distance"].add_metric([endpoint, column["column"], column["measure"]],
                                                  float(column["distance"]))
                if column.get("p_value") is not None:
                    gauges["p_value"].add_metric([endpoint, column["column"], column["test"]],
                                                 float(column["p_value"]))
            auc = (summary.get("performance") or {}).get("roc_auc")
            if auc is not None:
                gauges["auc"].add_metric([endpoint], float(auc))
        yield from gauges.values()
