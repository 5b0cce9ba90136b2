"""Churn training on SageMaker: the SKLearn framework container runs rfmkit's own training code
(sagemaker 3.x ModelTrainer with SourceCode), from data uploaded to S3.

The same seeded split, search and evaluation run in the container (rfmkit/churn/sagemaker_entry.py); the
resulting model.tar.gz is downloaded into the run folder and evaluated again locally on the same
seeded hold-out, so the notebook gets the same Outcome (figures, evaluation.json, registry) as on
the local backend.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from rfmkit.churn import artifact, training
from rfmkit.churn.datasets import ChurnData
from rfmkit.churn.evaluation import Costs, evaluate, importance, no_importance, write_evaluation_json
from rfmkit.churn.sagemaker_entry import DATA_FILE, LABEL
from rfmkit.config import RunConfig
from rfmkit.paths import PROJECT_ROOT
from rfmkit.sagemaker_jobs import (
    boto_session_for,
    check_settings,
    finished_job,
    run_folder_uri,
    trainer_session,
)
from rfmkit.storage import S3Storage

SKLEARN_VERSION = "1.9-0"  # SageMaker scikit-learn container: the same major version as the kit, so
# the job's pickled pipeline loads here (and the kit's code runs there) unchanged
SHIM = "from rfmkit.churn.sagemaker_entry import main\n\nmain()\n"
# CreateTrainingJob's HyperParameters (botocore's service model; the Stubber does not check them):
# at most 100 entries, keys of at most 256 characters, values of at most 2,500.
MAX_HYPERPARAMETERS, MAX_KEY_CHARS, MAX_VALUE_CHARS = 100, 256, 2500


def check_hyperparameters(hyperparameters: dict) -> dict:
    """The training job's hyperparameters, or a ValueError naming the one SageMaker would refuse."""
    if len(hyperparameters) > MAX_HYPERPARAMETERS:
        raise ValueError(f"{len(hyperparameters)} hyperparameters; a SageMaker training job takes at "
                         f"most {MAX_HYPERPARAMETERS}")
    for key, value in hyperparameters.items():
        if len(str(key)) > MAX_KEY_CHARS or len(str(value)) > MAX_VALUE_CHARS:
            raise ValueError(f"hyperparameter {str(key)[:60]!r} is {len(str(value)):,} characters; a "
                             f"SageMaker training job takes at most {MAX_VALUE_CHARS:,} per value (and "
                             f"{MAX_KEY_CHARS} per name): train this data locally (backend='local'), "
                             f"or with fewer columns")
    return hyperparameters


def serving_image(region: str) -> str:
    """The scikit-learn container that trains and serves the churn models."""
    from sagemaker.core import image_uris

    return image_uris.retrieve("sklearn", region=region, version=SKLEARN_VERSION)


class SageMakerChurnTrainer:
    def __init__(self, cfg: RunConfig, *, instance_type: str = "ml.m5.large", boto_session=None,
                 max_runtime_seconds: int = 3600):
        check_settings(cfg, "churn training")
        boto_session = boto_session_for(cfg, boto_session)
        self.cfg, self.session, self.instance_type = cfg, boto_session, instance_type
        self.max_runtime_seconds = max_runtime_seconds
        self.sagemaker = boto_session.client("sagemaker")
        self.storage = S3Storage.from_session(boto_session, cfg.aws.bucket)
        self.base_uri = run_folder_uri(cfg, "churn")

    def image(self) -> str:
        return serving_image(self.cfg.aws.region)

    def upload(self, data: ChurnData) -> str:
        """All rows, as CSV with a `churned` column; the container makes the same seeded split."""
        frame = data.features.copy()
        frame[LABEL] = data.label.to_numpy()
        uri = f"{self.base_uri}/{data.name}/train/{DATA_FILE}"
        self.storage.write_bytes(uri, frame.to_csv(index=False).encode())
        return uri.rsplit("/", 1)[0]

    def source_dir(self) -> Path:
        """A temporary folder with the shim and a copy of the rfmkit package."""
        folder = Path(tempfile.mkdtemp(prefix="rfmkit-source-"))
        shutil.copytree(PROJECT_ROOT / "rfmkit", folder / "rfmkit",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (folder / "train_churn.py").write_text(SHIM)
        return folder

    def train(self, data: ChurnData, train_uri: str, costs: Costs, *, budget: int, folds: int,
              seed: int, settings: dict[str, dict] | None = None) -> str:
        """Run the training job; returns the model.tar.gz URI."""
        from sagemaker.core.training.configs import (
            Compute,
            InputData,
            OutputDataConfig,
            SourceCode,
            StoppingCondition,
        )
        from sagemaker.train import ModelTrainer

        source = self.source_dir()
        try:
            trainer = ModelTrainer(
                sagemaker_session=trainer_session(self.cfg, self.session, self.sagemaker),
                role=self.cfg.aws.sagemaker_role_arn,
                training_image=self.image(),
                source_code=SourceCode(source_dir=str(source), entry_script="train_churn.py"),
                base_job_name="rfmkit-churn",
                compute=Compute(instance_type=self.instance_type, instance_count=1),
                stopping_condition=StoppingCondition(max_runtime_in_seconds=self.max_runtime_seconds),
                output_data_config=OutputDataConfig(s3_output_path=f"{self.base_uri}/{data.name}/model"),
                hyperparameters=check_hyperparameters({
                    "name": data.name, "kinds": json.dumps(data.kinds), "budget": budget,
                    "folds": folds, "seed": seed, "cost_missed_churner": costs.missed_churner,
                    "cost_intervention": costs.intervention,
                    **({"settings": json.dumps(settings)} if settings else {})}),
            )
            trainer.train(input_data_config=[InputData(channel_name="train", data_source=train_uri,
                                                       content_type="text/csv")],
                          wait=True, logs=False)
        finally:
            shutil.rmtree(source, ignore_errors=True)
        return finished_job(self.sagemaker, trainer)[1]

    def fit_and_evaluate(self, data: ChurnData, costs: Costs, *, budget: int = 6, folds: int = 5,
                         seed: int = 42, progress=print, folder: Path | None = None,
                         explain: bool = True, settings: dict[str, dict] | None = None):
        from rfmkit.churn.outcome import Outcome, model_folder

        parts = training.split(data, seed=seed)  # the same seeded split as the container's
        train_uri = self.upload(data)
        progress(f"uploaded {len(data.label):,} rows to {train_uri}; training on SageMaker "
                 f"(several minutes)")
        model_uri = self.train(data, train_uri, costs, budget=budget, folds=folds, seed=seed,
                               settings=settings)
        folder = folder or model_folder(self.cfg, data)
        folder.mkdir(parents=True, exist_ok=True)
        local = folder / artifact.ARTIFACT_NAME
        self.storage.download(model_uri, local)
        pipeline, metadata = artifact.load(local)
        candidates = [training.Candidate(c["model"], pipeline if c["model"] == metadata["model"] else None,
                                         c["cv_auc_mean"], c["cv_auc_std"], c["best_params"], None)
                      for c in metadata["candidates"]]
        best = next(c for c in candidates if c.name == metadata["model"])
        # The container chose the threshold out of fold (metadata); the hold-out only reports.
        result = evaluate(pipeline, parts.x_test, parts.y_test, costs,
                          threshold=float(metadata["threshold"]),
                          threshold_source=metadata.get("threshold_source", "chosen in the training job"),
                          cv_auc=(best.cv_auc_mean, best.cv_auc_std))
        outcome = Outcome(data, parts, candidates, best, result,
                          importance(pipeline, parts.x_test, parts.y_test, seed=seed) if explain
                          else no_importance(),
                          choice=metadata.get("choice", ""),
                          artifact_path=local, trained_with=f"SageMaker ({model_uri})",
                          model_uri=model_uri)
        outcome.evaluation_path = write_evaluation_json(result, folder / "evaluation.json")
        return outcome

    def model_ref(self, outcome, tracked_uri: str):
        """The package's parts on S3: the job's model.tar.gz and evaluation.json (uploaded here),
        which the registry shows as the package's model-quality metrics."""
        from rfmkit.churn.registry import ModelRef

        evaluation_uri = self.storage.upload(outcome.evaluation_path,
                                             f"{self.base_uri}/{outcome.data.name}/evaluation.json")
        return ModelRef(tracked_uri=tracked_uri, artifact_uri=outcome.model_uri,
                        evaluation_uri=evaluation_uri)
