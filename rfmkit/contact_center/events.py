"""The events the handlers receive, in the shapes AWS sends them, read and built in one place.

* Amazon Connect's Lambda invocation from a contact flow (`Name: ContactFlowEvent`): the caller's
  number in `Details.ContactData.CustomerEndpoint.Address`, the contact in `ContactId`, the flow's
  own key/values in `Details.Parameters`. The Lambda must answer a flat map of strings.
* EventBridge `Contact Lens Realtime Rules Matched` (source aws.connect): `detail.ruleName`,
  `detail.actionName`, `detail.contactArn` (…/contact/<contactId>), `detail.instanceArn`, …;
  the EventBridge `id` identifies a delivery (redeliveries repeat it).
* EventBridge `Amazon Connect Contact Event`: `detail.eventType` (DISCONNECTED ends a call),
  `detail.contactId`.
* API Gateway proxy events (REST API, payload format 1.0): `httpMethod`, `pathParameters`,
  `queryStringParameters`, `body` (a string, base64 when `isBase64Encoded`).

Readers raise BadEvent with a message that says which field is wrong; builders make the same
shapes for the simulator and tests.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime

SENTIMENT_RULES = "Contact Lens Realtime Rules Matched"
CONTACT_EVENT = "Amazon Connect Contact Event"
SENTIMENTS = {"positive": 1, "neutral": 0, "negative": -1}
# A Contact Lens rule says which sentiment it detected by its name: the kit's rules are called
# rfmkit-sentiment-positive / -neutral / -negative (docs/CONTACT_CENTER.md); the action name
# is read too, for rules named otherwise.
SENTIMENT_WORD = re.compile(r"(positive|neutral|negative)", re.IGNORECASE)
CONTACT_ID = re.compile(r"^[A-Za-z0-9-]{1,256}$")
EXAMPLE_INSTANCE = "arn:aws:connect:us-east-1:111122223333:instance/11111111-2222-3333-4444-555555555555"


class BadEvent(ValueError):
    """An event the handler cannot act on; the message names the field."""


def _field(document: object, path: str):
    value = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise BadEvent(f"missing field {path}")
        value = value[part]
    return value


def _text(document: object, path: str) -> str:
    value = _field(document, path)
    if not isinstance(value, str) or not value.strip():
        raise BadEvent(f"field {path} must be a non-empty string")
    return value.strip()


def contact_id(value: object, where: str) -> str:
    if not isinstance(value, str) or not CONTACT_ID.match(value):
        raise BadEvent(f"{where} is not a contact id (letters, digits and dashes)")
    return value


# -- readers -------------------------------------------------------------------------------------
def read_contact_flow(event: object) -> dict:
    """(contact id, caller's address as sent, parameters, language) from a ContactFlowEvent."""
    if not isinstance(event, dict):
        raise BadEvent("the event must be a JSON object")
    data = _field(event, "Details.ContactData")
    if not isinstance(data, dict):
        raise BadEvent("field Details.ContactData must be an object")
    parameters = event["Details"].get("Parameters")
    parameters = {} if parameters is None else parameters
    if not isinstance(parameters, dict):
        raise BadEvent("field Details.Parameters must be an object")
    endpoint = data.get("CustomerEndpoint")
    address = endpoint.get("Address") if isinstance(endpoint, dict) else None
    language = data.get("LanguageCode")
    return {"contact_id": contact_id(data.get("ContactId"), "Details.ContactData.ContactId"),
            "address": address, "parameters": parameters,
            "language": language if isinstance(language, str) else None}


def _eventbridge(event: object, detail_type: str) -> dict:
    if not isinstance(event, dict):
        raise BadEvent("the event must be a JSON object")
    if event.get("detail-type") != detail_type:
        raise BadEvent(f"detail-type is {event.get('detail-type')!r}, expected {detail_type!r}")
    if event.get("source") != "aws.connect":
        raise BadEvent(f"source is {event.get('source')!r}, expected 'aws.connect'")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise BadEvent("field detail must be an object")
    return detail


def read_sentiment_rule(event: object) -> dict:
    """(event id, contact id, sentiment word, time) from a Contact Lens real-time rule event."""
    detail = _eventbridge(event, SENTIMENT_RULES)
    arn = _text(event, "detail.contactArn")
    if "/contact/" not in arn:
        raise BadEvent("detail.contactArn is not a contact ARN (…/contact/<contactId>)")
    named = SENTIMENT_WORD.search(f"{detail.get('ruleName', '')} {detail.get('actionName', '')}")
    if named is None:
        raise BadEvent(f"rule {detail.get('ruleName')!r} does not name a sentiment (positive, "
                       f"neutral or negative)")
    return {"event_id": _text(event, "id"),
            "contact_id": contact_id(arn.rsplit("/", 1)[-1], "detail.contactArn"),
            "sentiment": named.group(1).lower(), "time": event.get("time")}


def read_contact_event(event: object) -> dict:
    """(event id, contact id, event type) from an Amazon Connect Contact Event."""
    detail = _eventbridge(event, CONTACT_EVENT)
    return {"event_id": _text(event, "id"),
            "contact_id": contact_id(detail.get("contactId"), "detail.contactId"),
            "event_type": _text(event, "detail.eventType")}


def read_api(event: object) -> dict:
    """(method, path parameters, query, JSON body or None) from an API Gateway proxy event:
    payload format 1.0 (REST APIs; what the template's HTTP API sends) or 2.0."""
    if not isinstance(event, dict):
        raise BadEvent("the event must be a JSON object")
    method = event.get("httpMethod")
    if method is None:  # payload format 2.0 keeps the method under requestContext.http
        http = (event.get("requestContext") or {}).get("http") if isinstance(event.get("requestContext"), dict) \
            else None
        method = http.get("method") if isinstance(http, dict) else None
    if not isinstance(method, str) or not method:
        raise BadEvent("not an API Gateway proxy event (no httpMethod or requestContext.http.method)")
    path, query = event.get("pathParameters"), event.get("queryStringParameters")
    path, query = {} if path is None else path, {} if query is None else query
    if not isinstance(path, dict) or not isinstance(query, dict):
        raise BadEvent("pathParameters and queryStringParameters must be objects")
    body = event.get("body")
    if body is not None:
        if not isinstance(body, str):
            raise BadEvent("body must be a string")
        try:
            text = base64.b64decode(body, validate=True).decode() if event.get("isBase64Encoded") \
                else body
            body = json.loads(text) if text.strip() else None
        except (ValueError, UnicodeDecodeError) as error:
            raise BadEvent(f"body is not valid JSON ({error})") from None
        except RecursionError:
            raise BadEvent("body is JSON nested too deeply") from None
    return {"method": method.upper(), "path": path, "query": query, "body": body}


# -- builders (the simulator and tests send exactly these) ----------------------------------------
def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def contact_flow_event(contact: str, phone: str, *, language: str = "en-US",
                       parameters: dict | None = None, instance_arn: str = EXAMPLE_INSTANCE) -> dict:
    return {"Name": "ContactFlowEvent", "Details": {
        "ContactData": {"Attributes": {}, "Channel": "VOICE", "ContactId": contact,
                        "CustomerEndpoint": {"Address": phone, "Type": "TELEPHONE_NUMBER"},
                        "InitialContactId": contact, "InitiationMethod": "INBOUND",
                        "InstanceARN": instance_arn, "LanguageCode": language,
                        "PreviousContactId": contact, "Queue": None,
                        "SystemEndpoint": {"Address": "+18005550199", "Type": "TELEPHONE_NUMBER"}},
        "Parameters": parameters or {}}}


def _envelope(detail_type: str, detail: dict, resources: list[str], event_id: str | None) -> dict:
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": detail_type,
            "source": "aws.connect", "account": "111122223333", "time": now_iso(),
            "region": "us-east-1", "resources": resources, "detail": detail}


def sentiment_event(contact: str, sentiment: str, *, event_id: str | None = None,
                    instance_arn: str = EXAMPLE_INSTANCE) -> dict:
    contact_arn = f"{instance_arn}/contact/{contact}"
    rule = f"rfmkit-sentiment-{sentiment}"
    return _envelope(SENTIMENT_RULES, {
        "version": "1.0", "ruleName": rule, "actionName": "GenerateEventBridgeEvent",
        "instanceArn": instance_arn, "contactArn": contact_arn,
        "agentArn": f"{instance_arn}/agent/00000000-0000-0000-0000-000000000001",
        "queueArn": f"{instance_arn}/queue/00000000-0000-0000-0000-000000000002"},
        [instance_arn, contact_arn], event_id)


def disconnected_event(contact: str, *, event_id: str | None = None,
                       instance_arn: str = EXAMPLE_INSTANCE) -> dict:
    return _envelope(CONTACT_EVENT, {
        "eventType": "DISCONNECTED", "contactId": contact, "channel": "VOICE",
        "instanceArn": instance_arn, "initiationMethod": "INBOUND",
        "disconnectTimestamp": now_iso()}, [f"{instance_arn}/contact/{contact}"], event_id)


def api_event(method: str, resource: str, *, path: dict | None = None, query: dict | None = None,
              body: dict | None = None) -> dict:
    return {"resource": resource, "path": resource.format(**(path or {})), "httpMethod": method,
            "headers": {"content-type": "application/json"}, "pathParameters": path,
            "queryStringParameters": query, "isBase64Encoded": False,
            "requestContext": {"stage": "prod", "requestId": str(uuid.uuid4())},
            "body": json.dumps(body) if body is not None else None}
