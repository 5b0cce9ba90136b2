"""Both backends hand out every capability of the protocols, with the same parameters."""

from __future__ import annotations

import inspect

import pytest

from rfmkit.backends import backend_class, protocols


def members(protocol) -> list[str]:
    return [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]


def required(function) -> list[str]:
    """Parameter names a caller may pass (what the protocol promises)."""
    return [p.name for p in inspect.signature(function).parameters.values() if p.name not in ("self", "cls")]


@pytest.mark.parametrize("protocol, classes", [
    (protocols.Backend, (backend_class("local"), backend_class("aws"))),
    (protocols.ContactCenter, ("rfmkit.contact_center.local:LocalContactCenter",
                               "rfmkit.contact_center.aws:AwsContactCenter")),
], ids=["Backend", "ContactCenter"])
def test_every_protocol_method_exists_on_both_sides_with_its_parameters(protocol, classes):
    import importlib

    for cls in classes:
        if isinstance(cls, str):
            module, _, name = cls.partition(":")
            cls = getattr(importlib.import_module(module), name)
        for name in members(protocol):
            assert hasattr(cls, name), f"{cls.__name__} has no {name}()"
            promised = required(getattr(protocol, name))
            offered = required(getattr(cls, name))
            assert set(promised) <= set(offered), f"{cls.__name__}.{name}{offered} does not take {promised}"
