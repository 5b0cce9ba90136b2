"""The AWS backend's contact-center store: three DynamoDB tables (pay-per-request), the same
methods and answers as store.SqliteContactStore.

* profiles (key `phone`): one item per customer;
* contacts (key `contact_id`, TTL on `expires_at`: a call's state is transient): the call's
  state as one item, its scores in a list, the ids of the events applied in a string set. An event
  is applied by one conditional UpdateItem (`version` unchanged and the event id not in the set):
  atomic without a transaction. An item holds at most 400 KB (handlers.MAX_EVENTS_PER_CALL);
* prompts (keys `flow`, `language`).

Numbers go to DynamoDB as Decimal (boto3's serializer refuses float) and come back as float.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

from rfmkit.contact_center.store import APPLIED, CONFLICT, DUPLICATE, Contact

CONTACT_TTL_DAYS = 30


def _to_dynamo(value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return Decimal(repr(value)) if isinstance(value, float) else value
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def _from_dynamo(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return {_from_dynamo(v) for v in value}
    return value


class DynamoContactStore:
    def __init__(self, client, profiles_table: str, contacts_table: str, prompts_table: str):
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.client = client
        self.profiles_table, self.contacts_table, self.prompts_table = (
            profiles_table, contacts_table, prompts_table)
        self._out, self._in = TypeSerializer(), TypeDeserializer()
        self.description = f"DynamoDB {profiles_table}, {contacts_table}, {prompts_table}"

    def _item(self, values: dict) -> dict:
        return {k: self._out.serialize(_to_dynamo(v)) for k, v in values.items()}

    def _plain(self, item: dict) -> dict:
        return {k: _from_dynamo(self._in.deserialize(v)) for k, v in item.items()}

    # -- profiles ---------------------------------------------------------------------------
    def put_profiles(self, profiles: list[dict], progress=None) -> int:
        for start in range(0, len(profiles), 25):  # BatchWriteItem takes at most 25 items
            requests = [{"PutRequest": {"Item": self._item(p)}} for p in profiles[start:start + 25]]
            pending = {self.profiles_table: requests}
            for attempt in range(8):
                answer = self.client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(0.05 * 2 ** attempt)  # throttled: back off, resend what was left
            else:
                raise RuntimeError(f"{self.profiles_table}: items still unprocessed after retries")
            if progress and (start // 25) % 40 == 39:
                progress(f"{start + 25:,} / {len(profiles):,} profiles written")
        return len(profiles)

    def profile_by_phone(self, phone: str) -> dict | None:
        answer = self.client.get_item(TableName=self.profiles_table, Key=self._item({"phone": phone}))
        return self._plain(answer["Item"]) if "Item" in answer else None

    def update_profile(self, phone: str, changes: dict) -> dict | None:
        from botocore.exceptions import ClientError

        names = {f"#f{i}": k for i, k in enumerate(changes)}
        values = {f":v{i}": self._out.serialize(_to_dynamo(v)) for i, v in enumerate(changes.values())}
        try:
            answer = self.client.update_item(
                TableName=self.profiles_table, Key=self._item({"phone": phone}),
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(changes))),
                ConditionExpression="attribute_exists(phone)", ExpressionAttributeNames=names,
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return self._plain(answer["Attributes"])

    # -- contacts ---------------------------------------------------------------------------
    def start_contact(self, contact: Contact) -> Contact:
        from botocore.exceptions import ClientError

        # None values are left out: an attribute that is absent, not NULL, is what if_not_exists
        # and attribute_not_exists test (ended_at above all).
        item = {k: v for k, v in contact.to_dict().items() if v is not None}
        item["expires_at"] = int(time.time()) + CONTACT_TTL_DAYS * 86400
        try:
            self.client.put_item(TableName=self.contacts_table, Item=self._item(item),
                                 ConditionExpression="attribute_not_exists(contact_id)")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        return self.contact(contact.contact_id)

    def contact(self, contact_id: str) -> Contact | None:
        answer = self.client.get_item(TableName=self.contacts_table, ConsistentRead=True,
                                      Key=self._item({"contact_id": contact_id}))
        if "Item" not in answer:
            return None
        values = self._plain(answer["Item"])
        values.pop("expires_at", None)
        values.pop("event_ids", None)
        return Contact(**values)

    def commit_event(self, contact: Contact, event_id: str, score: dict | None) -> str:
        from botocore.exceptions import ClientError

        values = {":v": contact.version, ":one": 1, ":base": contact.base, ":counts": contact.counts,
                  ":current": contact.current, ":scores": [score] if score else [], ":empty": []}
        ending = ""
        if contact.ended_at:  # set once: a later event never moves the end of a call
            values[":ended"], ending = contact.ended_at, "#ended = if_not_exists(#ended, :ended), "
        # Every attribute by placeholder: base, counts, current... are DynamoDB reserved words.
        names = {f"#{n}": n for n in ("version", "base", "counts", "current", "scores", "event_ids")}
        if ending:
            names["#ended"] = "ended_at"
        try:
            self.client.update_item(
                TableName=self.contacts_table, Key=self._item({"contact_id": contact.contact_id}),
                UpdateExpression=f"SET #version = #version + :one, #base = :base, #counts = :counts, "
                                 f"#current = :current, {ending}"
                                 f"#scores = list_append(if_not_exists(#scores, :empty), :scores) "
                                 f"ADD #event_ids :event",
                ConditionExpression="#version = :v AND NOT contains(#event_ids, :event_id)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**{k: self._out.serialize(_to_dynamo(v))
                                              for k, v in values.items()},
                                           ":event": {"SS": [event_id]}, ":event_id": {"S": event_id}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = self._plain(error.response.get("Item") or {})
            return DUPLICATE if event_id in (old.get("event_ids") or set()) else CONFLICT
        return APPLIED

    def active_contacts(self) -> list[str]:
        """Contacts not ended (a Scan: fine for a page that lists the calls of one instance)."""
        ids, start = [], None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            answer = self.client.scan(TableName=self.contacts_table,
                                      ProjectionExpression="contact_id, started_at",
                                      FilterExpression="attribute_not_exists(ended_at)", **extra)
            ids += [self._plain(i) for i in answer.get("Items", [])]
            start = answer.get("LastEvaluatedKey")
            if not start:
                break
        return [i["contact_id"] for i in sorted(ids, key=lambda i: i.get("started_at", ""), reverse=True)]

    # -- prompts ----------------------------------------------------------------------------
    def put_prompts(self, flow: str, language: str, prompts: dict[str, str]) -> None:
        self.client.put_item(TableName=self.prompts_table,
                             Item=self._item({"flow": flow, "language": language,
                                              "prompts": json.dumps(prompts)}))

    def prompts(self, flow: str, language: str) -> dict[str, str] | None:
        answer = self.client.get_item(TableName=self.prompts_table,
                                      Key=self._item({"flow": flow, "language": language}))
        return json.loads(self._plain(answer["Item"])["prompts"]) if "Item" in answer else None

    def close(self) -> None:
        """Nothing to release."""
