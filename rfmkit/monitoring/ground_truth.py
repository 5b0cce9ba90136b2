"""Ground truth: what really happened to a scored customer, joined to the prediction later by id.

Records follow SageMaker Model Monitor's ground-truth format, one JSON line each,

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "<the inference id, or the capture's event id>"},
     "eventVersion": "0"}

under `<location>/yyyy/mm/dd/hh/*.jsonl`. As in SageMaker, a captured request that carried an
inference id is joined on it, otherwise on its event id. A request of several rows takes one label
per row (`"data": "1,0,1"`). Labels come from outcomes recorded after the prediction (a cancelled
contract, a customer who did not buy again); they are never made up from the predictions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from rfmkit.serving.capture import CaptureError

GROUND_TRUTH_FOLDER = "groundtruth"


def record(key: str, labels: Iterable[int]) -> str:
    values = [int(v) for v in labels]
    if any(v not in (0, 1) for v in values):
        raise CaptureError(f"ground truth for {key}: labels are 1 (churned) or 0 (stayed), "
                           f"got {values}")
    return json.dumps({"groundTruthData": {"data": ",".join(map(str, values)), "encoding": "CSV"},
                       "eventMetadata": {"eventId": key}, "eventVersion": "0"}) + "\n"


def write(location: str | Path, labels: dict[str, Iterable[int]], *,
          when: datetime | None = None) -> Path:
    """One file of ground-truth records (key → labels of that request's rows), in the hour's folder."""
    when = when or datetime.now(UTC)
    folder = Path(location) / when.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{when.strftime('%M-%S')}-{uuid.uuid4()}.jsonl"
    path.write_text("".join(record(key, values) for key, values in labels.items()))
    return path


def read(location: str | Path) -> pd.DataFrame:
    """key, row (0-based within its request), label for every record under `location` (a folder or
    an s3:// prefix); a later record for the same key replaces an earlier one."""
    from rfmkit.serving.capture import captured_files

    rows = []
    for captured in captured_files(location):
        for number, line in enumerate(captured.text.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{location}/{captured.name}, line {number}"
            try:
                item = json.loads(line)
                key = str(item["eventMetadata"]["eventId"])
                data = str(item["groundTruthData"]["data"])
                labels = [int(float(v)) for v in data.split(",")]
            except (ValueError, KeyError, TypeError) as error:
                raise CaptureError(f"{where}: not a ground-truth record ({error}); expected "
                                   f'{{"groundTruthData": {{"data": "1", "encoding": "CSV"}}, '
                                   f'"eventMetadata": {{"eventId": "..."}}}}') from None
            rows += [{"key": key, "row": i, "label": v} for i, v in enumerate(labels)]
    frame = pd.DataFrame(rows, columns=["key", "row", "label"])
    return frame.drop_duplicates(["key", "row"], keep="last").reset_index(drop=True)


def join(served: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """`served` (one row per scored row, with inference_id, event_id and row) with a `label`
    column: the inference id when the request carried one, else the event id (SageMaker's rule)."""
    key = served["inference_id"].where(served["inference_id"].notna() & (served["inference_id"] != ""),
                                       served["event_id"]).astype(str)
    keyed = served.assign(key=key)
    if truth.empty:
        return keyed.assign(label=pd.NA).drop(columns="key")
    joined = keyed.merge(truth, how="left", on=["key", "row"], validate="many_to_one")
    return joined.drop(columns="key")


def read_empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["key", "row", "label"])
