"""The backend registry: `backend` → one object that hands out every capability.

`get(cfg)` is the one place `cfg.backend` is read. Each backend class (`local.LocalBackend`,
`aws.AwsBackend`) has the same factory methods with the same signatures (`protocols.Backend`);
notebooks and library code ask that object and never compare backend names. Classes are
imported on first use, so the local path never imports boto3 or sagemaker. papermill's engine
registry is the model: `register` adds a backend without touching this file's callers.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from rfmkit.config import ConfigError, RunConfig

if TYPE_CHECKING:
    from rfmkit.backends.protocols import Backend

_CLASSES: dict[str, str] = {"local": "rfmkit.backends.local:LocalBackend",
                            "aws": "rfmkit.backends.aws:AwsBackend"}


def register(name: str, path: str) -> None:
    """Add a backend: `path` is "module:Class"; the class follows protocols.Backend."""
    _CLASSES[name] = path


def backend_class(name: str) -> type:
    if name not in _CLASSES:
        raise ConfigError(f"parameter backend={name!r}: choose one of {tuple(_CLASSES)}")
    module, _, cls = _CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def get(cfg: RunConfig) -> Backend:
    """The backend object for a run configuration."""
    return backend_class(cfg.backend)(cfg)


def for_run(backend: str = "local", run_dir: str | os.PathLike | None = None, seed: int = 42,
            **aws: Any) -> Backend:
    """What a notebook's first cell calls: its parameters → the run's backend object."""
    return get(RunConfig.resolve(backend=backend, run_dir=run_dir, seed=seed, **aws))


def preflight_checks(name: str) -> list[dict[str, object]]:
    """The machine checks a backend adds to environment.report (credentials, region, …)."""
    return backend_class(name).environment_checks()
