"""The contact-center handlers called as Lambda calls them: AWS-shaped events (some typed out as
AWS's documentation shows them), a corpus of bad events (each answered with a clear error, never
an exception), redeliveries (no second prediction), concurrent events of one call (none lost).
Scoring goes through a real local endpoint serving a churn model of the shipped data."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading

import contact_center_run
import pytest

from rfmkit.contact_center import events, handlers

DOC_INSTANCE = "arn:aws:connect:us-west-2:123456789012:instance/c8c0e68d-2200-4265-82c0-XXXXXXXXXX"


@pytest.fixture(scope="module")
def center(tmp_path_factory):
    setup = contact_center_run.start(tmp_path_factory.mktemp("cc-handlers"))
    handlers.configure(setup.services)
    yield {"prepared": setup.prepared, "profiles": setup.profiles, "services": setup.services,
           "model": setup.model, "warehouse": setup.warehouse}
    contact_center_run.stop(setup)


def doc_contact_flow_event(phone: str, contact_id: str) -> dict:
    """Amazon Connect's Lambda input as its documentation shows it."""
    return {"Details": {
        "ContactData": {
            "Attributes": {}, "Channel": "VOICE", "ContactId": contact_id,
            "CustomerEndpoint": {"Address": phone, "Type": "TELEPHONE_NUMBER"},
            "CustomerId": "someCustomerId", "Description": "someDescription",
            "InitialContactId": contact_id, "InitiationMethod": "INBOUND", "InstanceARN": DOC_INSTANCE,
            "LanguageCode": "en-US", "MediaStreams": {"Customer": {"Audio": None}}, "Name": "ContactFlowEvent",
            "PreviousContactId": contact_id,
            "Queue": {"ARN": f"{DOC_INSTANCE}/queue/5cba7cbf-1ecb-4b6d-b8bd-fe91079b3fc8", "Name": "PasswordReset",
                      "OutboundCallerId": {"Address": "+12345678903", "Type": "TELEPHONE_NUMBER"}},
            "References": {}, "SegmentAttributes": {},
            "SystemEndpoint": {"Address": "+1234567890", "Type": "TELEPHONE_NUMBER"}},
        "Parameters": {"sentAttributeKey": "sentAttributeValue"}},
        "Name": "ContactFlowEvent"}


def doc_contact_lens_event(contact_id: str, rule: str, event_id: str) -> dict:
    """EventBridge's Contact Lens real-time rule event as documented (our rule names)."""
    instance = "arn:aws:connect:us-west-2:123456789012:instance/instance-id"
    return {"version": "0", "id": event_id, "detail-type": "Contact Lens Realtime Rules Matched",
            "source": "aws.connect", "account": "123456789012", "time": "2021-03-30T21:50:25Z",
            "region": "us-west-2", "resources": [f"{instance}/contact/{contact_id}"],
            "detail": {"version": "1.0", "ruleName": rule, "actionName": "actionName",
                       "instanceArn": instance, "contactArn": f"{instance}/contact/{contact_id}",
                       "agentArn": f"{instance}/agent/agent-id", "queueArn": f"{instance}/queue/queue-id"}}


def a_phone(center, vip: bool | None = None, n: int = 0) -> str:
    profiles = center["profiles"]
    if vip is not None:
        profiles = profiles[profiles["vip"] == vip]
    return profiles.index[n]


# -- customer_lookup ------------------------------------------------------------------------------
def test_lookup_answers_a_flat_map_of_strings_with_a_prediction(center):
    phone = a_phone(center)
    answer = handlers.customer_lookup(doc_contact_flow_event(phone, "4a573372-1f28-4e26-b97b-000000000001"))
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in answer.items()), answer
    profile = center["profiles"].loc[phone]
    assert answer["found"] == "true" and answer["customerId"] == profile["customer_id"]
    assert answer["firstName"] == profile["first_name"] and answer["scoreSource"] == "model"
    # the first score is the served model's prediction from the online features, not a stored label
    features = center["services"].features.get(profile["customer_id"])
    expected, label = center["services"].scorer.score(features)
    assert float(answer["churnRisk"]) == pytest.approx(expected, abs=1e-4)
    assert answer["routingPriority"] == str(handlers.routing_priority(profile["vip"], bool(label)))
    history = center["services"].store.contact("4a573372-1f28-4e26-b97b-000000000001")
    assert [s["event"] for s in history.scores] == ["call started"]


def test_vip_routing_follows_the_rule(center):
    vip = a_phone(center, vip=True)
    plain = a_phone(center, vip=False)
    vip_answer = handlers.customer_lookup(events.contact_flow_event("vip-call", vip))
    plain_answer = handlers.customer_lookup(events.contact_flow_event("plain-call", plain))
    assert vip_answer["vip"] == "true" and vip_answer["routingPriority"] in ("1", "2")
    assert plain_answer["vip"] == "false" and plain_answer["routingPriority"] in ("3", "5")
    assert (vip_answer["routingPriority"] == "1") == (vip_answer["atRisk"] == "true")


def test_a_repeated_lookup_keeps_the_call(center):
    phone = a_phone(center, n=3)
    for _ in range(2):
        handlers.customer_lookup(events.contact_flow_event("repeat-call", phone))
    assert len(center["services"].store.contact("repeat-call").scores) == 1


@pytest.mark.parametrize("address", ["+1234567890", "+1 999 555 0100", "not a number", "", None, 12345,
                                     "+12015550100" + "9" * 10, "<script>"])
def test_unknown_or_malformed_numbers_are_not_found(center, address):
    event = doc_contact_flow_event("+10000000000", "c-unknown")
    event["Details"]["ContactData"]["CustomerEndpoint"]["Address"] = address
    answer = handlers.customer_lookup(event)
    assert answer["found"] == "false" and answer["reason"] and all(isinstance(v, str) for v in answer.values())


BAD_FLOW_EVENTS = [None, [], "text", 42, {}, {"Details": None}, {"Details": {}}, {"Details": {"ContactData": None}},
                   {"Details": {"ContactData": {"ContactId": None}}},
                   {"Details": {"ContactData": {"ContactId": "a/b"}}},
                   {"Details": {"ContactData": {"ContactId": "x" * 300}}},
                   {"Details": {"ContactData": {"ContactId": "ok", "CustomerEndpoint": "+12015550100"},
                                "Parameters": []}}]


@pytest.mark.parametrize("event", BAD_FLOW_EVENTS, ids=range(len(BAD_FLOW_EVENTS)))
@pytest.mark.parametrize("handler", [handlers.customer_lookup, handlers.get_prompts], ids=["lookup", "prompts"])
def test_bad_contact_flow_events_get_a_clean_not_found(center, handler, event):
    answer = handler(copy.deepcopy(event))
    assert answer["found"] == "false" and "malformed" in answer["reason"]
    assert all(isinstance(v, str) for v in answer.values())


# -- get_prompts ----------------------------------------------------------------------------------
def test_prompts_in_the_callers_language_with_a_fallback(center):
    spanish = handlers.get_prompts(events.contact_flow_event("p-1", "+12015550100", language="es-ES"))
    assert spanish["found"] == "true" and spanish["language"] == "es-ES" and spanish["welcome"].startswith("Gracias")
    french = handlers.get_prompts(events.contact_flow_event("p-2", "+12015550100", language="fr-FR"))
    assert french["language"] == "en-US" and french["welcome"].startswith("Thank you")
    chosen = handlers.get_prompts(events.contact_flow_event("p-3", "+12015550100",
                                                            parameters={"language": "pt-BR"}))
    assert chosen["language"] == "pt-BR"
    unknown = handlers.get_prompts(events.contact_flow_event("p-4", "+1", parameters={"flow": "other"}))
    assert unknown["found"] == "false" and "other" in unknown["reason"]


# -- sentiment_update -----------------------------------------------------------------------------
def test_sentiment_events_update_features_rescore_and_redelivery_adds_nothing(center):
    phone = a_phone(center, n=5)
    customer = center["profiles"].loc[phone, "customer_id"]
    before = center["services"].features.get(customer)
    handlers.customer_lookup(events.contact_flow_event("sent-call", phone))
    first = doc_contact_lens_event("sent-call", "rfmkit-sentiment-negative", "11111111-aaaa-bbbb-cccc-000000000001")
    answer = handlers.sentiment_update(first)
    assert answer["status"] == "applied" and answer["counts"]["negative"] == 1
    again = handlers.sentiment_update(copy.deepcopy(first))  # EventBridge delivered it twice
    assert again["status"] == "duplicate" and again["counts"]["negative"] == 1
    handlers.sentiment_update(events.sentiment_event("sent-call", "positive"))
    contact = center["services"].store.contact("sent-call")
    assert [s["event"] for s in contact.scores] == ["call started", "sentiment", "sentiment"]
    assert contact.counts == {"positive": 1, "neutral": 0, "negative": 1} and contact.current == 1
    after = center["services"].features.get(customer)
    assert after["pastSenti_neg"] == before["pastSenti_neg"] + 1
    assert after["pastSenti_pos"] == before["pastSenti_pos"] + 1
    assert after["sentiment"] == 1.0 and after["event_time"] > before["event_time"]
    # the recorded score is the endpoint's answer for exactly these features
    assert contact.scores[-1]["churn_probability"] == pytest.approx(center["services"].scorer.score(after)[0], abs=1e-6)


def test_a_negative_call_raises_the_risk_of_a_calm_customer(center):
    phone = center["prepared"].profiles.sort_values("churn_risk").iloc[0]["phone"]
    handlers.customer_lookup(events.contact_flow_event("angry-call", phone))
    for _ in range(6):
        handlers.sentiment_update(events.sentiment_event("angry-call", "negative"))
    scores = [s["churn_probability"] for s in center["services"].store.contact("angry-call").scores]
    assert scores[-1] > scores[0], scores


def test_concurrent_events_of_one_call_are_all_counted(center):
    handlers.customer_lookup(events.contact_flow_event("busy-call", a_phone(center, n=7)))
    sent = [events.sentiment_event("busy-call", word) for word in ["negative", "neutral", "positive"] * 4]
    answers = []
    threads = [threading.Thread(target=lambda e=e: answers.append(handlers.sentiment_update(e))) for e in sent]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a["status"] for a in answers] == ["applied"] * 12
    contact = center["services"].store.contact("busy-call")
    assert contact.counts == {"positive": 4, "neutral": 4, "negative": 4}
    assert sorted(s["event_id"] for s in contact.scores[1:]) == sorted(e["id"] for e in sent)


def _drop(event: dict, path: str) -> dict:
    event, node = copy.deepcopy(event), None
    node = event
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part]
    del node[leaf]
    return event


def _set(event: dict, path: str, value) -> dict:
    event, node = copy.deepcopy(event), None
    node = event
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    return event


GOOD_SENTIMENT = events.sentiment_event("bad-corpus-call", "negative", event_id="bad-corpus-1")
BAD_SENTIMENT_EVENTS = {
    "not an object": "[]", "no id": _drop(GOOD_SENTIMENT, "id"), "empty id": _set(GOOD_SENTIMENT, "id", ""),
    "other detail-type": _set(GOOD_SENTIMENT, "detail-type", "Amazon Connect Contact Event"),
    "other source": _set(GOOD_SENTIMENT, "source", "custom.app"),
    "no detail": _drop(GOOD_SENTIMENT, "detail"), "detail a list": _set(GOOD_SENTIMENT, "detail", []),
    "no contactArn": _drop(GOOD_SENTIMENT, "detail.contactArn"),
    "contactArn not a contact": _set(GOOD_SENTIMENT, "detail.contactArn", "arn:aws:connect:x:1:instance/i"),
    "contact id with a slash": _set(GOOD_SENTIMENT, "detail.contactArn", "arn:x/contact/a%2Fb"),
    "rule without a sentiment": _set(_set(GOOD_SENTIMENT, "detail.ruleName", "ruleName"), "detail.actionName", "x"),
    "unknown contact": events.sentiment_event("never-looked-up", "negative"),
}


@pytest.mark.parametrize("name", list(BAD_SENTIMENT_EVENTS))
def test_bad_sentiment_events_are_rejected_with_the_reason(center, name):
    event = BAD_SENTIMENT_EVENTS[name]
    answer = handlers.sentiment_update(json.loads(event) if isinstance(event, str) else event)
    assert answer["status"] == "rejected" and answer["error"] and "Traceback" not in answer["error"]


# -- contact_ended --------------------------------------------------------------------------------
def test_disconnect_closes_the_contact_once_and_keeps_the_last_score_on_the_profile(center):
    phone = a_phone(center, n=9)
    handlers.customer_lookup(events.contact_flow_event("end-call", phone))
    handlers.sentiment_update(events.sentiment_event("end-call", "negative"))
    hangup = events.disconnected_event("end-call")
    assert handlers.contact_ended(hangup)["status"] == "applied"
    assert handlers.contact_ended(copy.deepcopy(hangup))["status"] == "duplicate"
    contact = center["services"].store.contact("end-call")
    assert contact.ended_at and "end-call" not in center["services"].store.active_contacts()
    profile = center["services"].store.profile_by_phone(phone)
    assert profile["churn_risk"] == contact.scores[-1]["churn_probability"]
    other = _set(events.disconnected_event("end-call"), "detail.eventType", "CONNECTED_TO_AGENT")
    assert handlers.contact_ended(other)["status"] == "ignored"
    for bad in (_drop(hangup, "detail.contactId"), _set(hangup, "detail.eventType", None),
                _set(hangup, "source", "aws.events"), events.disconnected_event("nobody")):
        assert handlers.contact_ended(bad)["status"] == "rejected"


# -- the page's API -------------------------------------------------------------------------------
def offer(contact_id: str, body, method: str = "POST") -> dict:
    answer = handlers.update_contract(events.api_event(method, "/contacts/{contactId}/contract",
                                                       path={"contactId": contact_id}, body=body))
    return {"http": answer["statusCode"], **json.loads(answer["body"])}


def test_a_contract_offer_updates_profile_and_features_and_rescores(center):
    phone = a_phone(center, n=11)
    customer = center["profiles"].loc[phone, "customer_id"]
    before = center["services"].features.get(customer)["mth_remain"]
    handlers.customer_lookup(events.contact_flow_event("offer-call", phone))
    answer = offer("offer-call", {"months": 36, "requestId": "click-1"})
    assert answer["http"] == 200 and answer["status"] == "applied" and answer["months"] == 36
    contact = center["services"].store.contact("offer-call")
    assert contact.scores[-1]["event"] == "contract offer" and contact.base["mth_remain"] == before + 36
    assert answer["churnProbability"] == contact.scores[-1]["churn_probability"]
    assert answer["monthsRemaining"] == before + 36
    assert center["services"].store.profile_by_phone(phone)["contract_months"] == before + 36
    assert center["services"].features.get(customer)["mth_remain"] == before + 36
    repeated = offer("offer-call", {"months": 36, "requestId": "click-1"})  # the same click, retried
    assert repeated["http"] == 200 and repeated["status"] == "duplicate"
    assert len(center["services"].store.contact("offer-call").scores) == len(contact.scores)


@pytest.mark.parametrize("body, method, status", [
    ({"months": 18}, "POST", 400), ({"months": "36"}, "POST", 400), ({"months": True}, "POST", 400),
    ({}, "POST", 400), (None, "POST", 400), ({"months": 12, "requestId": 5}, "POST", 400),
    ({"months": 12}, "GET", 400), ({"months": 12}, "POST", 404)])
def test_bad_offers_get_4xx_with_the_reason(center, body, method, status):
    handlers.customer_lookup(events.contact_flow_event("offer-bad", a_phone(center, n=13)))
    answer = offer("offer-bad" if status != 404 else "never-called", body, method)
    assert answer["http"] == status and answer["error"]


def test_history_for_the_page(center):
    handlers.customer_lookup(events.contact_flow_event("page-call", a_phone(center, n=15)))
    handlers.sentiment_update(events.sentiment_event("page-call", "neutral"))
    answer = handlers.churn_history(events.api_event("GET", "/contacts/{contactId}/history",
                                                     path={"contactId": "page-call"}))
    assert answer["statusCode"] == 200 and "Access-Control-Allow-Origin" not in answer["headers"]
    body = json.loads(answer["body"])
    assert body["customer"]["first_name"] and len(body["scores"]) == 2 and body["counts"]["neutral"] == 1
    listing = json.loads(handlers.churn_history(events.api_event("GET", "/contacts"))["body"])
    assert "page-call" in listing["active"]
    missing = handlers.churn_history(events.api_event("GET", "/contacts/{contactId}/history",
                                                      path={"contactId": "nobody"}))
    assert missing["statusCode"] == 404


def test_api_gateway_documented_events_get_clean_errors(center):
    """The REST proxy sample of the API Gateway documentation, and a payload 2.0 event."""
    rest = {"body": "eyJ0ZXN0IjoiYm9keSJ9", "resource": "/{proxy+}", "path": "/path/to/resource",
            "httpMethod": "POST", "isBase64Encoded": True, "queryStringParameters": {"foo": "bar"},
            "multiValueQueryStringParameters": {"foo": ["bar"]}, "pathParameters": {"proxy": "/path/to/resource"},
            "stageVariables": {"baz": "qux"}, "headers": {"Accept": "text/html"},
            "requestContext": {"accountId": "123456789012", "resourceId": "123456", "stage": "prod",
                               "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "httpMethod": "POST"}}
    v2 = {"version": "2.0", "routeKey": "GET /contacts/{contactId}/history", "rawPath": "/contacts/x/history",
          "pathParameters": {"contactId": "nobody"},
          "requestContext": {"http": {"method": "GET", "path": "/contacts/x/history"}}, "isBase64Encoded": False}
    assert handlers.churn_history(rest)["statusCode"] == 400
    assert handlers.update_contract(rest)["statusCode"] == 400
    assert handlers.churn_history(v2)["statusCode"] == 404
    for bad in (None, {}, {"httpMethod": 5}, {"httpMethod": "GET", "pathParameters": []},
                {"httpMethod": "POST", "body": "{not json"},
                {"httpMethod": "POST", "body": "!!", "isBase64Encoded": True},
                {"httpMethod": "POST", "body": "[" * 100_000 + "]" * 100_000}):
        for handler in (handlers.churn_history, handlers.update_contract):
            answer = handler(bad)
            assert answer["statusCode"] == 400 and json.loads(answer["body"])["error"]


def test_the_handlers_import_nothing_the_lambda_runtime_lacks():
    code = ("import sys; import rfmkit.contact_center.handlers, rfmkit.contact_center.dynamodb; "
            "print(sorted(m for m in ('pandas', 'numpy', 'sklearn', 'duckdb', 'fastapi') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
