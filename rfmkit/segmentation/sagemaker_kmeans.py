"""k-means on SageMaker: the built-in KMeans algorithm, trained with sagemaker 3.x ModelTrainer
and applied to every customer with a Batch Transform job.

Same contract as the local backend: the standardised features go in (the scaler is fitted in the
notebook, so both backends see identical inputs) and `closest_cluster`, `distance_to_cluster`
per customer come out, in input order. SageMaker's algorithm takes no seed, so re-runs may
number or place clusters differently; clusters are renumbered by size like the local ones.

Imports of boto3 and sagemaker are lazy: the local path never needs them.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from rfmkit.config import RunConfig
from rfmkit.sagemaker_jobs import (
    boto_session_for,
    check_settings,
    finished_job,
    run_folder_uri,
    run_transform,
    safe_name,
    trainer_session,
)
from rfmkit.storage import S3Storage

ALGORITHM = "kmeans"
CHANNEL = "train"
# "label_size=0": the CSV has no label column (SageMaker's convention for unsupervised data).
TRAIN_CONTENT_TYPE = "text/csv;label_size=0"
TRANSFORM_ACCEPT = "application/jsonlines"
MAX_PAYLOAD_MB = 6  # SageMaker's real-time payload limit, also used per transform request


@dataclass
class SageMakerJobs:
    """What was created on AWS (for the notebook, MLflow and cleanup)."""

    training_job: str
    model_artifact: str
    model_name: str
    transform_job: str
    train_uri: str
    output_uri: str


class SageMakerKMeans:
    """Train SageMaker KMeans on standardised features and batch-transform every customer."""

    def __init__(self, cfg: RunConfig, *, k: int, instance_type: str = "ml.m5.large",
                 boto_session=None, poll_seconds: int = 30, max_runtime_seconds: int = 3600):
        check_settings(cfg, "k-means")
        boto_session = boto_session_for(cfg, boto_session)
        self.cfg, self.k, self.instance_type = cfg, int(k), instance_type
        self.session, self.poll_seconds = boto_session, poll_seconds
        self.max_runtime_seconds = max_runtime_seconds
        self.sagemaker = boto_session.client("sagemaker")
        self.storage = S3Storage.from_session(boto_session, cfg.aws.bucket)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        self.name = safe_name(f"rfmkit-kmeans-{stamp}")
        self.base_uri = run_folder_uri(cfg, "segmentation")

    # -- steps -----------------------------------------------------------------------------
    def upload_features(self, standardised: np.ndarray) -> str:
        """CSV without header or label, one customer per line (what KMeans reads)."""
        buffer = io.StringIO()
        np.savetxt(buffer, np.asarray(standardised, dtype=float), delimiter=",", fmt="%.6f")
        uri = f"{self.base_uri}/train/features.csv"
        return self.storage.write_bytes(uri, buffer.getvalue().encode())

    def train(self, train_uri: str, feature_dim: int, *, wait: bool = True) -> tuple[str, str]:
        """Run the training job; returns (job name, model.tar.gz URI)."""
        from sagemaker.core import image_uris
        from sagemaker.core.shapes import S3DataSource
        from sagemaker.core.training.configs import (
            Compute,
            InputData,
            OutputDataConfig,
            StoppingCondition,
        )
        from sagemaker.train import ModelTrainer

        region = self.cfg.aws.region
        trainer = ModelTrainer(
            sagemaker_session=trainer_session(self.cfg, self.session, self.sagemaker),
            role=self.cfg.aws.sagemaker_role_arn,
            training_image=image_uris.retrieve(ALGORITHM, region=region),
            base_job_name="rfmkit-kmeans",
            compute=Compute(instance_type=self.instance_type, instance_count=1),
            stopping_condition=StoppingCondition(max_runtime_in_seconds=self.max_runtime_seconds),
            output_data_config=OutputDataConfig(s3_output_path=f"{self.base_uri}/model"),
            hyperparameters={"k": self.k, "feature_dim": int(feature_dim),
                             "init_method": "kmeans++", "mini_batch_size": 5000},
        )
        source = S3DataSource(s3_data_type="S3Prefix", s3_uri=train_uri,
                              s3_data_distribution_type="ShardedByS3Key")
        trainer.train(input_data_config=[InputData(channel_name=CHANNEL, data_source=source,
                                                   content_type=TRAIN_CONTENT_TYPE)],
                      wait=wait, logs=False)
        return finished_job(self.sagemaker, trainer, require_completed=wait)

    def create_model(self, model_artifact: str) -> str:
        from sagemaker.core import image_uris

        self.sagemaker.create_model(
            ModelName=self.name,
            PrimaryContainer={"Image": image_uris.retrieve(ALGORITHM, region=self.cfg.aws.region),
                              "ModelDataUrl": model_artifact},
            ExecutionRoleArn=self.cfg.aws.sagemaker_role_arn)
        return self.name

    def transform(self, model_name: str, input_uri: str) -> str:
        """Batch Transform of the features file; waits and returns the output prefix."""
        return run_transform(self.sagemaker, job=self.name, model=model_name, input_uri=input_uri,
                             output_uri=f"{self.base_uri}/transform", instance_type=self.instance_type,
                             accept=TRANSFORM_ACCEPT, max_payload_mb=MAX_PAYLOAD_MB,
                             poll_seconds=self.poll_seconds)

    def read_predictions(self, output_uri: str, input_name: str = "features.csv") -> pd.DataFrame:
        """The transform's output file (`<input>.out`), JSON lines in input order."""
        body = self.storage.read_bytes(f"{output_uri}/{input_name}.out").decode()
        return parse_jsonlines(body)

    def delete_model(self, model_name: str) -> None:
        """The model is only needed by the transform job (notebook 99 removes leftovers)."""
        self.sagemaker.delete_model(ModelName=model_name)

    # -- the whole path ----------------------------------------------------------------------
    def fit_predict(self, standardised: np.ndarray, progress=print) -> tuple[pd.DataFrame,
                                                                            SageMakerJobs]:
        train_uri = self.upload_features(standardised)
        progress(f"uploaded {len(standardised):,} rows to {train_uri}; training (several minutes)")
        job, artifact = self.train(train_uri, standardised.shape[1])
        progress(f"training job {job} done: {artifact}; batch transform of every customer")
        model = self.create_model(artifact)
        try:
            output_uri = self.transform(model, train_uri)
            predictions = self.read_predictions(output_uri)
        finally:
            self.delete_model(model)
        if len(predictions) != len(standardised):
            raise RuntimeError(f"transform returned {len(predictions):,} predictions for "
                               f"{len(standardised):,} customers")
        return predictions, SageMakerJobs(job, artifact, model, self.name, train_uri, output_uri)


def parse_jsonlines(body: str) -> pd.DataFrame:
    """KMeans' JSON lines response: {"closest_cluster": 1.0, "distance_to_cluster": 3.0}."""
    records = [json.loads(line) for line in body.splitlines() if line.strip()]
    frame = pd.DataFrame(records, columns=["closest_cluster", "distance_to_cluster"])
    frame["closest_cluster"] = frame["closest_cluster"].astype(int)
    frame["distance_to_cluster"] = frame["distance_to_cluster"].astype(float)
    return frame


def renumber_by_size(predictions: pd.DataFrame, standardised: np.ndarray
                     ) -> tuple[pd.DataFrame, np.ndarray]:
    """Clusters numbered by size (0 = largest), and each cluster's mean standardised features.

    SageMaker keeps its centroids inside its own model format; the means of the customers
    assigned to each cluster are what the profiles and the local model file use instead.
    """
    clusters = predictions["closest_cluster"].to_numpy()
    ids, sizes = np.unique(clusters, return_counts=True)
    order = ids[np.lexsort((ids, -sizes))]
    mapping = {old: new for new, old in enumerate(order)}
    renumbered = predictions.copy()
    renumbered["closest_cluster"] = pd.Series(clusters).map(mapping).to_numpy()
    means = np.vstack([standardised[clusters == old].mean(axis=0) for old in order])
    return renumbered, means


class SageMakerKMeansTrainer:
    """SageMaker's built-in KMeans (the AWS backend's segment trainer): training job, Batch
    Transform for the assignments, clusters renumbered by size like the local model's."""

    def __init__(self, cfg: RunConfig, *, instance_type: str = "ml.m5.large", boto_session=None):
        self.cfg, self.instance_type, self.boto_session = cfg, instance_type, boto_session

    def fit_predict(self, model, standardised: np.ndarray, progress=print):
        runner = SageMakerKMeans(self.cfg, k=model.k, instance_type=self.instance_type,
                                 boto_session=self.boto_session)
        predictions, jobs = runner.fit_predict(standardised, progress=progress)
        from rfmkit.segmentation.model import KMeansSegmenter

        assignments, means = renumber_by_size(predictions, standardised)
        fitted = KMeansSegmenter.from_centroids(
            means, features=model.features, seed=model.seed, n_init=model.n_init,
            inertia=float((assignments["distance_to_cluster"] ** 2).sum()), trained_with="sagemaker",
            info={"training_job": jobs.training_job, "model_artifact": jobs.model_artifact,
                  "transform_job": jobs.transform_job, "centroids": "means of assigned customers"})
        return fitted, assignments

    def reproduce(self, model, standardised: np.ndarray, assignments: pd.DataFrame) -> str:
        return ("not re-run: another SageMaker training job costs money, and SageMaker's KMeans "
                "takes no seed (section 5's stability check is the evidence)")
