"""A pipeline graph read from TOML: stages by registered type + parameters, linked by inputs.

    [pipeline]
    name = "demo"
    plugins = []         # optional: modules to import that register more stage types

    [stages.audio]
    type = "wav_source"
    path = "speech.wav"
    speed = 0            # node option: 0 = as fast as possible, 1 = real time, N = N x

    [stages.spikes]
    type = "rate_encoder"
    input = "audio"      # or inputs = ["a", "b"] (merged in time order)

Keys other than the node options below are the stage's constructor parameters.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from pipeline.errors import ConfigError
from pipeline.registry import stage_class
from pipeline.stage import Sink, Source, Stage

# Keys of a stage table that configure how the runner hosts it, not the stage itself.
NODE_OPTIONS = {
    "type": "registered stage type",
    "input": "name of the upstream stage",
    "inputs": "names of upstream stages (merged in time order)",
    "speed": "source pacing: 0 as fast as possible, 1 real time, N for N x",
    "address": "ZeroMQ endpoint this stage binds for its input (distributed runs)",
    "tap": "ZeroMQ PUB endpoint publishing this stage's output (lossy monitor)",
    "hwm": "high-water mark (messages) of this stage's input link",
    "restart": "restart the stage if its process dies (distributed runs)",
    "curve_public_key": "CURVE public key file of this stage (links off loopback)",
    "curve_secret_key": "CURVE secret key file of this stage",
    "heartbeat_timeout": "seconds without a heartbeat after which the stage counts as hung (default 2)",
    "max_restarts": "how many times a stage with restart = true may be restarted (default 5)",
    "checkpoint_s": "seconds between checkpoints of a restartable stage that supports them (default 1)",
    "lossy": "this stage's input link drops chunks when full instead of slowing its producers",
    "max_message_bytes": "largest message accepted on this stage's input link",
    "max_array_bytes": "largest array accepted on this stage's input link",
    "max_meta_bytes": "largest chunk metadata (JSON) accepted on this stage's input link",
}


@dataclass
class Node:
    name: str
    type: str
    params: dict[str, Any]
    inputs: list[str]
    options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Stage:
        cls = stage_class(self.type)
        try:
            return cls(**self.params)
        except TypeError as exc:
            raise ConfigError(f"stage {self.name!r} ({self.type}): {exc}") from exc


@dataclass
class Graph:
    name: str
    nodes: dict[str, Node]
    path: Path | None = None

    @property
    def order(self) -> list[str]:
        """Stage names in topological order (sources first)."""
        done: list[str] = []
        seen: set[str] = set()

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if name in trail:
                raise ConfigError(f"pipeline {self.name!r}: cycle through stages {' -> '.join((*trail, name))}")
            if name in seen:
                return
            for upstream in self.nodes[name].inputs:
                visit(upstream, (*trail, name))
            seen.add(name)
            done.append(name)

        for name in self.nodes:
            visit(name, ())
        return done

    def consumers(self, name: str) -> list[str]:
        return [n.name for n in self.nodes.values() if name in n.inputs]

    @property
    def sources(self) -> list[str]:
        return [n for n in self.order if not self.nodes[n].inputs]


def load_graph(path: str | Path, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Graph:
    """Read and check a pipeline TOML file; `overrides` maps stage -> {key: value}."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"pipeline file {path} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"pipeline file {path}: {exc}") from exc
    return graph_from_dict(data, source=str(path), overrides=overrides, path=path)


def graph_from_dict(data: Mapping[str, Any], *, source: str = "<dict>",
                    overrides: Mapping[str, Mapping[str, Any]] | None = None, path: Path | None = None) -> Graph:
    stages = data.get("stages")
    if not isinstance(stages, Mapping) or not stages:
        raise ConfigError(f"{source}: no [stages.NAME] tables")
    unknown_top = set(data) - {"pipeline", "stages"}
    if unknown_top:
        raise ConfigError(f"{source}: unknown top-level table(s) {sorted(unknown_top)}")
    plugins = data.get("pipeline", {}).get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(m, str) for m in plugins):
        raise ConfigError(f"{source}: pipeline.plugins must be a list of module names")
    for module in plugins:  # modules that register stages outside the stage packages
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"{source}: pipeline.plugins: cannot import {module!r}: {exc}") from exc
    nodes: dict[str, Node] = {}
    for name, table in stages.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: stages.{name} must be a table")
        table = {**table, **(overrides or {}).get(name, {})}
        if "type" not in table:
            raise ConfigError(f"{source}: stages.{name} has no 'type'")
        if "input" in table and "inputs" in table:
            raise ConfigError(f"{source}: stages.{name} has both 'input' and 'inputs'")
        inputs = table.get("inputs", [table["input"]] if "input" in table else [])
        if isinstance(inputs, str):
            inputs = [inputs]
        options = {k: v for k, v in table.items() if k in NODE_OPTIONS and k not in ("type", "input", "inputs")}
        params = {k: v for k, v in table.items() if k not in NODE_OPTIONS}
        nodes[name] = Node(name=name, type=table["type"], params=params, inputs=list(inputs), options=options)
    graph = Graph(name=str(data.get("pipeline", {}).get("name", Path(source).stem)), nodes=nodes, path=path)
    _check(graph, source)
    return graph


def _check(graph: Graph, source: str) -> None:
    for node in graph.nodes.values():
        for upstream in node.inputs:
            if upstream not in graph.nodes:
                raise ConfigError(f"{source}: stages.{node.name}.input names unknown stage {upstream!r}")
        cls = stage_class(node.type)
        signature = inspect.signature(cls.__init__)
        takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        allowed = {p for p in signature.parameters if p != "self"}
        bad = set(node.params) - allowed
        if bad and not takes_any:
            raise ConfigError(
                f"{source}: stages.{node.name} ({node.type}) has unknown parameter(s) {sorted(bad)}; "
                f"it takes {sorted(allowed)} and the node options {sorted(NODE_OPTIONS)}"
            )
        if issubclass(cls, Source) and node.inputs:
            raise ConfigError(f"{source}: stages.{node.name} is a source ({node.type}) and cannot have inputs")
        if not issubclass(cls, Source) and not node.inputs:
            raise ConfigError(f"{source}: stages.{node.name} ({node.type}) needs an 'input'")
        if issubclass(cls, Sink) and graph.consumers(node.name):
            raise ConfigError(f"{source}: stages.{node.name} is a sink and cannot feed {graph.consumers(node.name)}")
    _ = graph.order  # raises on cycles
