"""Retraining on AWS as a SageMaker Pipeline, defined with sagemaker 3.x's workflow API:

    PrepareData (processing) → Train (training) → Evaluate (processing) →
    QualityGate (ROC-AUC ≥ MinAuc) → Register (processing: model package, PendingManualApproval)
                                    ↘ Fail (below the gate: nothing registered)

the steps the reference contact-center system builds its model with, each running the kit's own
code: the processing steps `python -m rfmkit.monitoring.pipeline_steps`, the training step the same
entry point as notebook 04's SageMaker training. Locally the same steps run in process
(rfmkit.monitoring.actions.Retrainer). Nothing here calls AWS until `upsert`/`start`; the
definition is checked offline.
"""

from __future__ import annotations

import json

from rfmkit.monitoring.aws import PROCESSING

AUC_PATH = "binary_classification_metrics.auc.value"  # evaluation.json, SageMaker's model-quality layout
STEP_COMMAND = (f"cd {PROCESSING}/code && tar -xzf sourcedir.tar.gz && "
                "python -m rfmkit.monitoring.pipeline_steps")


def pipeline_name(model_name: str) -> str:
    from rfmkit.sagemaker_jobs import safe_name

    return safe_name(f"{model_name}-retrain")


def build(cfg, session, *, model_name: str, kinds: dict[str, str], columns: list[str],
          train_uri: str, code_uri: str, capture_uri: str, ground_truth_uri: str,
          instance_type: str = "ml.m5.large", min_auc: float = 0.7, budget: int = 2,
          folds: int = 3, seed: int = 42):
    """The Pipeline object (its `definition()` is the JSON SageMaker receives)."""
    import boto3

    if boto3.DEFAULT_SESSION is None or not boto3.DEFAULT_SESSION.region_name:
        # sagemaker.mlops creates a client at import time from boto3's default session, which
        # fails without a region; give it the run's (the environment is left as it is)
        boto3.setup_default_session(region_name=cfg.aws.region)
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode, StoppingCondition
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
    from sagemaker.train import ModelTrainer

    from rfmkit.churn.sagemaker_training import SageMakerChurnTrainer, serving_image
    from rfmkit.sagemaker_jobs import run_folder_uri

    region, role = cfg.aws.region, cfg.aws.sagemaker_role_arn
    image = serving_image(region)
    base = run_folder_uri(cfg, "retraining")
    pipeline_session = PipelineSession(boto_session=session, default_bucket=cfg.aws.bucket)
    min_auc_parameter = ParameterFloat(name="MinAuc", default_value=float(min_auc))
    capture = ParameterString(name="CaptureUri", default_value=capture_uri)
    truth = ParameterString(name="GroundTruthUri", default_value=ground_truth_uri)

    def s3_input(name: str, uri, local: str) -> ProcessingInput:
        return ProcessingInput(input_name=name, s3_input=ProcessingS3Input(
            s3_uri=uri, local_path=f"{PROCESSING}/{local}", s3_data_type="S3Prefix",
            s3_input_mode="File", s3_data_distribution_type="FullyReplicated"))

    def s3_output(name: str, uri, local: str) -> ProcessingOutput:
        return ProcessingOutput(output_name=name, s3_output=ProcessingS3Output(
            s3_uri=uri, local_path=f"{PROCESSING}/{local}", s3_upload_mode="EndOfJob"))

    def processor(step: str, arguments: list) -> Processor:
        return Processor(role=role, image_uri=image, instance_count=1, instance_type=instance_type,
                         entrypoint=["bash", "-c", f"{STEP_COMMAND} {step} \"$@\"", "step"],
                         base_job_name=f"rfmkit-retrain-{step}", sagemaker_session=pipeline_session)

    code = s3_input("code", code_uri.rsplit("/", 1)[0], "code")
    prepare = ProcessingStep(name="PrepareData", step_args=processor("prepare", []).run(
        inputs=[code, s3_input("train", train_uri, "train"), s3_input("capture", capture, "capture"),
                s3_input("groundtruth", truth, "groundtruth")],
        outputs=[s3_output("train", f"{base}/train", "output/train")],
        arguments=["--kinds", json.dumps(kinds), "--columns", json.dumps(columns)]))

    churn_trainer = SageMakerChurnTrainer(cfg, instance_type=instance_type, boto_session=session)
    trainer = ModelTrainer(
        sagemaker_session=pipeline_session, role=role, training_image=image,
        source_code=SourceCode(source_dir=str(churn_trainer.source_dir()), entry_script="train_churn.py"),
        base_job_name="rfmkit-retrain", compute=Compute(instance_type=instance_type, instance_count=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=3600),
        output_data_config=OutputDataConfig(s3_output_path=f"{base}/model"),
        hyperparameters={"name": model_name, "kinds": json.dumps(kinds), "budget": budget,
                         "folds": folds, "seed": seed})
    train = TrainingStep(name="Train", step_args=trainer.train(input_data_config=[InputData(
        channel_name="train", content_type="text/csv",
        data_source=prepare.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri)]))

    model_uri = train.properties.ModelArtifacts.S3ModelArtifacts
    evaluation_file = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate", property_files=[evaluation_file],
        step_args=processor("evaluate", []).run(
            inputs=[code, s3_input("model", model_uri, "model")],
            outputs=[s3_output("evaluation", f"{base}/evaluation", "evaluation")]))
    evaluation_uri = Join(on="/", values=[
        evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri, "evaluation.json"])
    register = ProcessingStep(name="Register", step_args=processor("register", []).run(
        inputs=[code, s3_input("evaluation", evaluate.properties.ProcessingOutputConfig.Outputs[
            "evaluation"].S3Output.S3Uri, "evaluation")],
        arguments=["--model-name", model_name, "--model-uri", model_uri, "--evaluation-uri", evaluation_uri,
                   "--min-auc", min_auc_parameter.to_string(), "--region", region, "--image", image]))
    gate = ConditionStep(
        name="QualityGate",
        conditions=[ConditionGreaterThanOrEqualTo(
            left=JsonGet(step_name=evaluate.name, property_file=evaluation_file, json_path=AUC_PATH),
            right=min_auc_parameter)],
        if_steps=[register],
        else_steps=[FailStep(name="BelowQualityGate", error_message=Join(
            on=" ", values=["the retrained candidate's ROC-AUC is below", min_auc_parameter]))])
    return Pipeline(name=pipeline_name(model_name), parameters=[min_auc_parameter, capture, truth],
                    steps=[prepare, train, evaluate, gate], sagemaker_session=pipeline_session)


def upsert(client, pipeline, role_arn: str) -> str:
    """Create the pipeline in SageMaker, or update it to this definition; returns its ARN."""
    from botocore.exceptions import ClientError

    definition = pipeline.definition()
    try:
        return client.create_pipeline(PipelineName=pipeline.name, PipelineDefinition=definition,
                                      RoleArn=role_arn, PipelineDescription=DESCRIPTION)["PipelineArn"]
    except ClientError as exc:  # a pipeline of that name: SageMaker says names must be unique
        message = exc.response["Error"].get("Message", "").lower()
        if "unique" not in message and "already exists" not in message:
            raise
    return client.update_pipeline(PipelineName=pipeline.name, PipelineDefinition=definition,
                                  RoleArn=role_arn, PipelineDescription=DESCRIPTION)["PipelineArn"]


def start(client, name: str, *, capture_uri: str, ground_truth_uri: str, min_auc: float) -> str:
    """One execution; returns its ARN."""
    return client.start_pipeline_execution(
        PipelineName=name, PipelineExecutionDescription="retraining after a monitoring alarm",
        PipelineParameters=[{"Name": "MinAuc", "Value": str(min_auc)},
                            {"Name": "CaptureUri", "Value": capture_uri},
                            {"Name": "GroundTruthUri", "Value": ground_truth_uri}],
    )["PipelineExecutionArn"]


DESCRIPTION = "rfmkit: retrain the churn model on training data plus labelled served rows (notebook 10)"
