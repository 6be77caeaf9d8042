"""What a chip deploys: layers of LIF neurons and synapses between them, in float, with the
time step. `SpikingModel.from_network` reads the engine's Network (network/) or any object
with `populations`, `projections` and `dt_ms`; `SpikingModel.from_layers` builds one directly.

Discrete dynamics (the engine's exact LIF update, with one current per receptor):
    I[t] = a_syn I[t-1] + sum_spikes w,   v[t] = a_m v[t-1] + gain * (I_exc + I_inh) + b
with a_syn = exp(-dt/tau_syn), a_m = exp(-dt/tau_m), gain = the exact current-to-voltage
coefficient and b = (1 - a_m)(v_rest + bias). A chip stores u = gain * I, so the weight it
sees is gain * w.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.errors import ConfigError


@dataclass
class Layer:
    """A population as a chip sees it (per-neuron float arrays)."""

    name: str
    n: int
    is_input: bool = False
    a_exc: np.ndarray | None = None     # current decay per step, excitatory receptor
    a_inh: np.ndarray | None = None     # inhibitory receptor
    a_m: np.ndarray | None = None       # membrane decay per step (1: no leak)
    gain_exc: np.ndarray | None = None  # current -> voltage per step
    gain_inh: np.ndarray | None = None
    bias: np.ndarray | None = None      # constant voltage increment per step (relative to v_rest)
    v_th: np.ndarray | None = None      # threshold relative to v_rest
    v_reset: np.ndarray | None = None   # reset relative to v_rest
    soft_reset: bool = False
    refractory_steps: np.ndarray | None = None


@dataclass
class Connection:
    """Synapses pre -> post, CSR by presynaptic neuron, float weights, integer delays (steps)."""

    pre: str
    post: str
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    receptor: str = "exc"

    @property
    def n_synapses(self) -> int:
        return int(self.indices.shape[0])


@dataclass
class SpikingModel:
    layers: list[Layer]
    connections: list[Connection]
    dt_ms: float = 1.0
    output: str = ""
    notes: list[str] = field(default_factory=list)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ConfigError(f"model has no layer {name!r}; layers: {[x.name for x in self.layers]}")

    def offsets(self) -> dict[str, int]:
        out, o = {}, 0
        for layer in self.layers:
            out[layer.name] = o
            o += layer.n
        return out

    @property
    def n_neurons(self) -> int:
        return sum(layer.n for layer in self.layers)

    @property
    def n_synapses(self) -> int:
        return sum(c.n_synapses for c in self.connections)

    @property
    def output_layer(self) -> Layer:
        return self.layer(self.output) if self.output else self.layers[-1]

    @classmethod
    def from_layers(cls, sizes: list[int], weights: list[np.ndarray], *, tau_m_ms: float = 20.0,
                    tau_syn_ms: float = 5.0, v_th: float = 1.0, bias: float = 0.0, dt_ms: float = 1.0,
                    delays: int = 0, soft_reset: bool = False) -> SpikingModel:
        """A feed-forward model: sizes[0] inputs, dense float weights[i] of shape (sizes[i], sizes[i+1])."""
        if len(weights) != len(sizes) - 1:
            raise ConfigError(f"{len(sizes)} layer sizes need {len(sizes) - 1} weight matrices, got {len(weights)}")
        names = ["input"] + [f"layer{i}" for i in range(1, len(sizes))]
        layers = [Layer("input", int(sizes[0]), is_input=True)]
        for name, n in zip(names[1:], sizes[1:]):
            layers.append(lif_layer(name, int(n), tau_m_ms, tau_syn_ms, tau_syn_ms, v_th, 0.0, 0.0, bias, 0.0,
                                    dt_ms, soft_reset))
        conns = []
        for i, w in enumerate(weights):
            w = np.asarray(w, np.float64)
            if w.shape != (sizes[i], sizes[i + 1]):
                raise ConfigError(f"weights[{i}] has shape {w.shape}, expected {(sizes[i], sizes[i + 1])}")
            conns.append(dense_connection(names[i], names[i + 1], w, delays))
        return cls(layers, conns, dt_ms, names[-1])

    @classmethod
    def from_network(cls, net) -> SpikingModel:
        """Read the engine's Network (duck-typed: populations, projections, dt_ms)."""
        pops = net.populations
        pops = list(pops.values()) if isinstance(pops, dict) else list(pops)
        outputs = list(getattr(net, "outputs", []) or [pops[-1].name])
        # inputs first, outputs last (in their order): the chip's output block is contiguous
        rank = {p.name: (0 if type(p).__name__ == "InputPopulation" else
                         2 + outputs.index(p.name) if p.name in outputs else 1) for p in pops}
        pops = sorted(pops, key=lambda p: rank[p.name])
        dt = float(getattr(net, "dt_ms", 1.0))
        layers, notes = [], []
        for p in pops:
            kind = type(p).__name__
            if kind == "InputPopulation":
                layers.append(Layer(p.name, p.n, is_input=True))
                continue
            if kind not in ("LIFPopulation", "IFPopulation", "AdaptiveLIFPopulation"):
                raise ConfigError(f"population {p.name!r} is {kind}; chips run LIF/IF neurons only")
            if kind == "AdaptiveLIFPopulation":
                notes.append(f"{p.name}: adaptive threshold dropped (chips deploy plain LIF)")
            c = p.coefficients(dt)
            par = p.params
            v_rest = par["v_rest"]
            layer = Layer(p.name, p.n, a_exc=c[4].copy(), a_inh=c[5].copy(), a_m=c[0].copy(),
                          gain_exc=c[2].copy(), gain_inh=c[3].copy(), bias=c[1] - (1.0 - c[0]) * v_rest,
                          v_th=par["v_th"] - v_rest, v_reset=par["v_reset"] - v_rest,
                          soft_reset=getattr(p, "reset", "hard") == "soft",
                          refractory_steps=np.round(par["refractory_ms"] / dt).astype(np.int64))
            layers.append(layer)
        conns = [Connection(j.pre, j.post, j.indptr.copy(), j.indices.astype(np.int64), j.weights.copy(),
                            j.delay_array(), j.receptor) for j in net.projections]
        return cls(layers, conns, dt, outputs[0], notes)


def lif_layer(name: str, n: int, tau_m_ms: float, tau_exc_ms: float, tau_inh_ms: float, v_th: float,
              v_rest: float, v_reset: float, bias: float, refractory_ms: float, dt_ms: float,
              soft_reset: bool = False) -> Layer:
    """A LIF layer with the engine's exact discretisation (network/populations.py)."""
    a_m = np.exp(-dt_ms / tau_m_ms)
    a_e, a_i = np.exp(-dt_ms / tau_exc_ms), np.exp(-dt_ms / tau_inh_ms)

    def gain(tau_s, a_s):
        if np.isclose(tau_s, tau_m_ms):
            return dt_ms / tau_m_ms * a_m
        return tau_s / (tau_s - tau_m_ms) * (a_s - a_m)

    full = lambda x: np.full(n, float(x))  # noqa: E731
    return Layer(name, n, a_exc=full(a_e), a_inh=full(a_i), a_m=full(a_m), gain_exc=full(gain(tau_exc_ms, a_e)),
                 gain_inh=full(gain(tau_inh_ms, a_i)), bias=full((1 - a_m) * bias), v_th=full(v_th - v_rest),
                 v_reset=full(v_reset - v_rest), soft_reset=soft_reset,
                 refractory_steps=np.full(n, int(round(refractory_ms / dt_ms)), np.int64))


def dense_connection(pre: str, post: str, w: np.ndarray, delays: int = 0, receptor: str = "exc") -> Connection:
    """All-to-all synapses from a dense [n_pre, n_post] matrix, zero weights dropped."""
    rows, cols = np.nonzero(w)
    indptr = np.concatenate([[0], np.cumsum(np.count_nonzero(w, axis=1))]).astype(np.int64)
    return Connection(pre, post, indptr, cols.astype(np.int64), w[rows, cols].astype(np.float64),
                      np.full(rows.shape[0], int(delays), np.int64), receptor)
