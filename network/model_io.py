"""Save and load a Network as one .npz file (arrays plus a JSON description, no pickle), and
build a Network from a JSON-able spec (what a pipeline TOML can hold).

The npz holds `network.json` (UTF-8 JSON as uint8) and arrays named
`pop/<name>/<parameter>`, `pop/<name>/state`, `proj/<i>/<array>`; it loads with
`allow_pickle=False`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from network import _pending, connectivity
from network.network import Network
from network.populations import POPULATION_TYPES, InputPopulation, LIFPopulation, Population
from network.projections import Projection
from pipeline.errors import ConfigError, FormatError

FORMAT = "spikestream.network"
VERSION = 1


def save_network(net: Network, path: str | Path, include_state: bool = False) -> Path:
    """Write the network (parameters, weights, learning state; neuron state if asked)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    pops = []
    for name, pop in net.populations.items():
        pops.append(pop.config())
        for key, value in pop.params.items():
            arrays[f"pop/{name}/{key}"] = value
        if include_state:
            arrays[f"pop/{name}/state"] = np.ascontiguousarray(pop.state)
    projs = []
    for i, proj in enumerate(net.projections):
        projs.append(proj.config())
        for key, value in proj.arrays().items():
            arrays[f"proj/{i}/{key}"] = np.ascontiguousarray(value)
    config = {"format": FORMAT, "version": VERSION, "dt_us": net.dt_us, "seed": net.seed, "learning": net.learning,
              "input": net.input, "outputs": net.outputs, "populations": pops, "projections": projs,
              "state": {"step": net.step, "modulator": float(net._modulator[0])} if include_state else None}
    if include_state and net._flat is not None:
        arrays["ring"] = _pending.as_ring(net._flat)
    arrays["network.json"] = np.frombuffer(json.dumps(config).encode(), np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def load_network(path: str | Path) -> Network:
    """Read a network written by save_network; FormatError naming the file and entry if not."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: not a readable .npz network file ({exc})") from exc
    with data:
        if "network.json" not in data.files:
            raise FormatError(f"{path}: no 'network.json' entry, not a spikestream network")
        try:
            config = json.loads(bytes(data["network.json"]).decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FormatError(f"{path}: entry 'network.json' is not JSON ({exc})") from exc
        if config.get("format") != FORMAT or config.get("version") != VERSION:
            raise FormatError(f"{path}: format {config.get('format')!r} version {config.get('version')!r}, "
                              f"expected {FORMAT!r} version {VERSION}")
        arrays = {k: data[k] for k in data.files}

    def array(key: str) -> np.ndarray:
        if key not in arrays:
            raise FormatError(f"{path}: missing array {key!r}")
        return arrays[key]

    net = Network(dt_us=config["dt_us"], seed=config["seed"], learning=config["learning"])
    for pc in config["populations"]:
        name = pc["name"]
        if pc["type"] == "InputPopulation":
            pop: Population = InputPopulation(pc["width"], pc["height"], pc["polarities"], name=name)
        else:
            cls = POPULATION_TYPES.get(pc["type"])
            if cls is None:
                raise FormatError(f"{path}: unknown population type {pc['type']!r}")
            params = {key: array(f"pop/{name}/{key}") for key in cls.defaults}
            extra = {"reset": pc["reset"]} if issubclass(cls, LIFPopulation) else {}
            pop = cls(pc["n"], name=name, shape=tuple(pc["shape"]), **extra, **params)
        if f"pop/{name}/state" in arrays:
            pop.state[:] = arrays[f"pop/{name}/state"]
        net.add(pop, input=name == config["input"], output=name in config["outputs"])
    net.outputs = list(config["outputs"])
    for i, jc in enumerate(config["projections"]):
        delays = arrays.get(f"proj/{i}/delays", jc["delay"])
        proj = Projection(jc["pre"], jc["post"], array(f"proj/{i}/indptr"), array(f"proj/{i}/indices"),
                          array(f"proj/{i}/weights"), delays if jc["delay"] < 0 else int(jc["delay"]),
                          jc["receptor"], jc["name"])
        if jc["rule_id"]:
            proj.set_plasticity(jc["rule_id"], array(f"proj/{i}/rule_params"), net.populations[jc["post"]].n)
            for key in ("eligibility", "pre_traces", "post_traces"):
                getattr(proj, key)[:] = array(f"proj/{i}/{key}")
        net.connect(proj)
    state = config.get("state")
    if state:
        net.build()
        net.step = int(state["step"])
        net._modulator[0] = float(state["modulator"])
        if "ring" in arrays and arrays["ring"].shape == _pending.as_ring(net._flat).shape:
            _pending.load_ring(net._flat, arrays["ring"])
    return net


BUILDERS = {"one_to_one", "all_to_all", "fixed_probability", "fixed_fanout", "lateral_inhibition", "conv2d"}


def network_from_spec(spec: dict[str, Any]) -> Network:
    """Build a network from a JSON-able dict:

    {"dt_us": 1000, "seed": 0, "input": "in", "outputs": ["out"],
     "populations": [{"type": "InputPopulation", "name": "in", "width": 34},
                     {"type": "LIFPopulation", "name": "out", "n": 10, "tau_m_ms": 20.0}],
     "projections": [{"pre": "in", "post": "out", "connect": "fixed_probability", "p": 0.2,
                      "weight": 0.5, "delay": 1, "receptor": "exc", "seed": 1}]}

    `connect` names a builder of network/connectivity.py; its other keys are the builder's
    keyword arguments (population sizes are filled in). conv2d takes "kernels" as nested lists.
    """
    if not isinstance(spec, dict):
        raise ConfigError(f"network spec must be a dict, got {type(spec).__name__}")
    net = Network(dt_us=spec.get("dt_us", 1000), seed=spec.get("seed", 0), learning=spec.get("learning", True))
    outputs = spec.get("outputs", [])
    for i, pc in enumerate(spec.get("populations", [])):
        pc = dict(pc)
        kind = pc.pop("type", "LIFPopulation")
        if kind not in POPULATION_TYPES:
            raise ConfigError(f"network spec: populations[{i}] type {kind!r} unknown; known {sorted(POPULATION_TYPES)}")
        try:
            pop = POPULATION_TYPES[kind](**pc)
        except TypeError as exc:
            raise ConfigError(f"network spec: populations[{i}] ({kind}): {exc}") from exc
        net.add(pop, input=pop.name == spec.get("input"), output=pop.name in outputs)
    net.outputs = [o for o in outputs if o in net.populations]
    missing = set(outputs) - set(net.outputs)
    if missing:
        raise ConfigError(f"network spec: outputs {sorted(missing)} are not populations")
    for i, jc in enumerate(spec.get("projections", [])):
        jc = dict(jc)
        builder = jc.pop("connect", "")
        if builder not in BUILDERS:
            raise ConfigError(f"network spec: projections[{i}] connect {builder!r} unknown; known {sorted(BUILDERS)}")
        pre, post = jc.get("pre"), jc.get("post", jc.get("pre"))
        if pre not in net.populations or post not in net.populations:
            raise ConfigError(f"network spec: projections[{i}] names unknown population {pre!r} or {post!r}")
        n_pre, n_post = net.populations[pre].n, net.populations[post].n
        if "delay" in jc and isinstance(jc["delay"], list):
            jc["delay"] = tuple(jc["delay"])
        try:
            if builder == "one_to_one":
                proj = connectivity.one_to_one(n=n_pre, **jc)
            elif builder == "lateral_inhibition":
                jc.pop("post", None)
                proj = connectivity.lateral_inhibition(jc.pop("pre"), n_pre, **jc)
            elif builder == "conv2d":
                shape = net.populations[pre].shape
                in_shape = tuple(shape) if len(shape) == 3 else (1, 1, n_pre)
                proj, _ = connectivity.conv2d(in_shape=in_shape, kernels=np.asarray(jc.pop("kernels")), **jc)
            else:
                proj = getattr(connectivity, builder)(n_pre=n_pre, n_post=n_post, **jc)
        except TypeError as exc:
            raise ConfigError(f"network spec: projections[{i}] ({builder}): {exc}") from exc
        net.connect(proj)
    return net
