"""The AWS backend: Redshift, S3, SageMaker, QuickSight, CloudFormation (boto3 and sagemaker are
imported lazily, inside the methods that need them)."""

from __future__ import annotations

from pathlib import Path

from rfmkit.config import AwsSettings, ConfigError, RunConfig


class AwsBackend:
    """One boto3 session per backend object (pass `boto_session` to share one, e.g. in tests)."""

    name = "aws"
    batch_routes = ("transform", "endpoint")

    def __init__(self, cfg: RunConfig, *, boto_session=None):
        self.cfg = cfg
        self._session = boto_session

    @property
    def session(self):
        from rfmkit.sagemaker_jobs import boto_session_for

        self._session = boto_session_for(self.cfg, self._session)
        return self._session

    @classmethod
    def environment_checks(cls) -> list[dict[str, object]]:
        """Credentials and region, looked up locally (no network call is made here)."""
        import boto3

        from rfmkit.environment import row

        session = boto3.Session()
        credentials = session.get_credentials()
        return [
            row("AWS credentials", credentials.method if credentials else "none",
                credentials is not None,
                "configure credentials: `aws configure`, `aws sso login`, AWS_PROFILE, or an "
                "instance/notebook role"),
            row("AWS region", session.region_name or "none", bool(session.region_name),
                "set AWS_REGION / AWS_DEFAULT_REGION, run `aws configure`, or pass -p region=..."),
        ]

    def describe(self) -> dict[str, str]:
        aws = self.cfg.aws
        target = aws.workgroup or aws.cluster_id or aws.host or "(not set)"
        return {"backend": self.name, "run folder": str(self.cfg.run_dir), "seed": str(self.cfg.seed),
                "warehouse": f"Redshift {target} / database {aws.database}",
                "storage": f"s3://{aws.bucket}/{aws.prefix}" if aws.bucket else "(bucket not set)"}

    def provision(self, *, stack_name: str = "", deploy_stack: bool = False,
                  stack_prefix: str = "rfmkit", progress=print) -> str:
        """Read (or first create/update) the workshop stack and save its outputs as this run's
        AWS settings, so later notebooks find them."""
        from rfmkit import cloudformation
        from rfmkit.paths import PROJECT_ROOT

        if not stack_name:
            raise ConfigError("parameter stack_name: name the workshop CloudFormation stack "
                              "(docs/AWS.md)")
        region = self.cfg.aws.region
        if deploy_stack:  # about 10 minutes, printing the stack's events as they happen
            template = (PROJECT_ROOT / "cloudformation" / "rfmkit-workshop.yaml").read_text()
            outputs = cloudformation.deploy(stack_name, template, {"Prefix": stack_prefix},
                                            region=region, progress=progress)
        else:
            outputs = cloudformation.stack_outputs(stack_name, region=region)
        values = {k: v for k, v in vars(self.cfg.aws).items() if v is not None}
        values.update(cloudformation.settings_from_outputs(outputs, stack_name))
        self.cfg.aws = AwsSettings.from_dict(values)
        return f"saved {self.cfg.save_aws_settings()}"

    def warehouse(self):
        from rfmkit.warehouse.redshift import connect_redshift

        return connect_redshift(self.cfg, storage=self.storage() if self.cfg.aws.bucket else None)

    def storage(self):
        from rfmkit.storage import S3Storage

        if not self.cfg.aws.bucket:
            raise ConfigError("backend='aws' needs the bucket setting for storage (notebook 00)")
        return S3Storage.from_session(self.session, self.cfg.aws.bucket, self.cfg.aws.prefix)

    def registry(self, model_name: str, tracking_uri: str = ""):
        """A SageMaker model package group (MLflow still tracks the runs: tracking_uri)."""
        from rfmkit.churn.registry import SageMakerRegistry
        from rfmkit.churn.sagemaker_training import serving_image

        return SageMakerRegistry(model_name, self.session.client("sagemaker"),
                                 storage=self.storage() if self.cfg.aws.bucket else None,
                                 image=lambda: serving_image(self.cfg.aws.region))

    def segment_trainer(self, *, instance_type: str = "ml.m5.large"):
        from rfmkit.segmentation.sagemaker_kmeans import SageMakerKMeansTrainer

        return SageMakerKMeansTrainer(self.cfg, instance_type=instance_type,
                                      boto_session=self.session)

    def churn_trainer(self, *, instance_type: str = "ml.m5.large"):
        from rfmkit.churn.sagemaker_training import SageMakerChurnTrainer

        return SageMakerChurnTrainer(self.cfg, instance_type=instance_type,
                                     boto_session=self.session)

    def serving(self, *, instance_type: str = "ml.m5.large", port: int = 0,
                capture_percent: float = 100.0):
        """SageMaker endpoints whose configs capture `capture_percent` % of invocations to S3
        (DataCaptureConfig) under capture_uri()."""
        from rfmkit.serving.sagemaker_deploy import SageMakerServing

        return SageMakerServing(self.cfg, instance_type=instance_type, boto_session=self.session,
                                capture_percent=capture_percent, capture_uri=self.capture_uri())

    def capture_uri(self) -> str:
        """The S3 prefix endpoint data capture writes to (SageMaker's layout beneath it)."""
        from rfmkit.sagemaker_jobs import run_folder_uri
        from rfmkit.serving.capture import CAPTURE_FOLDER

        return run_folder_uri(self.cfg, CAPTURE_FOLDER)

    def deployer(self, serving, registry):
        from rfmkit.serving.deploy import SageMakerDeployer

        return SageMakerDeployer(serving, registry)

    def runtime_client(self, serving):
        return self.session.client("sagemaker-runtime")

    def batch_scorer(self, serving, runtime=None):
        from rfmkit.serving.operations import BatchScorer

        return BatchScorer(self.batch_routes, serving, runtime)

    def exporter(self):
        from rfmkit.exports import S3Exporter
        from rfmkit.sagemaker_jobs import s3_uri

        bucket = self.cfg.aws.bucket
        return S3Exporter(self.cfg.exports_dir, self.storage() if bucket else None,
                          s3_uri(self.cfg, "exports") if bucket else None)

    def monitoring(self):
        """Endpoint data capture and ground truth in S3; the check as a scheduled processing job."""
        from rfmkit.monitoring.aws import AwsMonitoring

        return AwsMonitoring(self.cfg, self.session, backend=self)

    def stream(self):
        """The stack's Kinesis streams and DynamoDB checkpoint table."""
        from rfmkit.streaming.service import AwsStream

        return AwsStream(self.cfg, self.session)

    def notifier(self):
        """SNS: publishes to the stack's alerts topic (AlertsTopicArn)."""
        from rfmkit.alerts.notify import SnsNotifier

        return SnsNotifier(self.session.client("sns"), self.cfg.aws.alerts_topic_arn or "")

    def contact_center(self):
        """DynamoDB tables, the SageMaker Feature Store feature group, and the handlers as Lambda
        functions in the contact-center stack (deployed by its deploy())."""
        from rfmkit.contact_center.aws import AwsContactCenter

        return AwsContactCenter(self.cfg, self.session)

    def publish_dashboards(self, warehouse, manifests: dict[str, Path], *, user: str = "",
                           enabled: bool = True) -> str:
        """QuickSight data sources, data sets, analysis and dashboard through the API."""
        if not enabled:
            return "publish_quicksight=False: manifests and schemas written, no QuickSight assets built"
        from rfmkit import quicksight

        published = quicksight.publish_run(self.cfg, warehouse, manifests, user,
                                           boto_session=self.session)
        dashboard_id = published.dashboard_arn.rsplit("/", 1)[-1]
        lines = [f"{table}: {published.rows.get(table, 0):,} rows in SPICE ({arn})"
                 for table, arn in published.data_sets.items()]
        return "\n".join([*lines, f"dashboard: https://{self.cfg.aws.region}.quicksight.aws."
                                  f"amazon.com/sn/dashboards/{dashboard_id}"])

    def cleanup(self, *, remove_run_folder: bool = False, quicksight: bool = True,
                delete_stack: bool = False, progress=print):
        """SageMaker endpoints, configs and models of the prefix; QuickSight assets; the stack."""
        from rfmkit import cleanup

        return cleanup.aws(self.cfg, quicksight=quicksight, delete_stack=delete_stack,
                           boto_session=self.session, progress=progress)
