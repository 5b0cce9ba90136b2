"""Where the Olist files come from: a folder, the Kaggle zip, an S3 prefix, the Kaggle API, or the
generator (schemas.py describes the tables).

Kaggle dataset `olistbr/brazilian-ecommerce` (CC BY-NC-SA 4.0) ships nine CSVs; the workshop uses
three. Sources accepted: a folder (searched recursively), the Kaggle zip, an S3 prefix, or the
Kaggle API when the user has credentials.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

# The schemas live in schemas.py; re-exported because notebooks and users know them as
# olist.TABLES, olist.PAYMENTS, ...
from rfmkit.data.schemas import (  # noqa: F401
    CUSTOMERS,
    ORDER_STATUSES,
    ORDERS,
    PAYMENT_TYPES,
    PAYMENTS,
    TABLES,
    TableSpec,
)

KAGGLE_DATASET = "olistbr/brazilian-ecommerce"
KAGGLE_ZIP = "brazilian-ecommerce.zip"


class OlistSourceError(FileNotFoundError):
    """The Olist files could not be found or fetched; the message says what to do."""


def find_files(folder: str | Path) -> dict[str, Path]:
    """The workshop's three Olist CSVs under `folder` (searched recursively), by table."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise OlistSourceError(f"{root}: not a folder")
    found, missing = {}, []
    for spec in TABLES.values():
        matches = sorted(root.rglob(spec.file_name))
        if matches:
            found[spec.table] = matches[0]
        else:
            missing.append(spec.file_name)
    if missing:
        raise OlistSourceError(
            f"{root}: missing {', '.join(missing)}. Download the Kaggle dataset "
            f"{KAGGLE_DATASET} (see data/README.md) or use source='synthetic'.")
    return found


def extract_zip(zip_path: str | Path, dest: str | Path) -> dict[str, Path]:
    """Extract only the three workshop files from the Kaggle zip (flattening any folders)."""
    zip_path, dest = Path(zip_path).expanduser(), Path(dest)
    if not zipfile.is_zipfile(zip_path):
        raise OlistSourceError(f"{zip_path}: not a zip file")
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        members = {Path(name).name: name for name in archive.namelist()}
        missing = [s.file_name for s in TABLES.values() if s.file_name not in members]
        if missing:
            raise OlistSourceError(f"{zip_path}: the zip has no {', '.join(missing)} "
                                   f"(is it the Kaggle {KAGGLE_DATASET} download?)")
        out = {}
        for spec in TABLES.values():
            target = dest / spec.file_name
            with archive.open(members[spec.file_name]) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 8 << 20)
            out[spec.table] = target
    return out


def download_s3(prefix: str, dest: str | Path) -> dict[str, Path]:
    """Download the three files from an S3 prefix (e.g. s3://bucket/olist/)."""
    from rfmkit.storage import storage_for

    storage = storage_for(prefix)
    dest = Path(dest)
    out = {}
    keys = {Path(k).name: k for k in storage.list_keys(prefix)}
    missing = [s.file_name for s in TABLES.values() if s.file_name not in keys]
    if missing:
        raise OlistSourceError(f"{prefix}: no {', '.join(missing)} under this prefix")
    for spec in TABLES.values():
        out[spec.table] = storage.download(f"s3://{storage.bucket}/{keys[spec.file_name]}",
                                           dest / spec.file_name)
    return out


def kaggle_credentials_present() -> bool:
    config_dir = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    return bool(
        (os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"))
        or os.environ.get("KAGGLE_API_TOKEN")
        or (config_dir / "kaggle.json").exists()
        or (config_dir / "access_token").exists()
    )


def download_kaggle(dest: str | Path) -> dict[str, Path]:
    """Fetch the dataset with the Kaggle API (needs the user's credentials) and extract it."""
    dest = Path(dest)
    if not kaggle_credentials_present():
        raise OlistSourceError(
            "no Kaggle credentials: create an API token at https://www.kaggle.com/settings "
            "and save it as ~/.kaggle/kaggle.json (or set KAGGLE_USERNAME and KAGGLE_KEY), "
            "or download the dataset by hand and pass its folder or zip as source.")
    # Imported here: the kaggle package authenticates (and may exit) at import time.
    from kaggle.api.kaggle_api_extended import KaggleApi

    api = KaggleApi()
    api.authenticate()
    dest.mkdir(parents=True, exist_ok=True)
    api.dataset_download_files(KAGGLE_DATASET, path=str(dest), unzip=False, quiet=False)
    return extract_zip(dest / KAGGLE_ZIP, dest)


def acquire(source: str, dest: str | Path, *, scale: float = 1.0, seed: int = 42,
            progress: bool = True) -> dict[str, Path]:
    """Get the three Olist CSVs into `dest` from any supported source, by table name.

    source: 'synthetic' (default, offline), 'kaggle', a folder, a .zip, or an s3:// prefix.
    `dest` exists afterwards whatever the source (later steps write beside the data), even when a
    folder source is read where it is.
    """
    Path(dest).mkdir(parents=True, exist_ok=True)
    if source == "synthetic":
        from rfmkit.data.synthetic import generate

        return generate(dest, scale=scale, seed=seed, progress=progress).files
    if source == "kaggle":
        return download_kaggle(dest)
    if source.startswith("s3://"):
        return download_s3(source, dest)
    path = Path(source).expanduser()
    if path.is_dir():
        return find_files(path)
    if path.suffix.lower() == ".zip":
        if not path.exists():
            raise OlistSourceError(f"{path}: no such file")
        return extract_zip(path, dest)
    raise OlistSourceError(
        f"parameter source={source!r}: expected 'synthetic', 'kaggle', a folder, a .zip file "
        f"or an s3:// prefix (and {path} does not exist)")
