"""What an alarm sets off on AWS: the retraining pipeline (rfmkit.monitoring.pipeline) created or
updated and started; it registers a passing candidate PendingManualApproval. Staging and promotion
follow from the registry as in notebook 06 (deployer.sync, deployer.promote after review)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class PipelineRetrainer:
    kit: object
    monitoring: object
    churn_data: str = "contact_center"
    min_auc: float = 0.7
    seed: int = 42
    progress: object = print

    def __call__(self, window: str, labelled: pd.DataFrame, log) -> str:
        from rfmkit.churn import experiment
        from rfmkit.churn.outcome import model_name
        from rfmkit.churn.sagemaker_training import SageMakerChurnTrainer
        from rfmkit.monitoring import pipeline
        from rfmkit.serving.sagemaker_deploy import source_archive
        from rfmkit.storage import S3Storage

        cfg, session = self.kit.cfg, self.kit.session
        with self.kit.warehouse() as warehouse:
            data = experiment.load_data(self.churn_data, warehouse, progress=self.progress)
        train_uri = SageMakerChurnTrainer(cfg, boto_session=session).upload(data)
        storage = S3Storage.from_session(session, cfg.aws.bucket)
        code = storage.write_bytes(f"{self.monitoring.reports_uri}/pipeline-code/sourcedir.tar.gz",
                                   source_archive())
        definition = pipeline.build(cfg, session, model_name=model_name(data), kinds=data.kinds,
                                    columns=list(data.features.columns), train_uri=train_uri,
                                    code_uri=code, capture_uri=self.monitoring.capture_uri,
                                    ground_truth_uri=self.monitoring.ground_truth_uri,
                                    min_auc=self.min_auc, seed=self.seed)
        client = session.client("sagemaker")
        arn = pipeline.upsert(client, definition, cfg.aws.sagemaker_role_arn)
        log.add(window, "retrain", "pipeline created or updated", pipeline=arn)
        execution = pipeline.start(client, definition.name, capture_uri=self.monitoring.capture_uri,
                                   ground_truth_uri=self.monitoring.ground_truth_uri,
                                   min_auc=self.min_auc)
        log.add(window, "retrain", "pipeline started: prepare, train, evaluate, quality gate, "
                                   "register PendingManualApproval", execution=execution)
        log.add(window, "approve", "waiting for a person: approve the package in the registry, "
                                   "then deployer.sync() stages it and deployer.promote() serves it")
        return execution
