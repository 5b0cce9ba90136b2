"""The contact center's functions: plain `handler(event, context)` functions, the same code as AWS
Lambda functions (behind Amazon Connect, EventBridge rules and API Gateway) and in the kit's local
server. They import only the standard library and the kit's contact-center modules (boto3 on AWS),
so the Lambda package stays small.

What they use (stores, online features, the churn endpoint) is a `Services` object: the local
server passes one to `configure`; on Lambda it is built on first use from the function's
environment (RFMKIT_* variables set by the CloudFormation template, `Services.from_environment`).

Every handler answers a malformed event with an error response that says what is wrong (never a
stack trace), and is idempotent: a redelivered event (same EventBridge id, same API requestId)
changes nothing and adds no second prediction.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from rfmkit.contact_center import events
from rfmkit.contact_center.events import BadEvent
from rfmkit.contact_center.online import SENTIMENT_COUNTS
from rfmkit.contact_center.routing import normalise_phone, routing_priority
from rfmkit.contact_center.store import APPLIED, CONFLICT, Contact

log = logging.getLogger("rfmkit.contact_center")
CONTRACT_OFFERS = (12, 24, 36)     # months the agent's page offers to add to the contract
# Re-reads of a contact another event changed meanwhile, with a growing random pause between
# them so that events of one call arriving together do not keep colliding (about 2 s at most).
MAX_ATTEMPTS = 30
BACKOFF_SECONDS = 0.004
# A contact keeps every score in one DynamoDB item (at most 400 KB): 1,200 events fit with room to
# spare, an hour of Contact Lens rules firing every three seconds. Beyond it an event is refused
# with the reason in the answer and the function's log, never dropped silently.
MAX_EVENTS_PER_CALL = 1200
DEFAULT_FLOW, DEFAULT_LANGUAGE = "rfmkit-inbound", "en-US"


# -- what the handlers use ------------------------------------------------------------------------
class EndpointScorer:
    """Churn probability and label for one customer's features from the deployed model's endpoint
    (boto3 sagemaker-runtime; locally pointed at the kit's endpoint server)."""

    def __init__(self, runtime, endpoint: str):
        self.runtime, self.endpoint = runtime, endpoint

    def score(self, features: dict) -> tuple[float, int]:
        answer = self.runtime.invoke_endpoint(
            EndpointName=self.endpoint, ContentType="application/json", Accept="application/json",
            Body=json.dumps({"instances": [features]}, allow_nan=False))
        prediction = json.loads(answer["Body"].read())["predictions"][0]
        return float(prediction["churn_probability"]), int(prediction["churn_label"])


@dataclass
class Services:
    store: object       # store.SqliteContactStore or dynamodb.DynamoContactStore
    features: object    # features.SqliteOnlineFeatures or features.FeatureStoreOnline
    scorer: object      # EndpointScorer

    @classmethod
    def from_environment(cls) -> Services:
        """On Lambda: DynamoDB tables, the feature group and the endpoint named by the template."""
        import boto3

        from rfmkit.contact_center.dynamodb import DynamoContactStore
        from rfmkit.contact_center.online import FeatureStoreOnline

        missing = [k for k in ENVIRONMENT if not os.environ.get(k)]
        if missing:
            raise RuntimeError(f"environment variable(s) {missing} not set: the contact-center "
                               f"functions are configured by cloudformation/rfmkit-contact-center.yaml")
        env = {k: os.environ[k] for k in ENVIRONMENT}
        return cls(DynamoContactStore(boto3.client("dynamodb"), env["RFMKIT_PROFILES_TABLE"],
                                      env["RFMKIT_CONTACTS_TABLE"], env["RFMKIT_PROMPTS_TABLE"]),
                   FeatureStoreOnline(boto3.client("sagemaker-featurestore-runtime"),
                                      env["RFMKIT_FEATURE_GROUP"]),
                   EndpointScorer(boto3.client("sagemaker-runtime"), env["RFMKIT_ENDPOINT"]))


ENVIRONMENT = ("RFMKIT_PROFILES_TABLE", "RFMKIT_CONTACTS_TABLE", "RFMKIT_PROMPTS_TABLE",
               "RFMKIT_FEATURE_GROUP", "RFMKIT_ENDPOINT")
_services: Services | None = None


def configure(services: Services | None) -> None:
    """Set what the handlers use in this process (the local server; tests)."""
    global _services
    _services = services


def services() -> Services:
    global _services
    if _services is None:
        _services = Services.from_environment()
    return _services


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# -- shared steps ---------------------------------------------------------------------------------
def call_features(contact: Contact) -> dict:
    """The caller's features now: the start-of-call record plus this call's sentiment."""
    features = dict(contact.base)
    for word, column in SENTIMENT_COUNTS.items():
        features[column] = float(contact.base.get(column) or 0) + contact.counts[word]
    if contact.current is not None:
        features["sentiment"] = float(contact.current)
    return features


def _score_entry(event_name: str, event_id: str, probability: float, label: int, **extra) -> dict:
    return {"at": now(), "event": event_name, "event_id": event_id,
            "churn_probability": round(probability, 6), "churn_label": label, **extra}


def _apply(contact_id: str, event_id: str, change, event_name: str, *, score: bool = True,
           **extra) -> dict:
    """Read the contact, change it, re-score, commit once per event id; retried on a conflict."""
    svc = services()
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, BACKOFF_SECONDS * attempt))
        contact = svc.store.contact(contact_id)
        if contact is None:
            raise BadEvent(f"contact {contact_id} is unknown: the contact flow's customer lookup "
                           f"starts a contact, and this one never had it")
        if len(contact.scores) >= MAX_EVENTS_PER_CALL:
            raise BadEvent(f"contact {contact_id} already has {MAX_EVENTS_PER_CALL} scores, the most "
                           f"one contact keeps; this event is not recorded")
        change(contact)
        features = call_features(contact)
        entry = None
        if score:
            probability, label = svc.scorer.score(features)
            entry = _score_entry(event_name, event_id, probability, label, **extra)
        status = svc.store.commit_event(contact, event_id, entry)
        if status == CONFLICT:
            continue
        stored = svc.store.contact(contact_id)
        if status == APPLIED and score:
            svc.features.put(contact.customer_id, features)
        if status == APPLIED and (event_name != "sentiment" or stored.ended_at) and stored.scores:
            # The profile keeps the latest score: set at the lookup, on an offer and at the end
            # of the call (not on every sentiment event: one write less on the hot path).
            last = stored.scores[-1]
            svc.store.update_profile(contact.phone, {"churn_risk": last["churn_probability"],
                                                     "at_risk": bool(last["churn_label"])})
        return {"status": status, "contactId": contact_id, "eventId": event_id,
                "churnProbability": stored.scores[-1]["churn_probability"] if stored.scores else None,
                "counts": stored.counts, "ended": stored.ended_at is not None}
    raise RuntimeError(f"contact {contact_id}: {MAX_ATTEMPTS} concurrent changes in a row; "
                       f"the event will be redelivered")


def _rejected(error: Exception, handler: str) -> dict:
    log.warning("%s rejected an event: %s", handler, error)
    return {"status": "rejected", "error": str(error)}


# -- Amazon Connect contact flow ------------------------------------------------------------------
def customer_lookup(event, context=None) -> dict[str, str]:
    """Connect's lookup: the caller's profile and routing priority as a flat map of strings.

    The first score of the call is a prediction from the caller's online features (never a stored
    label), recorded as the contact's first point; an unknown or malformed number, or a malformed
    event, answers found=false with the reason."""
    try:
        info = events.read_contact_flow(event)
    except BadEvent as error:
        return {"found": "false", "reason": f"malformed contact flow event: {error}"}
    phone = normalise_phone(info["address"])
    if phone is None:
        return {"found": "false", "reason": "the caller's number is not an E.164 phone number"}
    svc = services()
    profile = svc.store.profile_by_phone(phone)
    if profile is None:
        return {"found": "false", "reason": "no customer has this phone number"}
    features = svc.features.get(str(profile["customer_id"])) or {}
    probability, label, source = profile.get("churn_risk"), bool(profile.get("at_risk")), "profile"
    if features:
        try:
            probability, label = svc.scorer.score(features)
            source = "model"
        except Exception as error:  # noqa: BLE001 - the call must still be routed
            log.warning("lookup %s: scoring failed, routing on the stored score: %s",
                        info["contact_id"], error)
    contact = svc.store.start_contact(Contact(
        info["contact_id"], str(profile["customer_id"]), phone, now(), features,
        language=info["language"]))
    if source == "model":
        svc.store.commit_event(contact, "call-started", _score_entry(
            "call started", "call-started", probability, int(label)))
        svc.store.update_profile(phone, {"churn_risk": round(probability, 6), "at_risk": bool(label)})
    priority = routing_priority(bool(profile.get("vip")), bool(label))
    return {"found": "true", "customerId": str(profile["customer_id"]),
            "firstName": str(profile.get("first_name", "")), "lastName": str(profile.get("last_name", "")),
            "vip": "true" if profile.get("vip") else "false", "routingPriority": str(priority),
            "segment": str(profile.get("segment") or ""),
            "clv": "" if profile.get("clv") is None else f"{float(profile['clv']):.2f}",
            "contractMonths": "" if profile.get("contract_months") is None
            else str(int(profile["contract_months"])),
            "churnRisk": "" if probability is None else f"{float(probability):.4f}",
            "atRisk": "true" if label else "false", "scoreSource": source}


def get_prompts(event, context=None) -> dict[str, str]:
    """The flow's prompts in the caller's language (Details.Parameters.flow and .language, else
    the contact's LanguageCode, else en-US), as a flat map of strings for Connect."""
    try:
        info = events.read_contact_flow(event)
    except BadEvent as error:
        return {"found": "false", "reason": f"malformed contact flow event: {error}"}
    flow = str(info["parameters"].get("flow") or DEFAULT_FLOW)
    language = str(info["parameters"].get("language") or info["language"] or DEFAULT_LANGUAGE)
    store = services().store
    prompts, used = store.prompts(flow, language), language
    if prompts is None and language != DEFAULT_LANGUAGE:
        prompts, used = store.prompts(flow, DEFAULT_LANGUAGE), DEFAULT_LANGUAGE
    if prompts is None:
        return {"found": "false", "reason": f"no prompts for flow {flow!r} in {language} or "
                                            f"{DEFAULT_LANGUAGE}"}
    return {"found": "true", "flow": flow, "language": used,
            **{str(k): str(v) for k, v in prompts.items()}}


# -- EventBridge ----------------------------------------------------------------------------------
def sentiment_update(event, context=None) -> dict:
    """A Contact Lens real-time rule matched: count the sentiment, re-score, record the score."""
    try:
        rule = events.read_sentiment_rule(event)

        def change(contact: Contact) -> None:
            contact.counts[rule["sentiment"]] += 1
            contact.current = events.SENTIMENTS[rule["sentiment"]]

        return _apply(rule["contact_id"], rule["event_id"], change, "sentiment",
                      sentiment=rule["sentiment"])
    except BadEvent as error:
        return _rejected(error, "sentiment_update")


def contact_ended(event, context=None) -> dict:
    """A contact event: DISCONNECTED closes the contact's session; other types are ignored."""
    try:
        info = events.read_contact_event(event)
        if info["event_type"] != "DISCONNECTED":
            return {"status": "ignored", "eventType": info["event_type"]}
        ended = now()

        def change(contact: Contact) -> None:
            contact.ended_at = contact.ended_at or ended

        return _apply(info["contact_id"], info["event_id"], change, "call ended", score=False)
    except BadEvent as error:
        return _rejected(error, "contact_ended")


# -- API Gateway (the agent's page) ---------------------------------------------------------------
def _response(status: int, body: dict) -> dict:
    # No Access-Control-Allow-Origin: the page is served from the API's own origin.
    return {"statusCode": status, "headers": {"Content-Type": "application/json",
                                              "Cache-Control": "no-store"},
            "body": json.dumps(body, allow_nan=False)}


def _api(handler, event) -> dict:
    try:
        return handler(events.read_api(event))
    except BadEvent as error:
        return _response(400, {"error": str(error)})
    except LookupError as error:
        return _response(404, {"error": str(error.args[0])})


def update_contract(event, context=None) -> dict:
    """POST /contacts/{contactId}/contract {"months": 12|24|36, "requestId": "..."}: the contract
    is extended by that many months (profile and features: months remaining + months); re-scored;
    the new risk and months remaining returned. The same requestId twice extends once."""
    def act(request: dict) -> dict:
        if request["method"] != "POST":
            raise BadEvent(f"method {request['method']} not allowed; POST an offer")
        contact_id = events.contact_id(request["path"].get("contactId"), "path contactId")
        body = request["body"]
        months = body.get("months") if isinstance(body, dict) else None
        if isinstance(months, bool) or not isinstance(months, int | float) or months not in CONTRACT_OFFERS:
            raise BadEvent(f"body.months must be one of {list(CONTRACT_OFFERS)}, got {months!r}")
        request_id = body.get("requestId") or str(uuid.uuid4())
        if not isinstance(request_id, str) or len(request_id) > 128:
            raise BadEvent("body.requestId must be a string of at most 128 characters")
        svc = services()
        contact = svc.store.contact(contact_id)
        if contact is None:
            raise LookupError(f"contact {contact_id} is unknown")

        def change(c: Contact) -> None:
            c.base = {**c.base, "mth_remain": float(c.base.get("mth_remain") or 0) + months}

        result = _apply(contact_id, f"contract-{request_id}", change, "contract offer",
                        months=int(months))
        remaining = svc.store.contact(contact_id).base.get("mth_remain")
        if result["status"] == APPLIED:
            svc.store.update_profile(contact.phone, {"contract_months": remaining})
        return _response(200, {**result, "months": int(months), "monthsRemaining": remaining})

    return _api(act, event)


def churn_history(event, context=None) -> dict:
    """GET /contacts: contacts on a call now. GET /contacts/{contactId}/history: the contact's
    customer, scores over time and sentiment counts (what the agent's page draws)."""
    def act(request: dict) -> dict:
        if request["method"] != "GET":
            raise BadEvent(f"method {request['method']} not allowed; use GET")
        store = services().store
        if not request["path"].get("contactId"):
            return _response(200, {"active": store.active_contacts()})
        contact_id = events.contact_id(request["path"]["contactId"], "path contactId")
        contact = store.contact(contact_id)
        if contact is None:
            raise LookupError(f"contact {contact_id} is unknown")
        profile = store.profile_by_phone(contact.phone) or {}
        return _response(200, {
            "contactId": contact_id, "startedAt": contact.started_at, "endedAt": contact.ended_at,
            "customer": {k: profile.get(k) for k in ("customer_id", "first_name", "last_name",
                                                     "segment", "vip", "clv", "contract_months")},
            "counts": contact.counts, "current": contact.current, "scores": contact.scores,
            "offers": list(CONTRACT_OFFERS)})

    return _api(act, event)


# EventBridge rules route by detail-type; the local server does the same with this map.
EVENT_ROUTES = {events.SENTIMENT_RULES: sentiment_update, events.CONTACT_EVENT: contact_ended}
