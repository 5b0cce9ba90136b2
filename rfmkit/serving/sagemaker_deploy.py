"""The kit's models on SageMaker: real-time endpoints and Batch Transform with the scikit-learn
framework container running rfmkit's own inference module.

The model archive is the one the kit saves and registers (unchanged); the inference code travels
separately as `sourcedir.tar.gz` (a three-line script that re-exports
rfmkit.serving.inference's model_fn/input_fn/predict_fn/output_fn, plus a copy of the rfmkit
package), named by SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY. So the container answers a
request exactly as the local endpoint does.

Models, endpoint configs and endpoints are sagemaker 3.x resources (sagemaker.core.resources);
deploying to an endpoint that exists updates it to a new config, which SageMaker switches over
without downtime (blue/green). Imports of boto3 and sagemaker are lazy.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from rfmkit.churn.sagemaker_training import SKLEARN_VERSION
from rfmkit.config import RunConfig
from rfmkit.paths import PROJECT_ROOT
from rfmkit.sagemaker_jobs import (
    boto_session_for,
    check_settings,
    run_folder_uri,
    run_transform,
    safe_name,
)
from rfmkit.storage import S3Storage

SERVE_SCRIPT = "serve_rfmkit.py"
SERVE_SHIM = ("# SageMaker's scikit-learn container imports this module and calls these four.\n"
              "from rfmkit.serving.inference import input_fn, model_fn, output_fn, predict_fn  "
              "# noqa: F401\n")
VARIANT = "AllTraffic"
TRANSFORM_ACCEPT = "application/jsonlines"
BATCH_INPUT = "customers.csv"


@dataclass
class Deployed:
    endpoint: str
    model: str
    config: str
    model_data_url: str


def source_archive() -> bytes:
    """sourcedir.tar.gz: the serving script and the rfmkit package (no caches), reproducible."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        script = SERVE_SHIM.encode()
        info = tarfile.TarInfo(SERVE_SCRIPT)
        info.size = len(script)
        archive.addfile(info, io.BytesIO(script))
        package = PROJECT_ROOT / "rfmkit"
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.add(path, arcname=str(Path("rfmkit") / path.relative_to(package)),
                            recursive=False)
    return buffer.getvalue()


class SageMakerServing:
    """Create, update, invoke-ready and delete the kit's endpoints; run Batch Transform."""

    def __init__(self, cfg: RunConfig, *, instance_type: str = "ml.m5.large", boto_session=None,
                 poll_seconds: int = 15, timeout_seconds: int = 1800, capture_percent: float = 100.0,
                 capture_uri: str = ""):
        from rfmkit.serving.capture import check_percent

        check_settings(cfg, "deployment")
        self.cfg, self.instance_type = cfg, instance_type
        self.capture_percent, self.capture_uri = check_percent(capture_percent), capture_uri
        self.session = boto_session_for(cfg, boto_session)
        self.sagemaker = self.session.client("sagemaker")
        self.storage = S3Storage.from_session(self.session, cfg.aws.bucket)
        self.poll_seconds, self.timeout_seconds = poll_seconds, timeout_seconds
        self.base_uri = run_folder_uri(cfg, "serving")
        self._code_uri: str | None = None

    @property
    def description(self) -> str:
        return f"SageMaker ({self.cfg.aws.region})"

    # -- the Serving protocol shared with the local server -----------------------------------
    def serve(self, endpoint: str, model, location: str) -> None:
        """Serve the model.tar.gz at `location` (S3) on `endpoint`."""
        self.deploy(endpoint, location)

    def serve_file(self, endpoint: str, model_tar: Path):
        """Upload a model.tar.gz from the run folder and serve it; returns it loaded here."""
        from rfmkit.serving.inference import model_fn

        self.deploy(endpoint, self.upload(model_tar, f"models/{endpoint}/model.tar.gz"))
        return model_fn(model_tar)

    def remove(self, endpoint: str) -> None:
        self.delete(endpoint)

    def close(self) -> None:
        """Nothing runs here: endpoints are removed one by one (`remove`)."""

    # -- artifacts ---------------------------------------------------------------------------
    def image(self) -> str:
        from sagemaker.core import image_uris

        return image_uris.retrieve("sklearn", region=self.cfg.aws.region, version=SKLEARN_VERSION)

    def upload(self, local: Path, key_name: str) -> str:
        return self.storage.upload(local, f"{self.base_uri}/{key_name}")

    def code_uri(self) -> str:
        """The inference code in S3 (uploaded once per run)."""
        if self._code_uri is None:
            self._code_uri = self.storage.write_bytes(f"{self.base_uri}/code/sourcedir.tar.gz",
                                                      source_archive())
        return self._code_uri

    def environment(self) -> dict[str, str]:
        return {"SAGEMAKER_PROGRAM": SERVE_SCRIPT, "SAGEMAKER_SUBMIT_DIRECTORY": self.code_uri(),
                "SAGEMAKER_REGION": self.cfg.aws.region, "SAGEMAKER_CONTAINER_LOG_LEVEL": "20"}

    # -- resources ---------------------------------------------------------------------------
    def create_model(self, name: str, model_data_url: str) -> str:
        from sagemaker.core.resources import Model
        from sagemaker.core.shapes import ContainerDefinition

        Model.create(model_name=name, execution_role_arn=self.cfg.aws.sagemaker_role_arn,
                     primary_container=ContainerDefinition(image=self.image(),
                                                           model_data_url=model_data_url,
                                                           environment=self.environment()),
                     session=self.session, region=self.cfg.aws.region)
        return name

    def deploy(self, endpoint: str, model_data_url: str) -> Deployed:
        """Serve `model_data_url` on `endpoint`: create it, or switch it to a new config."""
        from sagemaker.core.resources import Endpoint, EndpointConfig
        from sagemaker.core.shapes import ProductionVariant

        name = safe_name(f"{endpoint}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}")
        self.create_model(name, model_data_url)
        EndpointConfig.create(
            endpoint_config_name=name,
            production_variants=[ProductionVariant(variant_name=VARIANT, model_name=name,
                                                   initial_instance_count=1,
                                                   instance_type=self.instance_type)],
            data_capture_config=self.data_capture_config(),
            session=self.session, region=self.cfg.aws.region)
        existing = self.find(endpoint)
        if existing is None:
            served = Endpoint.create(endpoint_name=endpoint, endpoint_config_name=name,
                                     session=self.session, region=self.cfg.aws.region)
        else:
            replaced = existing.endpoint_config_name
            existing.endpoint_config_name = name
            served = existing.update()
        served.wait_for_status("InService", poll=self.poll_seconds, timeout=self.timeout_seconds)
        if existing is not None:  # the old config and model serve nothing any more
            self._delete_config(replaced)
        return Deployed(endpoint, name, name, model_data_url)

    def data_capture_config(self):
        """Request and response of `capture_percent` % of invocations to S3, in the format
        rfmkit.serving.capture reads (CSV and JSON bodies kept as text); None without a URI or at 0 %."""
        from sagemaker.core.shapes import (
            CaptureContentTypeHeader,
            CaptureOption,
            DataCaptureConfig,
        )

        if not self.capture_uri or self.capture_percent <= 0:
            return None
        return DataCaptureConfig(
            enable_capture=True, initial_sampling_percentage=max(1, int(round(self.capture_percent))),
            destination_s3_uri=self.capture_uri,
            capture_options=[CaptureOption(capture_mode="Input"), CaptureOption(capture_mode="Output")],
            capture_content_type_header=CaptureContentTypeHeader(
                csv_content_types=["text/csv"],
                json_content_types=["application/json", "application/jsonlines"]))

    def find(self, endpoint: str):
        """The Endpoint resource, or None when there is none of that name."""
        from botocore.exceptions import ClientError
        from sagemaker.core.resources import Endpoint

        try:
            return Endpoint.get(endpoint_name=endpoint, session=self.session,
                                region=self.cfg.aws.region)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
                return None
            raise

    def delete(self, endpoint: str) -> bool:
        """The endpoint, its config and its model; False when there was nothing to delete."""
        found = self.find(endpoint)
        if found is None:
            return False
        found.delete()
        found.wait_for_delete(poll=self.poll_seconds, timeout=self.timeout_seconds)
        self._delete_config(found.endpoint_config_name)
        return True

    def _delete_config(self, config_name: str) -> None:
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        self.sagemaker.delete_endpoint_config(EndpointConfigName=config_name)
        for variant in config["ProductionVariants"]:
            self.sagemaker.delete_model(ModelName=variant["ModelName"])

    # -- batch -------------------------------------------------------------------------------
    def transform(self, model_data_url: str, input_uri: str, *, label: str) -> str:
        """Batch Transform of header-less CSV lines with a temporary model; JSON lines come back
        in input order under the returned prefix (one `<input file>.out` per input file)."""
        name = safe_name(f"rfmkit-{label}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}")
        self.create_model(name, model_data_url)
        try:
            return run_transform(self.sagemaker, job=name, model=name, input_uri=input_uri,
                                 output_uri=f"{self.base_uri}/transform/{label}",
                                 instance_type=self.instance_type, accept=TRANSFORM_ACCEPT,
                                 poll_seconds=self.poll_seconds)
        finally:
            self.sagemaker.delete_model(ModelName=name)

    def score(self, frame: pd.DataFrame, columns: list[str], model_data_url: str, *,
              label: str) -> pd.DataFrame:
        """Every row of `frame` through Batch Transform; predictions in input order."""
        from rfmkit.serving.batch import csv_body

        input_uri = f"{self.base_uri}/batch/{label}/{BATCH_INPUT}"
        self.storage.write_bytes(input_uri, csv_body(frame[columns]))
        output_uri = self.transform(model_data_url, input_uri.rsplit("/", 1)[0], label=label)
        lines = self.storage.read_bytes(f"{output_uri}/{BATCH_INPUT}.out").decode().splitlines()
        predictions = pd.DataFrame([json.loads(line) for line in lines if line.strip()])
        if len(predictions) != len(frame):
            raise RuntimeError(f"transform {label}: sent {len(frame):,} rows, got "
                               f"{len(predictions):,} predictions back")
        return predictions
