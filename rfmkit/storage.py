"""File storage: one handler per URI scheme, used everywhere a file is read or written.

`LocalStorage` (plain paths) and `S3Storage` (`s3://bucket/key`, boto3 imported lazily) share one
protocol: every method takes either a key under the handler's root or a full URI of its scheme.
`storage_for(uri)` picks the handler by scheme (papermill's iorw registry is the model), so callers
never parse URIs or call boto3's S3 client themselves.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    """What both handlers offer; `where` is a key under the root or a full URI."""

    def uri(self, key: str) -> str: ...
    def upload(self, path: str | Path, where: str, *, content_type: str | None = None) -> str: ...
    def download(self, where: str, path: str | Path) -> Path: ...
    def write_bytes(self, where: str, data: bytes) -> str: ...
    def read_bytes(self, where: str) -> bytes: ...
    def list_keys(self, prefix: str = "") -> list[str]: ...
    def download_prefix(self, prefix: str, dest: str | Path | None = None) -> list[Path]: ...
    def fetch_prefix(self, prefix: str, dest: str | Path | None = None) -> dict[str, Path]: ...
    def fingerprint(self, where: str) -> str: ...


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI; the only place a URI is taken apart."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"S3 URI without a bucket: {uri!r}")
    return bucket, key


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LocalStorage:
    """Files under a root folder; keys are relative paths, URIs are plain paths."""

    scheme = "file"

    def __init__(self, root: str | Path = "."):
        self.root = Path(root)

    @classmethod
    def for_uri(cls, uri: str, client=None, region: str | None = None) -> LocalStorage:
        return cls(".")

    def _path(self, where: str | Path) -> Path:
        text = str(where)
        if text.startswith("file:"):  # file:///a%20b → /a b
            from urllib.parse import unquote, urlparse

            text = unquote(urlparse(text).path)
        path = Path(text)
        return path if path.is_absolute() else self.root / path

    def local_path(self, where: str) -> Path:
        """The file itself (local files need no download)."""
        return self._path(where)

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def upload(self, path: str | Path, where: str, *, content_type: str | None = None) -> str:
        target = self._path(where)
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(path).resolve() != target.resolve():
            shutil.copyfile(path, target)
        return str(target)

    def download(self, where: str, path: str | Path) -> Path:
        source, path = self._path(where), Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() != path.resolve():
            shutil.copyfile(source, path)
        return path

    def write_bytes(self, where: str, data: bytes) -> str:
        target = self._path(where)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return str(target)

    def read_bytes(self, where: str) -> bytes:
        return self._path(where).read_bytes()

    def list_keys(self, prefix: str = "") -> list[str]:
        base = self._path(prefix)
        folder = base if base.is_dir() else base.parent
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) if p.is_relative_to(self.root) else str(p)
                      for p in folder.rglob("*") if p.is_file() and str(p).startswith(str(base)))

    def download_prefix(self, prefix: str, dest: str | Path | None = None) -> list[Path]:
        """Local files are read where they are: the matching paths, no copies."""
        found = [self._path(k) for k in self.list_keys(prefix)]
        if not found:
            raise FileNotFoundError(f"{prefix}: no files under this prefix")
        return found

    def fetch_prefix(self, prefix: str, dest: str | Path | None = None) -> dict[str, Path]:
        """name → local file for everything under a prefix (local files stay where they are)."""
        return {str(p): p for p in self.download_prefix(prefix, dest)}

    def fingerprint(self, where: str) -> str:
        """The content's SHA-256: the same bytes give the same fingerprint wherever they are."""
        return file_sha256(self._path(where))


class S3Storage:
    """Objects under s3://bucket/prefix; the one place the kit calls S3."""

    scheme = "s3"

    def __init__(self, bucket: str, prefix: str = "", client=None, region: str | None = None):
        self.bucket, self.prefix = bucket, prefix.strip("/")
        if client is None:
            import boto3

            client = boto3.client("s3", region_name=region)
        self.client = client

    @classmethod
    def for_uri(cls, uri: str, client=None, region: str | None = None) -> S3Storage:
        bucket, key = split_s3_uri(uri)
        return cls(bucket, key.rsplit("/", 1)[0] if "/" in key else "", client, region)

    @classmethod
    def from_session(cls, boto_session, bucket: str, prefix: str = "") -> S3Storage:
        return cls(bucket, prefix, client=boto_session.client("s3"))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _locate(self, where: str) -> tuple[str, str]:
        return split_s3_uri(where) if where.startswith("s3://") else (self.bucket, self._key(where))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def upload(self, path: str | Path, where: str, *, content_type: str | None = None) -> str:
        bucket, key = self._locate(where)
        extra = {"ExtraArgs": {"ContentType": content_type}} if content_type else {}
        self.client.upload_file(str(path), bucket, key, **extra)
        return f"s3://{bucket}/{key}"

    def download(self, where: str, path: str | Path) -> Path:
        bucket, key = self._locate(where)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(bucket, key, str(path))
        return path

    def write_bytes(self, where: str, data: bytes) -> str:
        bucket, key = self._locate(where)
        self.client.put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"

    def read_bytes(self, where: str) -> bytes:
        bucket, key = self._locate(where)
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def objects(self, prefix: str = "") -> list[dict]:
        """Every object under a prefix (folder markers left out) with its Key, Size and ETag."""
        bucket, key_prefix = self._locate(prefix) if prefix else (self.bucket, self.prefix)
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=key_prefix):
            found += [o for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        return sorted(found, key=lambda o: o["Key"])

    def list_keys(self, prefix: str = "") -> list[str]:
        return [o["Key"] for o in self.objects(prefix)]

    def download_prefix(self, prefix: str, dest: str | Path | None = None) -> list[Path]:
        """Every object under a prefix, downloaded (Redshift COPY reads prefixes the same way)."""
        bucket, _ = self._locate(prefix)
        dest = Path(dest or tempfile.mkdtemp(prefix="rfmkit-s3-"))
        keys = self.list_keys(prefix)
        if not keys:
            raise FileNotFoundError(f"{self.uri(prefix) if '://' not in prefix else prefix}: "
                                    "no objects under this prefix")
        return [self.download(f"s3://{bucket}/{k}", dest / Path(k).name) for k in keys]

    def fetch_prefix(self, prefix: str, dest: str | Path | None = None) -> dict[str, Path]:
        """URI → downloaded copy for every object under a prefix (what COPY would read)."""
        bucket, _ = self._locate(prefix)
        uris = [f"s3://{bucket}/{k}" for k in self.list_keys(prefix)]
        return dict(zip(uris, self.download_prefix(prefix, dest), strict=True))

    def fingerprint(self, where: str) -> str:
        """The object's ETag: S3 changes it whenever the content changes (for a multipart upload
        it is not the MD5, but it is stable for the same upload)."""
        bucket, key = self._locate(where)
        return self.client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')

    def empty_bucket(self) -> int:
        """Delete every object version and delete marker (the bucket is versioned); 0 if it is
        gone."""
        removed = 0
        try:
            for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
                batch = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                         for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
                if batch:
                    self.client.delete_objects(Bucket=self.bucket,
                                               Delete={"Objects": batch, "Quiet": True})
                    removed += len(batch)
        except self.client.exceptions.NoSuchBucket:
            return 0
        return removed


HANDLERS = {"s3": S3Storage, "file": LocalStorage}


def scheme_of(uri: str | Path) -> str:
    text = str(uri)
    return text.split("://", 1)[0] if "://" in text else "file"


def storage_for(uri: str | Path, *, client=None, region: str | None = None) -> Storage:
    """The handler for a URI's scheme (a plain path is `file`)."""
    scheme = scheme_of(uri)
    if scheme not in HANDLERS:
        raise ValueError(f"{uri}: no storage handler for {scheme}://; known: "
                         f"{', '.join(sorted(HANDLERS))}")
    return HANDLERS[scheme].for_uri(str(uri), client=client, region=region)
