import boto3
import pytest
from botocore.stub import Stubber

from rfmkit import cloudformation


def stack(status, outputs):
    return {"Stacks": [{"StackName": "rfmkit", "CreationTime": "2026-11-01T00:00:00Z", "StackStatus": status,
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}


def test_outputs_become_aws_settings():
    client = boto3.client("cloudformation", region_name="us-east-1")
    outputs = {"BucketName": "rfmkit-123", "RedshiftWorkgroup": "rfmkit", "RedshiftRoleArn": "arn:aws:iam::1:role/r",
               "Unrelated": "x"}
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE", outputs), {"StackName": "rfmkit"})
        found = cloudformation.stack_outputs("rfmkit", client=client)
    settings = cloudformation.settings_from_outputs(found, "rfmkit")
    assert settings == {"bucket": "rfmkit-123", "workgroup": "rfmkit", "copy_role_arn": "arn:aws:iam::1:role/r",
                        "stack_name": "rfmkit"}


def test_stack_not_ready():
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE", {}), {"StackName": "rfmkit"})
        with pytest.raises(cloudformation.StackError, match="is ROLLBACK_COMPLETE"):
            cloudformation.stack_outputs("rfmkit", client=client)
