"""CloudFormation: read the workshop stack's outputs into the run's AWS settings.

(Deploying and deleting the stack arrives with the templates, in the cloud-setup issue.)
"""

from __future__ import annotations

from typing import Any

# Stack output key -> AwsSettings field. The workshop template exports these names.
OUTPUT_TO_SETTING = {
    "Region": "region",
    "BucketName": "bucket",
    "RedshiftWorkgroup": "workgroup",
    "RedshiftClusterId": "cluster_id",
    "RedshiftDatabase": "database",
    "RedshiftSecretArn": "secret_arn",
    "RedshiftRoleArn": "copy_role_arn",
    "SageMakerRoleArn": "sagemaker_role_arn",
}


class StackError(RuntimeError):
    """The stack is missing or not in a usable state."""


def stack_outputs(stack_name: str, client=None, region: str | None = None) -> dict[str, str]:
    """Outputs of a stack that finished creating/updating, as {OutputKey: OutputValue}."""
    if client is None:
        import boto3

        client = boto3.client("cloudformation", region_name=region)
    try:
        stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    except client.exceptions.ClientError as exc:
        raise StackError(f"stack {stack_name!r}: {exc}") from exc
    stack = stacks[0]
    status = stack["StackStatus"]
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
        raise StackError(f"stack {stack_name!r} is {status}; wait for it or fix it first")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def settings_from_outputs(outputs: dict[str, str], stack_name: str) -> dict[str, Any]:
    """AwsSettings values from stack outputs (unknown outputs are ignored)."""
    values: dict[str, Any] = {OUTPUT_TO_SETTING[k]: v for k, v in outputs.items()
                              if k in OUTPUT_TO_SETTING}
    values["stack_name"] = stack_name
    return values
