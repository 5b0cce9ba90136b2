"""File storage behind one small interface: a local folder, or S3 (boto3, imported lazily)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI without a bucket: {uri!r}")
    return bucket, key


class LocalStorage:
    """Files under a root folder; 'keys' are relative paths."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def upload(self, path: str | Path, key: str) -> str:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(path).resolve() != target.resolve():
            shutil.copyfile(path, target)
        return str(target)

    def download(self, uri: str, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if Path(uri).resolve() != path.resolve():
            shutil.copyfile(uri, path)
        return path

    def list_keys(self, prefix: str = "") -> list[str]:
        base = self.root / prefix
        folder = base if base.is_dir() else base.parent
        return sorted(str(p.relative_to(self.root)) for p in folder.rglob("*")
                      if p.is_file() and str(p).startswith(str(base)))


class S3Storage:
    """Objects under s3://bucket/prefix."""

    def __init__(self, bucket: str, prefix: str = "", client=None, region: str | None = None):
        self.bucket, self.prefix = bucket, prefix.strip("/")
        if client is None:
            import boto3

            client = boto3.client("s3", region_name=region)
        self.client = client

    @classmethod
    def from_uri(cls, uri: str, client=None, region: str | None = None) -> S3Storage:
        bucket, key = split_s3_uri(uri)
        return cls(bucket, key.rsplit("/", 1)[0] if "/" in key else "", client, region)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def upload(self, path: str | Path, key: str) -> str:
        self.client.upload_file(str(path), self.bucket, self._key(key))
        return self.uri(key)

    def download(self, uri: str, path: str | Path) -> Path:
        bucket, key = split_s3_uri(uri)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(bucket, key, str(path))
        return path

    def list_keys(self, uri_or_prefix: str) -> list[str]:
        bucket, prefix = split_s3_uri(uri_or_prefix) if uri_or_prefix.startswith("s3://") \
            else (self.bucket, self._key(uri_or_prefix))
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        return sorted(keys)

    def download_prefix(self, uri: str, dest: str | Path | None = None) -> list[Path]:
        """Every object under a prefix, downloaded (Redshift COPY reads prefixes the same way)."""
        bucket, _ = split_s3_uri(uri)
        dest = Path(dest or tempfile.mkdtemp(prefix="rfmkit-s3-"))
        keys = self.list_keys(uri)
        if not keys:
            raise FileNotFoundError(f"{uri}: no objects under this prefix")
        return [self.download(f"s3://{bucket}/{k}", dest / Path(k).name) for k in keys]
