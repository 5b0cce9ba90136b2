"""The churn model as a SageMaker-style model.tar.gz: `model.joblib` (the fitted scikit-learn
pipeline, preparation included, as the SKLearn container expects) and `metadata.json` (feature
columns in input order, their kinds, the cost-optimal threshold, what the label means)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import joblib

MODEL_FILE, METADATA_FILE, ARTIFACT_NAME = "model.joblib", "metadata.json", "model.tar.gz"


def save(pipeline, metadata: dict, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_bytes = io.BytesIO()
    joblib.dump(pipeline, model_bytes)
    path = folder / ARTIFACT_NAME
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in ((MODEL_FILE, model_bytes.getvalue()),
                              (METADATA_FILE, json.dumps(metadata, indent=2, sort_keys=True).encode())):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(payload), 0, 0o644
            archive.addfile(info, io.BytesIO(payload))
    return path


def write_dir(pipeline, metadata: dict, folder: str | Path) -> Path:
    """The same two files, unpacked (SageMaker tars /opt/ml/model into model.tar.gz itself)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, folder / MODEL_FILE)
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True))
    return folder


def load(path: str | Path) -> tuple[object, dict]:
    """(pipeline, metadata) from model.tar.gz or from the folder it was extracted into."""
    path = Path(path)
    if path.is_dir():
        return joblib.load(path / MODEL_FILE), json.loads((path / METADATA_FILE).read_text())
    with tarfile.open(path, "r:gz") as archive:
        model = joblib.load(io.BytesIO(archive.extractfile(MODEL_FILE).read()))
        metadata = json.loads(archive.extractfile(METADATA_FILE).read())
    return model, metadata
