"""CloudFormation: deploy, update and delete the workshop stack (cloudformation/), and read its
outputs into the run's AWS settings. Waiting shows the stack's events as progress; a failure names
the first resource that failed and CloudFormation's reason."""

from __future__ import annotations

from typing import Any

# Stack output key -> AwsSettings field. The workshop template exports these names.
OUTPUT_TO_SETTING = {
    "Region": "region",
    "BucketName": "bucket",
    "S3Prefix": "prefix",
    "RedshiftWorkgroup": "workgroup",
    "RedshiftClusterId": "cluster_id",
    "RedshiftDatabase": "database",
    "RedshiftSecretArn": "secret_arn",
    "RedshiftRoleArn": "copy_role_arn",
    "SageMakerRoleArn": "sagemaker_role_arn",
    "QuickSightRoleArn": "quicksight_role_arn",
    "AlertsTopicArn": "alerts_topic_arn",
    "MonitorSchedulerRoleArn": "scheduler_role_arn",
    "RequestStreamName": "request_stream",
    "ScoreStreamName": "score_stream",
    "StreamCheckpointsTable": "stream_checkpoints_table",
    # the contact-center stack (cloudformation/rfmkit-contact-center.yaml, notebook 09)
    "ContactProfilesTable": "contact_profiles_table",
    "ContactsTable": "contacts_table",
    "ContactPromptsTable": "contact_prompts_table",
    "ContactCenterApiUrl": "contact_center_api",
    "ContactCenterFunctions": "contact_center_functions",
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


# -- deploy, update, delete -----------------------------------------------------------------------
DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE"}
FAILED = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
          "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_FAILED"}


def deploy(stack_name: str, template_body: str, parameters: dict[str, str] | None = None, *,
           client=None, region: str | None = None, poll_seconds: float = 10.0,
           progress=print) -> dict[str, str]:
    """Create the stack, or update it when it exists; wait, showing its events; return its outputs.

    A failure raises StackError naming the first resource that failed and CloudFormation's reason.
    """
    from botocore.exceptions import ClientError

    client = client or _client(region)
    arguments = {"StackName": stack_name, "TemplateBody": template_body,
                 "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)}
                                for k, v in (parameters or {}).items()],
                 "Capabilities": ["CAPABILITY_IAM"]}
    exists = _status(client, stack_name) not in (None, "DELETE_COMPLETE")
    try:
        if exists:
            stack_id = client.update_stack(**arguments)["StackId"]
        else:
            stack_id = client.create_stack(**arguments, OnFailure="ROLLBACK")["StackId"]
    except ClientError as exc:
        if exists and "No updates are to be performed" in str(exc):
            progress(f"{stack_name}: already up to date")
            return stack_outputs(stack_name, client=client)
        raise StackError(f"stack {stack_name!r}: {exc}") from exc
    _follow(client, stack_id, stack_name, poll_seconds, progress)
    return stack_outputs(stack_name, client=client)


def delete(stack_name: str, *, client=None, region: str | None = None, poll_seconds: float = 10.0,
           progress=print) -> bool:
    """Delete the stack and wait; False when there was none (deleting twice is fine)."""
    client = client or _client(region)
    status = _status(client, stack_name)
    if status in (None, "DELETE_COMPLETE"):
        progress(f"{stack_name}: no such stack, nothing to delete")
        return False
    stack_id = client.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
    client.delete_stack(StackName=stack_id)
    _follow(client, stack_id, stack_name, poll_seconds, progress)
    return True


def _client(region: str | None):
    import boto3

    return boto3.client("cloudformation", region_name=region)


def _status(client, stack_name: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return client.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def _follow(client, stack_id: str, stack_name: str, poll_seconds: float, progress) -> str:
    """Poll until the stack settles, printing each new event; raise on failure with the cause."""
    import time

    seen: set[str] = set()
    failures: list[str] = []
    while True:
        events = client.describe_stack_events(StackName=stack_id)["StackEvents"]  # newest first
        for event in reversed(events):
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            reason = event.get("ResourceStatusReason", "")
            progress(f"{event['LogicalResourceId']:28} {event['ResourceStatus']:22} {reason}".rstrip())
            if event["ResourceStatus"].endswith("_FAILED") and event["LogicalResourceId"] != stack_name:
                failures.append(f"{event['LogicalResourceId']} ({event['ResourceType']}): {reason}")
        status = client.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if status in DONE:
            return status
        if status in FAILED:
            cause = failures[0] if failures else "no resource reported a reason"
            raise StackError(f"stack {stack_name!r} ended {status}; first failure: {cause}")
        time.sleep(poll_seconds)
