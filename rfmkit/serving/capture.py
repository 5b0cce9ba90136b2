"""Request capture in SageMaker's data-capture format, written locally and read from either place.

Every captured invocation is one JSON line, as SageMaker writes it to S3 for an endpoint with a
DataCaptureConfig:

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                        "data": "...", "encoding": "JSON"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<the caller's id, when given>",
                       "inferenceTime": "2026-12-03T10:15:02.123Z"},
     "eventVersion": "0"}

in files under `<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm-uuid>.jsonl`. The local
endpoint writes the same lines into the run folder (`capture/`); `read_events` reads both, so the
monitor does not care where the endpoint ran. Text bodies are kept as text (CSV, JSON encodings),
anything else as BASE64, as SageMaker does.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

CAPTURE_FOLDER = "capture"
VARIANT = "AllTraffic"
EVENT_VERSION = "0"
ENCODINGS = {"text/csv": "CSV", "application/json": "JSON", "application/jsonlines": "JSON"}


class CaptureError(ValueError):
    """A capture file or setting the monitor cannot use; the message names the file and line."""


def check_percent(percent: float) -> float:
    value = float(percent)
    if not 0 <= value <= 100:
        raise CaptureError(f"capture_percent={percent!r}: the sampling percentage must be between "
                           f"0 and 100 (SageMaker's InitialSamplingPercentage)")
    return value


def encode(body: bytes | str, content_type: str) -> dict:
    """One side of an invocation as SageMaker records it."""
    media = (content_type or "").split(";")[0].strip().lower()
    encoding = ENCODINGS.get(media)
    if encoding is not None:
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
            return {"observedContentType": content_type, "data": text, "encoding": encoding}
        except UnicodeDecodeError:
            pass
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    return {"observedContentType": content_type, "data": base64.b64encode(raw).decode("ascii"),
            "encoding": "BASE64"}


def decode(side: dict) -> str:
    """The body text of one side of a captured invocation."""
    data = side.get("data", "")
    if side.get("encoding") == "BASE64":
        return base64.b64decode(data).decode("utf-8", errors="replace")
    return data


def capture_line(request: bytes | str, request_type: str, response: bytes | str,
                 response_type: str, *, event_id: str, inference_id: str | None,
                 when: datetime) -> str:
    metadata = {"eventId": event_id, "inferenceTime": _iso(when)}
    if inference_id:
        metadata["inferenceId"] = inference_id
    record = {"captureData": {"endpointInput": {**encode(request, request_type), "mode": "INPUT"},
                              "endpointOutput": {**encode(response, response_type), "mode": "OUTPUT"}},
              "eventMetadata": metadata, "eventVersion": EVENT_VERSION}
    return json.dumps(record, separators=(",", ":")) + "\n"


class CaptureWriter:
    """Appends sampled invocations to hourly files, one open file per endpoint and hour.

    A write is one buffered append under a lock (microseconds), so capture stays off the
    endpoint's latency budget; lines reach the file at once (flush) so a reader in another process
    sees every completed request."""

    def __init__(self, folder: str | Path, *, percent: float = 100.0, variant: str = VARIANT,
                 seed: int | None = None):
        self.folder, self.variant = Path(folder), variant
        self.percent = check_percent(percent)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._files: dict[tuple[str, str], object] = {}

    def sampled(self) -> bool:
        return self.percent >= 100 or self._random.random() * 100 < self.percent

    def record(self, endpoint: str, request: bytes | str, request_type: str,
               response: bytes | str, response_type: str, *, inference_id: str | None = None,
               when: datetime | None = None) -> str | None:
        """Capture one invocation (if sampled); returns its event id, or None when not sampled."""
        if not self.sampled():
            return None
        when = when or datetime.now(UTC)
        event_id = str(uuid.uuid4())
        line = capture_line(request, request_type, response, response_type, event_id=event_id,
                            inference_id=inference_id, when=when)
        hour = when.strftime("%Y/%m/%d/%H")
        with self._lock:
            handle = self._files.get((endpoint, hour))
            if handle is None:
                handle = self._open(endpoint, hour, when)
            handle.write(line)
            handle.flush()
        return event_id

    def _open(self, endpoint: str, hour: str, when: datetime):
        for (name, old_hour), handle in list(self._files.items()):
            if name == endpoint and old_hour != hour:  # that hour is over for this endpoint
                handle.close()
                del self._files[(name, old_hour)]
        folder = self.folder / endpoint / self.variant / hour
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{when.strftime('%M-%S-%f')[:9]}-{uuid.uuid4()}.jsonl"
        handle = (folder / name).open("a", encoding="utf-8")
        self._files[(endpoint, hour)] = handle
        return handle

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


# -- reading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CapturedFile:
    name: str      # relative to the capture root: <endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl
    text: str


def parse_line(line: str, where: str) -> dict:
    """One capture record checked against SageMaker's documented shape; errors name file and line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise CaptureError(f"{where}: not JSON ({error.msg} at column {error.colno})") from None
    try:
        data, metadata = record["captureData"], record["eventMetadata"]
        request, response = data["endpointInput"], data["endpointOutput"]
        for side, mode in ((request, "INPUT"), (response, "OUTPUT")):
            if side.get("mode", mode) != mode or side["encoding"] not in ("CSV", "JSON", "BASE64"):
                raise KeyError(f"{mode} mode/encoding")
            side["data"], side["observedContentType"]  # noqa: B018 - required keys
        event_id, when = metadata["eventId"], metadata["inferenceTime"]
    except (KeyError, TypeError) as error:
        raise CaptureError(f"{where}: not a SageMaker data-capture record (missing or wrong "
                           f"{error}); expected captureData.endpointInput/endpointOutput and "
                           f"eventMetadata.eventId/inferenceTime") from None
    return {"event_id": event_id, "inference_id": metadata.get("inferenceId"),
            "time": pd.Timestamp(when), "input_type": request["observedContentType"],
            "input": decode(request), "output_type": response["observedContentType"],
            "output": decode(response)}


def events(files: list[CapturedFile]) -> pd.DataFrame:
    """Every captured invocation in the files, oldest first, with the endpoint and variant from
    each file's path."""
    rows = []
    for captured in files:
        parts = captured.name.split("/")
        endpoint, variant = (parts[-7], parts[-6]) if len(parts) >= 7 else ("", "")
        for number, line in enumerate(captured.text.splitlines(), 1):
            if line.strip():
                rows.append({**parse_line(line, f"{captured.name}, line {number}"),
                             "endpoint": endpoint, "variant": variant})
    columns = ["event_id", "inference_id", "time", "input_type", "input", "output_type", "output",
               "endpoint", "variant"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def read_events(location: str | Path, endpoint: str | None = None, *, storage=None) -> pd.DataFrame:
    """Captured invocations under a folder or an s3:// prefix (the same reader for both)."""
    return events(list(captured_files(location, endpoint, storage=storage)))


def captured_files(location: str | Path, endpoint: str | None = None, *, storage=None):
    """(name relative to the capture root, text) of every .jsonl file, local or on S3."""
    from rfmkit.storage import S3Storage, scheme_of, split_s3_uri

    root = str(location).rstrip("/")
    if scheme_of(root) == "s3":
        bucket, root_key = split_s3_uri(root)
        store = storage or S3Storage.for_uri(root)
        prefix = f"{root}/{endpoint}/" if endpoint else f"{root}/"
        for key in store.list_keys(prefix):
            if key.endswith(".jsonl"):
                text = store.read_bytes(f"s3://{bucket}/{key}").decode("utf-8")
                yield CapturedFile(key[len(root_key):].lstrip("/"), text)
        return
    folder = Path(root) / endpoint if endpoint else Path(root)
    for path in sorted(folder.rglob("*.jsonl")):
        yield CapturedFile(path.relative_to(root).as_posix(), path.read_text(encoding="utf-8"))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
