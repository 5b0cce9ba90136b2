"""An exclusive lock shared by every process of a workspace (POSIX advisory file lock).

Runs started together share the workspace's MLflow registry. Alias changes (approve, rollback, the
promotion demo in notebook 06) take this lock, so that one run's demo never moves what another run
serves and the registry is consistent when both finish. Re-entrant within a process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

_held: dict[str, tuple[int, int]] = {}  # path -> (file descriptor, depth), this process
_guard = threading.RLock()


@contextlib.contextmanager
def exclusive(path: str | os.PathLike) -> Iterator[None]:
    """Hold the lock file `path` (created if needed); waits while another process holds it."""
    key = str(Path(path).resolve())
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
        else:
            Path(key).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            _held[key] = (fd, 1)
    try:
        yield
    finally:
        with _guard:
            fd, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                del _held[key]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
