"""The local backend: everything offline, in the run folder and the workspace (runs/)."""

from __future__ import annotations

import secrets
from pathlib import Path

from rfmkit.config import RunConfig


class LocalBackend:
    """DuckDB, local files, scikit-learn, MLflow, a local HTTP endpoint, an HTML dashboard."""

    name = "local"
    batch_routes = ("in-process", "endpoint")

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg

    @classmethod
    def environment_checks(cls) -> list[dict[str, object]]:
        return []  # the package checks in environment.report are all the local backend needs

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "run folder": str(self.cfg.run_dir),
                "seed": str(self.cfg.seed), "warehouse": f"DuckDB file {self.cfg.warehouse_path}"}

    def provision(self, *, stack_name: str = "", deploy_stack: bool = False,
                  stack_prefix: str = "rfmkit", progress=print) -> str:
        return f"local backend: nothing to create; the warehouse will be {self.cfg.warehouse_path}"

    def warehouse(self):
        from rfmkit.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(self.cfg.warehouse_path)

    def storage(self):
        from rfmkit.storage import LocalStorage

        return LocalStorage(self.cfg.run_dir)

    def registry(self, model_name: str, tracking_uri: str = ""):
        """The workspace's MLflow registry (runs/mlflow.db unless tracking_uri says otherwise)."""
        from rfmkit import tracking
        from rfmkit.churn.registry import MlflowRegistry

        tracking.use_store(self.cfg, tracking_uri)
        return MlflowRegistry(model_name)

    def segment_trainer(self, *, instance_type: str = "ml.m5.large"):
        from rfmkit.segmentation import LocalKMeansTrainer

        return LocalKMeansTrainer()

    def churn_trainer(self, *, instance_type: str = "ml.m5.large"):
        from rfmkit.churn.experiment import LocalChurnTrainer

        return LocalChurnTrainer()

    def serving(self, *, instance_type: str = "ml.m5.large", port: int = 0,
                capture_percent: float = 100.0):
        """A started local server on 127.0.0.1, noted in the run folder (notebook 99 finds it),
        capturing `capture_percent` % of invocations into the run folder's capture/ and serving
        Prometheus metrics at /metrics."""
        from rfmkit.monitoring.metrics import ServingMetrics
        from rfmkit.serving.capture import CaptureWriter
        from rfmkit.serving.operations import record_server
        from rfmkit.serving.server import LocalEndpointServer

        capture = CaptureWriter(self.capture_uri(), percent=capture_percent, seed=self.cfg.seed)
        metrics = ServingMetrics(self.cfg.run_dir / "monitoring")
        server = LocalEndpointServer(port=port, admin_token=secrets.token_urlsafe(24),
                                     capture=capture, metrics=metrics).start()
        record_server(self.cfg.run_dir, server)
        return server

    def capture_uri(self) -> str:
        """Where served requests are captured (SageMaker's data-capture layout)."""
        from rfmkit.serving.capture import CAPTURE_FOLDER

        return str(self.cfg.run_dir / CAPTURE_FOLDER)

    def deployer(self, serving, registry):
        from rfmkit.serving.deploy import LocalDeployer, stage_endpoints

        return LocalDeployer(serving, registry, stage_endpoints(registry.name))

    def runtime_client(self, serving):
        """boto3's sagemaker-runtime client, pointed at the local server."""
        from rfmkit.serving.operations import runtime_client_for

        return runtime_client_for(serving.url, self.cfg.aws.region)

    def batch_scorer(self, serving, runtime=None):
        from rfmkit.serving.operations import BatchScorer

        return BatchScorer(self.batch_routes, serving, runtime)

    def exporter(self):
        from rfmkit.exports import LocalExporter

        return LocalExporter(self.cfg.exports_dir)

    def notifier(self, *, smtp_host: str = "", smtp_port: int = 25):
        """E-mail through `smtp_host` when given, else through a mail sink the kit starts on
        127.0.0.1 that keeps every message in the run folder (mail/); close() stops it."""
        from rfmkit.alerts.notify import MailSink, SmtpNotifier

        if smtp_host:
            return SmtpNotifier(smtp_host, int(smtp_port))
        sink = MailSink(self.cfg.run_dir / "mail")
        return SmtpNotifier(sink.host, sink.port, sink=sink)

    def contact_center(self):
        """Profiles, contacts, prompts and online features in SQLite files in the run folder; the
        API and the agent's page on 127.0.0.1 once deployed."""
        from rfmkit.contact_center.local import LocalContactCenter

        return LocalContactCenter(self.cfg.run_dir)

    def monitoring(self):
        """Capture and ground truth in the run folder; checks by `python -m rfmkit monitor`."""
        from rfmkit.monitoring.local import LocalMonitoring

        return LocalMonitoring(self.cfg.run_dir, backend=self)

    def stream(self):
        """The kit's Kinesis-API server on 127.0.0.1 (started by prepare()) and SQLite checkpoints."""
        from rfmkit.streaming.service import LocalStream

        return LocalStream(self.cfg.run_dir)

    def publish_dashboards(self, warehouse, manifests: dict[str, Path], *, user: str = "",
                           enabled: bool = True) -> str:
        """Nothing to publish offline: how to take the manifests to QuickSight by hand."""
        base = self.exporter().base_uri(_manifest_base(manifests))
        folder = next(iter(manifests.values())).parent if manifests else self.cfg.run_dir / "manifests"
        return "\n".join([
            f"To use these in QuickSight, copy the exports and manifests to S3 (manifests point at {base}):",
            f"  aws s3 cp {self.cfg.exports_dir} {base}/ --recursive",
            f"  aws s3 cp {folder} {base.rsplit('/', 1)[0]}/manifests/ --recursive",
            "then create an S3 data source on each manifest, or run this notebook with backend='aws'."])

    def cleanup(self, *, remove_run_folder: bool = False, quicksight: bool = True,
                delete_stack: bool = False, progress=print):
        """Stop this run's local endpoints (and delete the run folder if asked)."""
        from rfmkit import cleanup

        return cleanup.local(self.cfg, remove_run_folder=remove_run_folder, progress=progress)


def _manifest_base(manifests: dict[str, Path]) -> str:
    """The s3:// folder the written manifests point at (so the instructions match them)."""
    import json

    for path in manifests.values():
        uri = json.loads(Path(path).read_text())["fileLocations"][0]["URIs"][0]
        return uri.rsplit("/", 1)[0]
    return ""
