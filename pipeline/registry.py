"""Stage registry: a stage module registers its class under a name with @register_stage.

Lookups import every module of the stage packages once (modules do no work at import),
so adding a stage is one module with one decorator and no edits elsewhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TypeVar

from pipeline.errors import ConfigError
from pipeline.stage import Stage

STAGE_PACKAGES = ("sources", "encoders", "network", "sinks", "apps")

_registry: dict[str, type[Stage]] = {}
_discovered = False

S = TypeVar("S", bound=type[Stage])


def register_stage(name: str) -> Callable[[S], S]:
    """Class decorator: make the stage available to pipeline TOML files as `type = name`."""

    def decorate(cls: S) -> S:
        other = _registry.get(name)
        if other is not None and other.__qualname__ != cls.__qualname__:
            raise ConfigError(f"stage name {name!r} registered twice: {other.__module__} and {cls.__module__}")
        _registry[name] = cls
        cls.registered_name = name
        return cls

    return decorate


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    for package_name in STAGE_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=package_name + "."):
            leaf = info.name.rsplit(".", 1)[-1]
            if leaf.startswith("_") or leaf in ("cli", "__main__"):
                continue
            importlib.import_module(info.name)
    _discovered = True


def stage_class(name: str) -> type[Stage]:
    """The stage class registered under `name`; ConfigError listing the known names if none."""
    if name not in _registry:
        _discover()
    if name not in _registry:
        raise ConfigError(f"unknown stage type {name!r}; known types: {', '.join(sorted(_registry))}")
    return _registry[name]


def registered_stages() -> dict[str, type[Stage]]:
    _discover()
    return dict(sorted(_registry.items()))
