"""Model registry with an explicit approval step (local: MLflow; AWS: SageMaker Model Registry).

Every trained model becomes a new version. The quality gate (ROC-AUC >= min_auc) decides whether a
version is a *candidate*; only a person promotes a candidate to *production* (`approve`), and the
production version it replaces is kept as *previous-production* so that `rollback` can restore it.

MLflow: versions of one registered model, with aliases `candidate`, `production` and
`previous-production` and a `quality_gate` tag. SageMaker: packages in a model package group,
registered `PendingManualApproval`; approval sets `Approved`, and the endpoint serves the newest
approved package, so rollback rejects the current one.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

CANDIDATE, PRODUCTION, PREVIOUS = "candidate", "production", "previous-production"


class RegistryError(RuntimeError):
    """An approval or rollback that the registry's state does not allow; the message says why."""


@dataclass
class Registered:
    name: str
    version: str
    roc_auc: float
    passed_gate: bool

    def __str__(self) -> str:
        state = "candidate (passed the gate)" if self.passed_gate else "below the gate, not a candidate"
        return f"{self.name} version {self.version}: ROC-AUC {self.roc_auc:.3f}, {state}"


ALIASES = (CANDIDATE, PRODUCTION, PREVIOUS)
ARTIFACT = "sagemaker/model.tar.gz"  # where a logged run keeps the served model.tar.gz


@dataclass
class ModelRef:
    """What a registry needs to register a trained model; each registry reads its own fields."""

    tracked_uri: str | None = None     # MLflow: the logged model (runs:/… or models:/…)
    artifact_uri: str | None = None    # SageMaker: the model.tar.gz on S3
    evaluation_uri: str | None = None  # SageMaker: evaluation.json on S3 (model-quality metrics)


class MlflowRegistry:
    """The workspace's MLflow model registry (tracking.use_experiment sets the store).

    Alias changes hold the workspace lock (a file beside the SQLite store), so runs sharing the
    store never interleave them; `exclusive()` holds it for a whole sequence."""

    def __init__(self, name: str, client=None):
        from mlflow import MlflowClient

        self.name, self.client = name, client or MlflowClient()

    def lock(self):
        """The workspace lock for a SQLite store; a server store (tracking_uri) has its own
        transactions and no shared file, so nothing is locked there."""
        import contextlib

        from mlflow import get_tracking_uri

        from rfmkit.locking import exclusive

        uri = get_tracking_uri()
        if not uri.startswith("sqlite:///"):
            return contextlib.nullcontext()
        return exclusive(uri.removeprefix("sqlite:///") + ".lock")

    def snapshot(self) -> dict[str, str | None]:
        """Every alias and the version it points to."""
        return {alias: self.alias(alias) for alias in ALIASES}

    def restore(self, aliases: dict[str, str | None]) -> None:
        """Put every alias back exactly as `snapshot` found it."""
        with self.lock():
            for alias, version in aliases.items():
                if version is None:
                    if self.alias(alias) is not None:
                        self.client.delete_registered_model_alias(self.name, alias)
                elif self.alias(alias) != version:
                    self.client.set_registered_model_alias(self.name, alias, version)

    def register(self, model: ModelRef, *, roc_auc: float, min_auc: float) -> Registered:
        """A new version from a logged model's URI; gate it; tag it with its metric and gate."""
        import mlflow

        if not model.tracked_uri:
            raise ValueError("MLflow registers a logged model: ModelRef.tracked_uri is empty")
        with self.lock():
            version = mlflow.register_model(model.tracked_uri, self.name).version
            passed = roc_auc >= min_auc
            for key, value in (("roc_auc", f"{roc_auc:.6f}"), ("min_auc", str(min_auc)),
                               ("quality_gate", "passed" if passed else "failed")):
                self.client.set_model_version_tag(self.name, version, key, value)
            if passed:
                self.client.set_registered_model_alias(self.name, CANDIDATE, version)
        return Registered(self.name, str(version), roc_auc, passed)

    def alias(self, alias: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(self.name, alias).version)
        except Exception:  # noqa: BLE001 - MLflow raises a generic exception for a missing alias
            return None

    def approve(self, version: str | int) -> str:
        """Promote a version that passed the gate to production; keep the old one for rollback."""
        version = str(version)
        tags = self.client.get_model_version(self.name, version).tags
        if tags.get("quality_gate") != "passed":
            raise RegistryError(f"{self.name} version {version} did not pass the quality gate "
                                f"(ROC-AUC {tags.get('roc_auc')} < {tags.get('min_auc')}): "
                                f"it cannot be approved")
        with self.lock():
            current = self.alias(PRODUCTION)
            if current == version:
                return version
            if current is not None:
                self.client.set_registered_model_alias(self.name, PREVIOUS, current)
            self.client.set_registered_model_alias(self.name, PRODUCTION, version)
            self.client.set_model_version_tag(self.name, version, "approved", "true")
        return version

    def rollback(self) -> str:
        """Production goes back to the previous production version."""
        with self.lock():
            previous, current = self.alias(PREVIOUS), self.alias(PRODUCTION)
            if previous is None:
                raise RegistryError(f"{self.name}: no previous production version to roll back to")
            self.client.set_registered_model_alias(self.name, PRODUCTION, previous)
            self.client.delete_registered_model_alias(self.name, PREVIOUS)
            if current is not None:
                self.client.set_model_version_tag(self.name, current, "rolled_back", "true")
        return previous

    def download(self, version: str, folder: Path | None = None) -> Path:
        """The model.tar.gz logged with a version (from the tracking store; `folder` default: a
        temporary one)."""
        import mlflow

        from rfmkit.storage import HANDLERS, scheme_of, storage_for

        run_id = self.client.get_model_version(self.name, str(version)).run_id
        source = f"{self.client.get_run(run_id).info.artifact_uri.rstrip('/')}/{ARTIFACT}"
        if scheme_of(source) not in HANDLERS:  # an MLflow server's own scheme: MLflow fetches it
            return Path(mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=str(folder) if folder else None))
        storage = storage_for(source)
        if folder is None and scheme_of(source) == "file":
            return storage.local_path(source)  # the workspace's own store: read in place
        folder = Path(folder or tempfile.mkdtemp(prefix="rfmkit-registry-"))
        return storage.download(source, folder / "model.tar.gz")

    def model_location(self, version: str) -> str:
        """Where the served file of a version is: a local path here."""
        return str(self.download(version))

    def versions(self) -> pd.DataFrame:
        """Every version with its metric, gate and aliases, newest first."""
        rows = []
        for found in self.client.search_model_versions(f"name = '{self.name}'"):
            v = self.client.get_model_version(self.name, found.version)  # search omits aliases
            rows.append({"version": int(v.version), "roc_auc": float(v.tags.get("roc_auc", "nan")),
                         "quality_gate": v.tags.get("quality_gate", ""),
                         "aliases": ", ".join(sorted(v.aliases)), "run_id": v.run_id})
        columns = ["version", "roc_auc", "quality_gate", "aliases", "run_id"]
        return pd.DataFrame(rows, columns=columns).sort_values("version", ascending=False).reset_index(drop=True)


class SageMakerRegistry:
    """A SageMaker model package group; boto3 calls (sagemaker-core's ModelPackage.create is
    broken in 3.27)."""

    def __init__(self, name: str, client, *, storage=None, image=None):
        """storage: the run's S3Storage (to download a package's model); image: a callable that
        returns the serving container image (looked up only when registering)."""
        from rfmkit.sagemaker_jobs import safe_name

        # group names allow letters, digits and hyphens only (rfmkit-churn-contact_center is not one)
        self.name, self.client = safe_name(name), client
        self.storage, self.image = storage, image

    def ensure_group(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.describe_model_package_group(ModelPackageGroupName=self.name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ValidationException":
                raise
            self.client.create_model_package_group(
                ModelPackageGroupName=self.name,
                ModelPackageGroupDescription="rfmkit churn models (notebook 04)")

    def register(self, model: ModelRef, *, roc_auc: float, min_auc: float) -> Registered:
        """A new package, PendingManualApproval, with its evaluation as model-quality metrics."""
        if not (model.artifact_uri and model.evaluation_uri):
            raise ValueError("a SageMaker package needs ModelRef.artifact_uri and evaluation_uri")
        if self.image is None:
            raise ValueError("SageMakerRegistry(image=...) is needed to register a package")
        image, model_data_url, evaluation_uri = self.image(), model.artifact_uri, model.evaluation_uri
        self.ensure_group()
        passed = roc_auc >= min_auc
        arn = self.client.create_model_package(
            ModelPackageGroupName=self.name,
            ModelPackageDescription=f"ROC-AUC {roc_auc:.4f}; quality gate "
                                    f"{'passed' if passed else 'failed'} (min {min_auc})",
            InferenceSpecification={
                "Containers": [{"Image": image, "ModelDataUrl": model_data_url}],
                "SupportedContentTypes": ["text/csv", "application/json", "application/jsonlines"],
                "SupportedResponseMIMETypes": ["text/csv", "application/json"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
                "SupportedTransformInstanceTypes": ["ml.m5.large"]},
            ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                          "S3Uri": evaluation_uri}}},
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties={"roc_auc": f"{roc_auc:.6f}", "min_auc": str(min_auc),
                                        "quality_gate": "passed" if passed else "failed"},
        )["ModelPackageArn"]
        return Registered(self.name, arn, roc_auc, passed)

    def download(self, version: str, folder: Path | None = None) -> Path:
        """A package's model.tar.gz, downloaded through the run's S3 storage."""
        if self.storage is None:
            raise ValueError("SageMakerRegistry(storage=...) is needed to download a model")
        folder = Path(folder or tempfile.mkdtemp(prefix="rfmkit-registry-"))
        return self.storage.download(self.model_data_url(version), folder / "model.tar.gz")

    def model_location(self, version: str) -> str:
        """Where the served file of a version is: its S3 URI."""
        return self.model_data_url(version)

    def approve(self, package_arn: str) -> str:
        described = self.client.describe_model_package(ModelPackageName=package_arn)
        gate = described.get("CustomerMetadataProperties", {}).get("quality_gate")
        if gate != "passed":
            raise RegistryError(f"{package_arn} did not pass the quality gate: it cannot be approved")
        self.client.update_model_package(ModelPackageArn=package_arn,
                                         ModelApprovalStatus="Approved",
                                         ApprovalDescription="approved in notebook 04")
        return package_arn

    def approved(self, limit: int = 2) -> list[str]:
        """The newest approved packages, newest first; the first is what the endpoint serves."""
        packages = self.client.list_model_packages(
            ModelPackageGroupName=self.name, ModelApprovalStatus="Approved",
            SortBy="CreationTime", SortOrder="Descending", MaxResults=limit)["ModelPackageSummaryList"]
        return [p["ModelPackageArn"] for p in packages]

    def production(self) -> str | None:
        approved = self.approved(1)
        return approved[0] if approved else None

    def candidate(self, scan: int = 10) -> str | None:
        """The newest package awaiting approval that passed the quality gate."""
        pending = self.client.list_model_packages(
            ModelPackageGroupName=self.name, ModelApprovalStatus="PendingManualApproval",
            SortBy="CreationTime", SortOrder="Descending", MaxResults=scan)["ModelPackageSummaryList"]
        for package in pending:
            described = self.client.describe_model_package(ModelPackageName=package["ModelPackageArn"])
            if described.get("CustomerMetadataProperties", {}).get("quality_gate") == "passed":
                return package["ModelPackageArn"]
        return None

    def alias(self, alias: str) -> str | None:
        """The MLflow-style names, read from approval states (newest approved = production,
        newest pending package that passed the gate = candidate)."""
        if alias == CANDIDATE:
            return self.candidate()
        approved = self.approved(2)
        index = {PRODUCTION: 0, PREVIOUS: 1}.get(alias)
        if index is None:
            raise ValueError(f"SageMaker registry knows {PRODUCTION!r}, {PREVIOUS!r} and "
                             f"{CANDIDATE!r}, not {alias!r}")
        return approved[index] if len(approved) > index else None

    def lock(self):
        """No shared lock on AWS: approval states are changed by single API calls (docs/AWS.md)."""
        import contextlib

        return contextlib.nullcontext()

    def snapshot(self) -> dict[str, str | None]:
        return {PRODUCTION: self.alias(PRODUCTION)}

    def restore(self, aliases: dict[str, str | None]) -> None:
        """Production back to what `snapshot` found (by rolling back newer approvals)."""
        wanted = aliases.get(PRODUCTION)
        while wanted is not None and self.alias(PRODUCTION) not in (wanted, None):
            self.rollback()

    def model_data_url(self, package_arn: str) -> str:
        """The model.tar.gz a package was registered with."""
        described = self.client.describe_model_package(ModelPackageName=package_arn)
        return described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]

    def versions(self) -> pd.DataFrame:
        """Every package of the group with its approval status, newest first."""
        rows = []
        for page in self.client.get_paginator("list_model_packages").paginate(
                ModelPackageGroupName=self.name, SortBy="CreationTime", SortOrder="Descending"):
            rows += [{"version": p.get("ModelPackageVersion"), "status": p.get("ModelApprovalStatus"),
                      "arn": p["ModelPackageArn"], "created": p["CreationTime"]}
                     for p in page["ModelPackageSummaryList"]]
        return pd.DataFrame(rows)

    def rollback(self) -> str:
        """Reject the current production package; the previous approved one takes over."""
        approved = self.approved(2)
        if len(approved) < 2:
            raise RegistryError(f"{self.name}: no previous approved package to roll back to")
        self.client.update_model_package(ModelPackageArn=approved[0], ModelApprovalStatus="Rejected",
                                         ApprovalDescription="rolled back in notebook 04")
        return approved[1]
