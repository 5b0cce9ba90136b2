"""The contact center's AWS path, offline: the template (its functions, environment, rules and
outputs agree with the code), EventBridge patterns tried on real event shapes (moto), the Lambda
package imported from its zip, SageMaker Feature Store and Lambda request shapes (Stubber, moto
has no Feature Store runtime), the handlers end to end on DynamoDB (moto), and the service limits
the Stubber does not check."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from test_contact_center_stores import create_template_tables

from rfmkit import cloudformation
from rfmkit.config import AwsSettings, RunConfig
from rfmkit.contact_center import events, handlers, lambda_package, online
from rfmkit.contact_center.aws import AwsContactCenter, feature_group_name
from rfmkit.contact_center.dynamodb import DynamoContactStore
from rfmkit.paths import PROJECT_ROOT

REGION = "us-east-1"
TEMPLATE = PROJECT_ROOT / "cloudformation" / "rfmkit-contact-center.yaml"
INSTANCE = "arn:aws:connect:us-east-1:123456789012:instance/11111111-2222-3333-4444-555555555555"


def parsed():
    from cfnlint.decode import decode

    document, problems = decode(str(TEMPLATE))
    assert not problems
    return document


def resources(kind: str) -> dict:
    return {n: r["Properties"] for n, r in parsed()["Resources"].items() if r["Type"] == kind}


@pytest.fixture
def aws_credentials(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


# -- the template agrees with the code ------------------------------------------------------------
def test_every_function_runs_a_handler_with_the_environment_it_reads():
    functions = resources("AWS::Lambda::Function")
    assert {p["Handler"].rsplit(".", 1)[1] for p in functions.values()} == {
        "customer_lookup", "get_prompts", "sentiment_update", "contact_ended", "update_contract", "churn_history"}
    for props in functions.values():
        module, _, name = props["Handler"].rpartition(".")
        assert module == "rfmkit.contact_center.handlers" and callable(getattr(handlers, name))
        assert set(props["Environment"]["Variables"]) == set(handlers.ENVIRONMENT)
        assert props["Runtime"] == "python3.11" and props["Timeout"] <= 30
    lookup = next(p for p in functions.values() if p["Handler"].endswith("customer_lookup"))
    assert lookup["Timeout"] <= 8  # Amazon Connect waits 8 seconds at most


def test_the_api_is_iam_authorised_without_cors_and_uses_the_proxy_event_the_handlers_read():
    routes = resources("AWS::ApiGatewayV2::Route")
    assert {r["RouteKey"] for r in routes.values()} == {
        "GET /contacts", "GET /contacts/{contactId}/history", "POST /contacts/{contactId}/contract"}
    assert all(r["AuthorizationType"] == "AWS_IAM" for r in routes.values())
    api = next(iter(resources("AWS::ApiGatewayV2::Api").values()))
    assert "CorsConfiguration" not in api
    assert all(i["PayloadFormatVersion"] == "1.0" for i in resources("AWS::ApiGatewayV2::Integration").values())


def test_outputs_become_settings():
    outputs = set(parsed()["Outputs"])
    assert outputs - set(cloudformation.OUTPUT_TO_SETTING) == {"AgentApiPolicyArn", "FailedEventsQueueUrl"}


def test_failed_events_are_kept_not_lost():
    for rule in resources("AWS::Events::Rule").values():
        target = rule["Targets"][0]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0 and "DeadLetterConfig" in target


def test_the_template_fits_in_a_create_stack_request():
    # CloudFormation takes a TemplateBody of at most 51,200 bytes; the Stubber does not check it.
    for path in (PROJECT_ROOT / "cloudformation").glob("*.yaml"):
        assert len(path.read_bytes()) <= 51_200, path.name


def _pattern(rule: dict) -> dict:
    """The rule's event pattern with the Connect instance parameter filled in."""
    text = json.dumps(rule["EventPattern"]).replace(json.dumps({"Ref": "ConnectInstanceArn"}), json.dumps(INSTANCE))
    return json.loads(text)


def test_eventbridge_rules_match_what_connect_sends_and_nothing_else():
    # moto's EventBridge pattern matcher (its test_event_pattern API answers without a Result).
    from moto.events.models import EventPattern

    rules = {n: _pattern(r) for n, r in resources("AWS::Events::Rule").items()}
    negative = events.sentiment_event("c-1", "negative", instance_arn=INSTANCE)
    hangup = events.disconnected_event("c-1", instance_arn=INSTANCE)
    connected = json.loads(json.dumps(hangup))
    connected["detail"]["eventType"] = "CONNECTED_TO_AGENT"
    other_rule = json.loads(json.dumps(negative))
    other_rule["detail"]["ruleName"] = "supervisor-escalation"
    other_instance = events.sentiment_event("c-1", "negative", instance_arn=INSTANCE.replace("1111", "9999"))

    def matches(rule: str, event: dict) -> bool:
        return EventPattern.load(json.dumps(rules[rule])).matches_event(event)

    assert matches("SentimentRule", negative)
    assert matches("SentimentRule", events.sentiment_event("c-1", "positive", instance_arn=INSTANCE))
    assert not matches("SentimentRule", other_rule) and not matches("SentimentRule", other_instance)
    assert not matches("SentimentRule", hangup)
    assert matches("ContactEndedRule", hangup) and not matches("ContactEndedRule", connected)
    assert not matches("ContactEndedRule", negative)


# -- the Lambda package ---------------------------------------------------------------------------
def test_the_package_is_reproducible_small_and_imports_from_its_zip(tmp_path):
    payload, key = lambda_package.build()
    assert lambda_package.build() == (payload, key)  # same code, same bytes, same key
    assert key.startswith("lambda/rfmkit-contact-center-") and len(payload) < 200_000
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert sorted(archive.namelist()) == sorted(lambda_package.MODULES)
    package = tmp_path / "package.zip"
    package.write_bytes(payload)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import rfmkit.contact_center.handlers as h; "
            "assert h.__file__.startswith(sys.argv[1]), h.__file__; "
            "print(h.customer_lookup({'Details': {}})['found'], "
            "sorted(m for m in ('pandas', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(package)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "false []"


# -- SageMaker Feature Store (Stubber) ------------------------------------------------------------
def test_online_features_put_and_get_as_feature_store_expects():
    client = boto3.client("sagemaker-featurestore-runtime", region_name=REGION)
    store = online.FeatureStoreOnline(client, "rfmkit-contact-center-features")
    with Stubber(client) as stub:
        stub.add_response("put_record", {}, {
            "FeatureGroupName": "rfmkit-contact-center-features",
            "Record": [{"FeatureName": "State", "ValueAsString": "PA"},
                       {"FeatureName": "pastSenti_neg", "ValueAsString": "3.0"},
                       {"FeatureName": "customer_id", "ValueAsString": "4032562"},
                       {"FeatureName": "event_time", "ValueAsString": "2026-12-03T10:00:00.000Z"}]})
        store.put("4032562", {"State": "PA", "pastSenti_neg": 3, "Day_Mins": None}, "2026-12-03T10:00:00.000Z")
        stub.add_response("get_record", {"Record": [{"FeatureName": "State", "ValueAsString": "PA"},
                                                    {"FeatureName": "pastSenti_neg", "ValueAsString": "3.0"}]},
                          {"FeatureGroupName": "rfmkit-contact-center-features",
                           "RecordIdentifierValueAsString": "4032562"})
        assert store.get("4032562") == {"State": "PA", "pastSenti_neg": 3.0}
        stub.add_response("get_record", {}, {"FeatureGroupName": ANY, "RecordIdentifierValueAsString": "nobody"})
        assert store.get("nobody") is None


def aws_config(tmp_path, **extra) -> RunConfig:
    return RunConfig(backend="aws", run_dir=tmp_path, aws=AwsSettings(
        region=REGION, bucket="workshop-data", prefix="rfmkit", stack_name="rfmkit",
        sagemaker_role_arn="arn:aws:iam::123456789012:role/rfmkit-sagemaker", **extra))


class Session:
    """A boto3 session handing out the given (stubbed) clients."""

    def __init__(self, clients: dict):
        self.clients = clients

    def client(self, name: str):
        return self.clients.setdefault(name, boto3.client(name, region_name=REGION))


def test_the_feature_group_is_created_once_with_its_offline_store(tmp_path):
    from rfmkit.contact_center.features import feature_definitions

    sagemaker = boto3.client("sagemaker", region_name=REGION)
    center = AwsContactCenter(aws_config(tmp_path), Session({"sagemaker": sagemaker}))
    columns = ["State", "Day_Mins", "pastSenti_neg", "mth_remain"]
    name = feature_group_name(center.cfg)
    with Stubber(sagemaker) as stub:
        stub.add_client_error("describe_feature_group", "ResourceNotFound", expected_params={"FeatureGroupName": name})
        arn = f"arn:aws:sagemaker:{REGION}:1:feature-group/{name}"
        stub.add_response("create_feature_group", {"FeatureGroupArn": arn},
                          {"FeatureGroupName": name, "RecordIdentifierFeatureName": "customer_id",
                           "EventTimeFeatureName": "event_time", "FeatureDefinitions": feature_definitions(columns),
                           "OnlineStoreConfig": {"EnableOnlineStore": True},
                           "OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": "s3://workshop-data/rfmkit/feature-store"},
                                                  "DisableGlueTableCreation": True},
                           "RoleArn": "arn:aws:iam::123456789012:role/rfmkit-sagemaker", "Description": ANY})
        for status in ("Creating", "Created"):
            stub.add_response("describe_feature_group", {
                "FeatureGroupArn": "arn", "FeatureGroupName": name, "RecordIdentifierFeatureName": "customer_id",
                "EventTimeFeatureName": "event_time", "FeatureDefinitions": feature_definitions(columns),
                "CreationTime": "2026-12-03T00:00:00Z", "FeatureGroupStatus": status, "NextToken": ""})
        assert center.prepare_feature_store(columns, progress=lambda *_: None, poll_seconds=0).endswith("Created")
        stub.add_response("describe_feature_group", {
            "FeatureGroupArn": "arn", "FeatureGroupName": name, "RecordIdentifierFeatureName": "customer_id",
            "EventTimeFeatureName": "event_time", "FeatureDefinitions": feature_definitions(columns),
            "CreationTime": "2026-12-03T00:00:00Z", "FeatureGroupStatus": "Created", "NextToken": ""})
        assert center.prepare_feature_store(columns, progress=lambda *_: None, poll_seconds=0).endswith("Created")
        stub.assert_no_pending_responses()
    assert all(len(d["FeatureName"]) <= 64 for d in feature_definitions(columns))


def test_deploy_uploads_the_package_creates_the_stack_and_saves_its_outputs(tmp_path):
    s3, stacks = boto3.client("s3", region_name=REGION), boto3.client("cloudformation", region_name=REGION)
    cfg = aws_config(tmp_path, connect_instance_arn=INSTANCE)
    center = AwsContactCenter(cfg, Session({"s3": s3, "cloudformation": stacks}))
    payload, key = lambda_package.build()
    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/rfmkit-contact-center/1"
    outputs = {"ContactProfilesTable": "rfmkit-cc-profiles", "ContactsTable": "rfmkit-cc-contacts",
               "ContactPromptsTable": "rfmkit-cc-prompts", "ContactCenterApiUrl": "https://abc.execute-api.aws",
               "ContactCenterFunctions":
                   "customer_lookup=rfmkit-cc-customer-lookup,churn_history=rfmkit-cc-churn-history"}
    described = {"Stacks": [{"StackName": "rfmkit-contact-center", "StackId": stack_id, "CreationTime": "2026-12-03",
                             "StackStatus": "CREATE_COMPLETE",
                             "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}
    with Stubber(s3) as s3_stub, Stubber(stacks) as stack_stub:
        s3_stub.add_response("put_object", {}, {"Bucket": "workshop-data", "Key": f"rfmkit/{key}", "Body": payload})
        stack_stub.add_client_error("describe_stacks", "ValidationError", "Stack does not exist")
        stack_stub.add_response("create_stack", {"StackId": stack_id}, {
            "StackName": "rfmkit-contact-center", "TemplateBody": TEMPLATE.read_text(), "OnFailure": "ROLLBACK",
            "Capabilities": ["CAPABILITY_IAM"], "Parameters": [
                {"ParameterKey": "Prefix", "ParameterValue": "rfmkit"},
                {"ParameterKey": "CodeBucket", "ParameterValue": "workshop-data"},
                {"ParameterKey": "CodeObject", "ParameterValue": f"rfmkit/{key}"},
                {"ParameterKey": "EndpointName", "ParameterValue": "rfmkit-contact-center"},
                {"ParameterKey": "FeatureGroupName", "ParameterValue": "rfmkit-contact-center-features"},
                {"ParameterKey": "ConnectInstanceArn", "ParameterValue": INSTANCE}]})
        stack_stub.add_response("describe_stack_events", {"StackEvents": []})
        stack_stub.add_response("describe_stacks", described)
        stack_stub.add_response("describe_stacks", described)
        addresses = center.deploy("rfmkit-contact-center", progress=lambda *_: None, poll_seconds=0)
        s3_stub.assert_no_pending_responses()
        stack_stub.assert_no_pending_responses()
    assert addresses["api"] == "https://abc.execute-api.aws"
    assert center.functions() == {"customer_lookup": "rfmkit-cc-customer-lookup",
                                  "churn_history": "rfmkit-cc-churn-history"}
    from rfmkit.config import AWS_SETTINGS_FILE

    saved = json.loads((tmp_path / AWS_SETTINGS_FILE).read_text())  # later notebooks of the run read it
    assert saved["contacts_table"] == "rfmkit-cc-contacts" and saved["contact_center_api"].startswith("https://")
    assert center.store.contacts_table == "rfmkit-cc-contacts"


def test_deploy_needs_the_connect_instance(tmp_path):
    from rfmkit.config import ConfigError

    with pytest.raises(ConfigError, match="connect_instance_arn"):
        AwsContactCenter(aws_config(tmp_path), Session({})).deploy("rfmkit-contact-center")


# -- the handlers end to end on AWS request shapes ------------------------------------------------
def body(payload: dict) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_handlers_on_dynamodb_feature_store_and_the_endpoint(aws_credentials, monkeypatch):
    from moto import mock_aws

    with mock_aws():
        names = create_template_tables(boto3.client("dynamodb", region_name=REGION))
        for variable, value in (("RFMKIT_PROFILES_TABLE", names["ProfilesTable"]),
                                ("RFMKIT_CONTACTS_TABLE", names["ContactsTable"]),
                                ("RFMKIT_PROMPTS_TABLE", names["PromptsTable"]),
                                ("RFMKIT_FEATURE_GROUP", "rfmkit-contact-center-features"),
                                ("RFMKIT_ENDPOINT", "rfmkit-contact-center")):
            monkeypatch.setenv(variable, value)
        services = handlers.Services.from_environment()  # what a cold Lambda does
        assert isinstance(services.store, DynamoContactStore)
        assert services.store.contacts_table == "rfmkit-cc-contacts"
        features_client = boto3.client("sagemaker-featurestore-runtime", region_name=REGION)
        runtime = boto3.client("sagemaker-runtime", region_name=REGION)
        services.features.runtime, services.scorer.runtime = features_client, runtime
        services.store.put_profiles([{"customer_id": "4032562", "first_name": "Ana", "last_name": "Silva",
                                      "phone": "+12015550100", "segment": "Champions", "clv": 900.0,
                                      "contract_months": 12, "churn_risk": 0.2, "at_risk": False, "vip": True,
                                      "routing_priority": 2}])
        record = [{"FeatureName": "customer_id", "ValueAsString": "4032562"},
                  {"FeatureName": "pastSenti_neg", "ValueAsString": "1.0"},
                  {"FeatureName": "mth_remain", "ValueAsString": "12.0"}]
        invoke = {"EndpointName": "rfmkit-contact-center", "ContentType": "application/json",
                  "Accept": "application/json", "Body": ANY}
        handlers.configure(services)
        try:
            with Stubber(features_client) as fs, Stubber(runtime) as rt:
                fs.add_response("get_record", {"Record": record}, {
                    "FeatureGroupName": "rfmkit-contact-center-features", "RecordIdentifierValueAsString": "4032562"})
                rt.add_response("invoke_endpoint", {"Body": body({"predictions": [
                    {"churn_probability": 0.71, "churn_label": 1}]})}, invoke)
                answer = handlers.customer_lookup(events.contact_flow_event("aws-call", "+12015550100"))
                assert answer["found"] == "true" and answer["routingPriority"] == "1"
                assert answer["churnRisk"] == "0.7100"

                rt.add_response("invoke_endpoint", {"Body": body({"predictions": [
                    {"churn_probability": 0.83, "churn_label": 1}]})}, invoke)
                fs.add_response("put_record", {}, {"FeatureGroupName": "rfmkit-contact-center-features", "Record": ANY})
                event = events.sentiment_event("aws-call", "negative")
                assert handlers.sentiment_update(event)["status"] == "applied"
                rt.add_response("invoke_endpoint", {"Body": body({"predictions": [
                    {"churn_probability": 0.83, "churn_label": 1}]})}, invoke)
                assert handlers.sentiment_update(event)["status"] == "duplicate"  # scored, not recorded
                fs.assert_no_pending_responses()
                rt.assert_no_pending_responses()
            assert handlers.contact_ended(events.disconnected_event("aws-call"))["status"] == "applied"
            contact = services.store.contact("aws-call")
            assert [s["churn_probability"] for s in contact.scores] == [0.71, 0.83]
            assert contact.counts["negative"] == 1 and contact.ended_at
            assert services.store.profile_by_phone("+12015550100")["churn_risk"] == 0.83
        finally:
            handlers.configure(None)


def test_a_lambda_without_its_environment_says_what_is_missing(monkeypatch):
    for variable in handlers.ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(RuntimeError, match="RFMKIT_PROFILES_TABLE"):
        handlers.Services.from_environment()


def test_the_simulator_invokes_the_deployed_functions_on_aws():
    from rfmkit.contact_center.simulator import LambdaApi

    client = boto3.client("lambda", region_name=REGION)
    api = LambdaApi(client, {"customer_lookup": "rfmkit-cc-customer-lookup",
                             "sentiment_update": "rfmkit-cc-sentiment-update"})
    event = events.contact_flow_event("c-1", "+12015550100")
    with Stubber(client) as stub:
        stub.add_response("invoke", {"StatusCode": 200, "Payload": body({"found": "true"})},
                          {"FunctionName": "rfmkit-cc-customer-lookup", "Payload": json.dumps(event)})
        assert api.lookup(event) == {"found": "true"}
        stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                     "Payload": body({"errorMessage": "boom"})},
                          {"FunctionName": "rfmkit-cc-sentiment-update", "Payload": ANY})
        with pytest.raises(Exception, match="boom"):
            api.send(events.sentiment_event("c-1", "negative"))


# -- limits the Stubber does not check ------------------------------------------------------------
def test_a_long_call_stays_within_a_dynamodb_item():
    """DynamoDB items are at most 400 KB: a contact item holds MAX_EVENTS_PER_CALL scores."""
    from rfmkit.contact_center.store import Contact

    contact = Contact("4a573372-1f28-4e26-b97b-000000000001", "4032562", "+12015550100",
                      "2026-12-03T10:00:00.000Z", {f"feature_{i}": 1234.5678 for i in range(24)})
    score = {"at": "2026-12-03T10:00:00.000Z", "event": "sentiment", "event_id": "5f2b3a7c-0000-4000-8000-000000000000",
             "churn_probability": 0.123456, "churn_label": 0, "sentiment": "negative"}
    events_per_call = handlers.MAX_EVENTS_PER_CALL
    item = {**contact.to_dict(), "scores": [score] * events_per_call,
            "event_ids": {score["event_id"] + str(i) for i in range(events_per_call)}}
    assert len(json.dumps(item, default=list)) < 0.9 * 400_000


def test_connect_answers_fit_its_limit():
    """Amazon Connect accepts a flat map of strings of at most 32 KB from a function."""
    answer = {"found": "true", "customerId": "4032562", "firstName": "x" * 100, "lastName": "y" * 100,
              "vip": "true", "routingPriority": "1", "segment": "Champions", "clv": "123.45",
              "contractMonths": "36", "churnRisk": "0.1234", "atRisk": "true", "scoreSource": "model"}
    assert len(json.dumps(answer).encode()) < 32 * 1024
