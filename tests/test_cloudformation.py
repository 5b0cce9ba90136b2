import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from rfmkit import cloudformation
from rfmkit.paths import PROJECT_ROOT


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


# -- the templates ------------------------------------------------------------------------------
TEMPLATES = sorted((PROJECT_ROOT / "cloudformation").glob("*.yaml"))
# Actions with no resource-level permissions, the only ones allowed on Resource "*" (each scoped
# further by a condition or harmless on its own).
RESOURCELESS = {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "redshift-data:DescribeStatement",
                "redshift-data:GetStatementResult", "redshift-data:CancelStatement"}


def template(path):
    from cfnlint.decode import decode

    parsed, problems = decode(str(path))
    assert not problems, problems
    return parsed


def statements(parsed):
    """(resource name, statement) for every IAM statement: inline role policies and bucket policies."""
    for name, resource in parsed["Resources"].items():
        props = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        if "PolicyDocument" in props:
            documents.append(props["PolicyDocument"])
        for document in documents:
            for statement in document["Statement"]:
                yield name, statement


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_there_are_the_workshop_and_contact_center_templates():
    assert [p.name for p in TEMPLATES] == ["rfmkit-contact-center.yaml", "rfmkit-workshop.yaml"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_reports_nothing(path):
    cfn_lint = Path(sys.executable).with_name("cfn-lint")  # installed beside the interpreter
    done = subprocess.run([str(cfn_lint), str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_least_privilege_rules(path):
    parsed = template(path)
    allows = [(n, s) for n, s in statements(parsed) if s["Effect"] == "Allow"]
    assert allows
    for name, statement in allows:
        actions = as_list(statement["Action"])
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), (name, actions)
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= RESOURCELESS, (name, actions)
    for _name, statement in statements(parsed):  # s3:* appears only in the TLS-only Deny
        if "s3:*" in as_list(statement["Action"]):
            assert statement["Effect"] == "Deny" and statement["Condition"]["Bool"]["aws:SecureTransport"] == "false"
            assert "*" not in as_list(statement["Resource"])


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_secrets_or_fixed_zones_and_private_by_default(path):
    parsed = template(path)
    text = path.read_text()
    for name, parameter in parsed.get("Parameters", {}).items():
        if re.search(r"pass|secret|token|key", name, re.IGNORECASE):
            assert "Default" not in parameter and parameter.get("NoEcho"), name
    assert not re.search(r"\b[a-z]{2}-[a-z]+-\d[a-z]\b", text), "hard-coded availability zone"
    assert not re.search(r"(?i)(password|secret)\s*:\s*\S", text.replace("ManageAdminPassword: true", ""))
    resources = parsed["Resources"]
    for table in (r["Properties"] for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"):
        assert table["SSESpecification"]["SSEEnabled"] is True and table["BillingMode"] == "PAY_PER_REQUEST"
    if path.name != "rfmkit-workshop.yaml":
        return
    by_type = {r["Type"]: r["Properties"] for r in resources.values()}
    namespace = by_type["AWS::RedshiftServerless::Namespace"]
    assert namespace["ManageAdminPassword"] is True and "AdminUserPassword" not in namespace
    assert by_type["AWS::RedshiftServerless::Workgroup"]["PubliclyAccessible"] is False
    bucket = by_type["AWS::S3::Bucket"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
        "SSEAlgorithm"] == "aws:kms"
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_outputs_are_what_notebook_00_reads():
    outputs = template(PROJECT_ROOT / "cloudformation" / "rfmkit-workshop.yaml")["Outputs"]
    read = set(cloudformation.OUTPUT_TO_SETTING)
    assert {"Region", "BucketName", "RedshiftWorkgroup", "RedshiftDatabase", "RedshiftRoleArn",
            "SageMakerRoleArn"} <= set(outputs)
    assert set(outputs) - read == {"NotebookInstance"}  # shown to the attendee, not a setting


# -- deploy / update / delete -------------------------------------------------------------------
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/rfmkit/1"


def described(status, outputs=None):
    answer = stack(status, outputs or {})
    answer["Stacks"][0]["StackId"] = STACK_ID
    return answer


def events(*rows):
    """Newest first, as CloudFormation returns them."""
    return {"StackEvents": [{"StackId": STACK_ID, "EventId": f"e{i}", "StackName": "rfmkit",
                             "LogicalResourceId": logical, "ResourceType": kind, "ResourceStatus": status,
                             "ResourceStatusReason": reason, "Timestamp": "2026-11-23T00:00:00Z"}
                            for i, (logical, kind, status, reason) in reversed(list(enumerate(rows)))]}


def missing(stub):
    stub.add_client_error("describe_stacks", "ValidationError", "Stack with id rfmkit does not exist")


def test_deploy_creates_waits_showing_events_and_returns_outputs():
    client = boto3.client("cloudformation", region_name="us-east-1")
    shown = []
    template = (PROJECT_ROOT / "cloudformation" / "rfmkit-workshop.yaml").read_text()
    with Stubber(client) as stub:
        missing(stub)
        stub.add_response("create_stack", {"StackId": STACK_ID},
                          {"StackName": "rfmkit", "TemplateBody": template, "OnFailure": "ROLLBACK",
                           "Capabilities": ["CAPABILITY_IAM"],
                           "Parameters": [{"ParameterKey": "Prefix", "ParameterValue": "rfmkit"}]})
        bucket = ("DataBucket", "AWS::S3::Bucket", "CREATE_IN_PROGRESS", "")
        stub.add_response("describe_stack_events", events(bucket))
        stub.add_response("describe_stacks", described("CREATE_IN_PROGRESS"))
        stub.add_response("describe_stack_events",
                          events(bucket, ("DataBucket", "AWS::S3::Bucket", "CREATE_COMPLETE", "")))
        stub.add_response("describe_stacks", described("CREATE_COMPLETE"))
        stub.add_response("describe_stacks", described("CREATE_COMPLETE", {"BucketName": "b"}))
        outputs = cloudformation.deploy("rfmkit", template, {"Prefix": "rfmkit"}, client=client,
                                        poll_seconds=0, progress=shown.append)
        stub.assert_no_pending_responses()
    assert outputs == {"BucketName": "b"}
    assert [line.split()[1] for line in shown] == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]  # each event once


def test_a_failed_create_names_the_resource_and_reason():
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stub:
        missing(stub)
        stub.add_response("create_stack", {"StackId": STACK_ID})
        stub.add_response("describe_stack_events", events(
            ("Workgroup", "AWS::RedshiftServerless::Workgroup", "CREATE_FAILED", "Insufficient subnets"),
            ("rfmkit", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", "")))
        stub.add_response("describe_stacks", described("ROLLBACK_COMPLETE"))
        with pytest.raises(cloudformation.StackError, match=r"ended ROLLBACK_COMPLETE; first failure: Workgroup "
                                                            r"\(AWS::RedshiftServerless::Workgroup\): Insufficient"):
            cloudformation.deploy("rfmkit", "{}", client=client, poll_seconds=0, progress=lambda _: None)


def test_update_without_changes_is_fine_and_delete_is_idempotent():
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", described("CREATE_COMPLETE"))
        stub.add_client_error("update_stack", "ValidationError", "No updates are to be performed.")
        stub.add_response("describe_stacks", described("CREATE_COMPLETE", {"Region": "us-east-1"}))
        assert cloudformation.deploy("rfmkit", "{}", client=client, progress=lambda _: None) == {"Region": "us-east-1"}
        stub.add_response("describe_stacks", described("CREATE_COMPLETE"))
        stub.add_response("describe_stacks", described("CREATE_COMPLETE"))
        stub.add_response("delete_stack", {}, {"StackName": STACK_ID})
        stub.add_response("describe_stack_events", events(("rfmkit", "AWS::CloudFormation::Stack",
                                                           "DELETE_IN_PROGRESS", "")))
        stub.add_response("describe_stacks", described("DELETE_COMPLETE"))
        assert cloudformation.delete("rfmkit", client=client, poll_seconds=0, progress=lambda _: None) is True
        missing(stub)
        assert cloudformation.delete("rfmkit", client=client, progress=lambda _: None) is False
        stub.assert_no_pending_responses()
