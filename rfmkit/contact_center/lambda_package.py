"""The contact-center functions' deployment package: a zip of the kit's pure-Python modules the
handlers import (standard library and boto3 only, both in AWS's Python runtime), built from this
checkout as the SageMaker container code is, and named by its content hash so that CloudFormation
updates the functions exactly when the code changed."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from rfmkit.paths import PROJECT_ROOT

MODULES = ("rfmkit/__init__.py", "rfmkit/contact_center/__init__.py",
           "rfmkit/contact_center/events.py", "rfmkit/contact_center/routing.py",
           "rfmkit/contact_center/store.py", "rfmkit/contact_center/online.py",
           "rfmkit/contact_center/dynamodb.py", "rfmkit/contact_center/handlers.py")
LAMBDA_LIMIT_BYTES = 50 * 1024 * 1024  # a zipped package uploaded directly


def build(root: Path = PROJECT_ROOT) -> tuple[bytes, str]:
    """(zip bytes, S3 key 'lambda/rfmkit-contact-center-<sha256 prefix>.zip'); reproducible:
    fixed timestamps and order, so the same code gives the same key."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in MODULES:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, (root / name).read_bytes())
    payload = buffer.getvalue()
    if len(payload) > LAMBDA_LIMIT_BYTES:
        raise RuntimeError(f"the package is {len(payload):,} bytes, over Lambda's 50 MB zip limit")
    return payload, f"lambda/rfmkit-contact-center-{hashlib.sha256(payload).hexdigest()[:16]}.zip"
