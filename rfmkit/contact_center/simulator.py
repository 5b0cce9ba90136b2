"""Replayed calls against the contact-center API, as Amazon Connect would drive it.

A call: the contact flow's lookup (a ContactFlowEvent), Contact Lens sentiment events at a set
rate (EventBridge events, some delivered twice as EventBridge may), an optional contract offer
from the agent's page, the hang-up (a DISCONNECTED contact event). `simulate` runs N calls at
once, one thread and one keep-alive connection each, events arriving as a Poisson stream per call,
and measures for every sentiment event the time from sending it to its new score being readable
by the page (the history the page polls). Afterwards every contact's history is checked: one
score per distinct event, none lost.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from rfmkit.contact_center import events

MOODS = {  # sentiment mix per kind of call: positive, neutral, negative
    "calm": (0.5, 0.4, 0.1),
    "annoyed": (0.15, 0.35, 0.5),
    "angry": (0.05, 0.15, 0.8),
}


class SimulationError(RuntimeError):
    """The API refused a simulated event or lost one; the message says which."""


@dataclass
class CallPlan:
    phone: str
    mood: str = "annoyed"
    events: int = 8
    offer_months: int | None = None      # offered after two thirds of the events
    contact_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Simulation:
    calls: list[dict]
    latencies_ms: np.ndarray
    redelivered: int
    lost: int
    duplicated: int
    seconds: float

    def trajectories(self) -> pd.DataFrame:
        rows = [{"contact_id": c["contact_id"], "customer": c["customer"], "mood": c["mood"],
                 "step": i, "event": s["event"], "churn_probability": s["churn_probability"]}
                for c in self.calls for i, s in enumerate(c["scores"])]
        return pd.DataFrame(rows)

    def effects(self) -> pd.DataFrame:
        """How each kind of event moved the churn probability: the change from the score before
        it, averaged over the simulated calls (what the model learned, seen through the calls)."""
        rows = []
        for call in self.calls:
            for before, after in zip(call["scores"], call["scores"][1:], strict=False):
                kind = after.get("sentiment") or after["event"]
                rows.append({"event": kind, "change": after["churn_probability"] - before["churn_probability"]})
        table = pd.DataFrame(rows, columns=["event", "change"])
        return (table.groupby("event")["change"].agg(events="size", mean_change="mean", median_change="median")
                .reset_index().sort_values("mean_change", ascending=False, ignore_index=True))

    def summary(self) -> str:
        lat = self.latencies_ms
        events_sent = len(lat)
        return (f"{len(self.calls)} calls, {events_sent} sentiment events ({self.redelivered} "
                f"delivered twice) in {self.seconds:.1f} s; event → score visible to the page: "
                f"p50 {np.percentile(lat, 50):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms, "
                f"max {lat.max():.1f} ms; lost {self.lost}, duplicate predictions {self.duplicated}")


class HttpApi:
    """The local API over one keep-alive HTTP connection, with the server's token."""

    def __init__(self, url: str, token: str):
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        self.connection.request(method, path, body=None if body is None else json.dumps(body),
                                headers=self.headers)
        response = self.connection.getresponse()
        answer = json.loads(response.read() or b"{}")
        if response.status >= 400:
            raise SimulationError(f"{method} {path}: {response.status} {answer.get('error', answer)}")
        return answer

    def lookup(self, event: dict) -> dict:
        return self._call("POST", "/connect/customer_lookup", event)

    def send(self, event: dict) -> dict:
        return self._call("POST", "/events", event)

    def offer(self, contact_id: str, body: dict) -> dict:
        return self._call("POST", f"/contacts/{contact_id}/contract", body)

    def history(self, contact_id: str) -> dict:
        return self._call("GET", f"/contacts/{contact_id}/history")

    def close(self) -> None:
        self.connection.close()


class LambdaApi:
    """The deployed functions invoked directly with the same events (the AWS backend: EventBridge
    does not accept events with an aws.* source from anyone but AWS, so a simulated call cannot
    go through the rules)."""

    def __init__(self, client, functions: dict[str, str]):
        self.client, self.functions = client, functions

    def _invoke(self, handler: str, event: dict) -> dict:
        answer = self.client.invoke(FunctionName=self.functions[handler], Payload=json.dumps(event))
        payload = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError"):
            raise SimulationError(f"{handler}: {payload.get('errorMessage', payload)}")
        return payload

    def _proxy(self, handler: str, event: dict) -> dict:
        answer = self._invoke(handler, event)
        body = json.loads(answer.get("body") or "{}")
        if answer.get("statusCode", 500) >= 400:
            raise SimulationError(f"{handler}: {answer.get('statusCode')} {body.get('error', body)}")
        return body

    def lookup(self, event: dict) -> dict:
        return self._invoke("customer_lookup", event)

    def send(self, event: dict) -> dict:
        handler = {events.SENTIMENT_RULES: "sentiment_update",
                   events.CONTACT_EVENT: "contact_ended"}[event["detail-type"]]
        answer = self._invoke(handler, event)
        if answer.get("status") == "rejected":
            raise SimulationError(f"{handler}: {answer.get('error')}")
        return answer

    def offer(self, contact_id: str, body: dict) -> dict:
        return self._proxy("update_contract", events.api_event(
            "POST", "/contacts/{contactId}/contract", path={"contactId": contact_id}, body=body))

    def history(self, contact_id: str) -> dict:
        return self._proxy("churn_history", events.api_event(
            "GET", "/contacts/{contactId}/history", path={"contactId": contact_id}))

    def close(self) -> None:
        """Nothing to release."""


def plan_calls(phones: list[str], count: int, *, events_per_call: int = 8, seed: int = 42,
               offer_share: float = 0.5) -> list[CallPlan]:
    """`count` calls from distinct customers with seeded moods and offers."""
    if count < 1 or events_per_call < 1:
        raise SimulationError(f"parameters calls and events_per_call must be at least 1, got {count} "
                              f"and {events_per_call}")
    if count > len(phones):
        raise SimulationError(f"{count} calls need {count} customers; the directory has {len(phones)}")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(phones), size=count, replace=False)
    moods = list(MOODS)
    # Contact ids are new for every plan (as Connect's are), so a re-run never mixes calls.
    return [CallPlan(phones[i], moods[int(rng.integers(len(moods)))], events_per_call,
                     int(rng.choice([12, 24, 36])) if rng.random() < offer_share else None)
            for i in picked]


def _run_call(connect, plan: CallPlan, rate: float, redeliver_share: float,
              rng: np.random.Generator, out: dict) -> None:
    client = connect()
    try:
        time.sleep(rng.exponential(1 / rate))  # calls do not all start at the same instant
        found = client.lookup(events.contact_flow_event(plan.contact_id, plan.phone))
        if found.get("found") != "true":
            raise SimulationError(f"lookup of {plan.phone} found nobody: {found.get('reason')}")
        latencies, sent, redelivered = [], set(), 0
        for n in range(plan.events):
            word = str(rng.choice(list(events.SENTIMENTS), p=MOODS[plan.mood]))
            event = events.sentiment_event(plan.contact_id, word)
            started = time.perf_counter()
            client.send(event)
            history = client.history(plan.contact_id)
            if not any(s.get("event_id") == event["id"] for s in history["scores"]):
                raise SimulationError(f"contact {plan.contact_id}: event {event['id']} has no score")
            latencies.append((time.perf_counter() - started) * 1000)
            sent.add(event["id"])
            if rng.random() < redeliver_share:  # EventBridge delivers at least once
                client.send(event)
                redelivered += 1
            if plan.offer_months and n == (2 * plan.events) // 3:
                client.offer(plan.contact_id, {"months": plan.offer_months,
                                               "requestId": str(uuid.uuid4())})
            # Rules fire independently in each call: exponential gaps (a Poisson stream) at `rate`.
            time.sleep(max(0.0, rng.exponential(1 / rate) - (time.perf_counter() - started)))
        client.send(events.disconnected_event(plan.contact_id))
        history = client.history(plan.contact_id)
        out.update(contact_id=plan.contact_id, customer=found["customerId"], mood=plan.mood,
                   lookup=found, latencies=latencies, sent=sent, redelivered=redelivered,
                   scores=history["scores"], ended=history["endedAt"] is not None,
                   offer_months=plan.offer_months)
    except Exception as error:  # noqa: BLE001 - reported with the call after all threads end
        out["error"] = error
    finally:
        client.close()


def simulate(connect, plans: list[CallPlan], *, rate: float = 0.5, redeliver_share: float = 0.1,
             seed: int = 42) -> Simulation:
    """Run the planned calls at once; `rate` sentiment events per second per call (Contact Lens
    rules fire every few seconds in a real call). `connect()` makes one client per call (HttpApi,
    LambdaApi: what the backend's contact center hands out)."""
    if rate <= 0:
        raise SimulationError(f"parameter rate must be > 0 events per second, got {rate}")
    outputs = [{} for _ in plans]
    seeds = np.random.SeedSequence(seed).spawn(len(plans))
    threads = [threading.Thread(target=_run_call, args=(connect, plan, rate, redeliver_share,
                                                        np.random.default_rng(s), out), daemon=True)
               for plan, s, out in zip(plans, seeds, outputs, strict=True)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [o["error"] for o in outputs if "error" in o]
    if failed:
        raise SimulationError(f"{len(failed)} of {len(plans)} calls failed; first: {failed[0]}")
    lost = duplicated = 0
    for call in outputs:
        ids = [s["event_id"] for s in call["scores"] if s["event"] == "sentiment"]
        lost += len(call["sent"] - set(ids))
        duplicated += len(ids) - len(set(ids))
    return Simulation(outputs, np.array([x for o in outputs for x in o["latencies"]]),
                      sum(o["redelivered"] for o in outputs), lost, duplicated,
                      time.perf_counter() - started)
