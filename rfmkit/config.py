"""Run configuration: which backend, where outputs go, seeds, and the AWS names.

A notebook builds one `RunConfig` from its parameters cell, and `rfmkit.backends.get(cfg)` turns it
into the backend object that creates everything else (warehouse, storage, …): switching to AWS is
one parameter, `backend="aws"`, read only by that registry.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rfmkit.paths import resolve_run_dir

BACKENDS = ("local", "aws")
AWS_SETTINGS_FILE = "aws.json"


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the parameter."""


@dataclass
class AwsSettings:
    """Names of the AWS resources (normally read from the CloudFormation stack outputs).

    Secrets never live here: Redshift credentials come from Secrets Manager (`secret_arn`),
    IAM (`db_user` with temporary credentials), or the environment for redshift_connector.
    """

    region: str | None = None
    bucket: str | None = None
    prefix: str = "rfmkit"
    # Redshift: Serverless workgroup or provisioned cluster, through the Data API ...
    workgroup: str | None = None
    cluster_id: str | None = None
    database: str = "dev"
    secret_arn: str | None = None
    db_user: str | None = None
    # ... or a direct connection with redshift_connector (password from $REDSHIFT_PASSWORD).
    host: str | None = None
    port: int = 5439
    user: str | None = None
    # Role Redshift assumes to read/write S3 in COPY and UNLOAD.
    copy_role_arn: str | None = None
    # Role SageMaker training, models and transform jobs run as (scoped to the bucket).
    sagemaker_role_arn: str | None = None
    # Role QuickSight's S3 data sources assume to read manifests and exports (notebook 07).
    quicksight_role_arn: str | None = None
    # SNS topic the churn alerts are published to (notebook 08); subscribers filter on "list".
    alerts_topic_arn: str | None = None
    # Contact center (notebook 09): the Amazon Connect instance, the feature group, and what the
    # contact-center stack created (its outputs).
    connect_instance_arn: str | None = None
    feature_group: str | None = None
    contact_profiles_table: str | None = None
    contacts_table: str | None = None
    contact_prompts_table: str | None = None
    contact_center_api: str | None = None
    contact_center_functions: str | None = None   # "handler=function name,..."
    # Monitoring and stream scoring (notebook 10): the scheduler's role, the Kinesis streams and
    # the consumer's checkpoint table.
    scheduler_role_arn: str | None = None
    request_stream: str | None = None
    score_stream: str | None = None
    stream_checkpoints_table: str | None = None
    stack_name: str | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AwsSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown AWS setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


@dataclass
class RunConfig:
    backend: str = "local"
    run_dir: Path = field(default_factory=lambda: resolve_run_dir(None))
    seed: int = 42
    aws: AwsSettings = field(default_factory=AwsSettings)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"parameter backend={self.backend!r}: choose one of {BACKENDS}")
        self.run_dir = Path(self.run_dir)

    @classmethod
    def resolve(
        cls, backend: str = "local", run_dir: str | os.PathLike | None = None, seed: int = 42,
        **aws: Any,
    ) -> RunConfig:
        """Config for a notebook: its parameters, plus AWS names saved by notebook 00."""
        folder = resolve_run_dir(run_dir)
        saved = folder / AWS_SETTINGS_FILE
        aws_values: dict[str, Any] = json.loads(saved.read_text()) if saved.exists() else {}
        aws_values.update({k: v for k, v in aws.items() if v not in (None, "")})
        cfg = cls(backend=backend, run_dir=folder, seed=int(seed),
                  aws=AwsSettings.from_dict(aws_values))
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        return cfg

    # Well-known places inside a run folder.
    @property
    def warehouse_path(self) -> Path:
        return self.run_dir / "warehouse.duckdb"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def exports_dir(self) -> Path:
        return self.run_dir / "exports"

    def save_aws_settings(self) -> Path:
        """Persist the AWS names so later notebooks in this run pick them up."""
        path = self.run_dir / AWS_SETTINGS_FILE
        values = {k: v for k, v in asdict(self.aws).items() if v is not None}
        path.write_text(json.dumps(values, indent=2, sort_keys=True))
        return path
