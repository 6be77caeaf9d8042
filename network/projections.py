"""Projections: synapses from one population to another, stored CSR by presynaptic neuron.

A projection holds `indptr` (int64 [n_pre + 1]), `indices` (int32 post index per synapse),
`weights` (float64, signed: negative weights inhibit), integer `delays` in time steps
(one value for all synapses or one per synapse) and the `receptor` it drives ("exc" ->
I_exc, "inh" -> I_inh, each with its own time constant). Builders for the usual
connectivity live in `network/connectivity.py`.

Plasticity (network/learning/) attaches by setting `rule_id` and `rule_params`; the
projection then also keeps its synapses grouped by post neuron (`post_indptr`,
`post_synapses`), the traces and the eligibility the rule reads and writes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.errors import ConfigError

RECEPTORS = {"exc": 0, "inh": 1}


class Projection:
    """Synapses pre -> post in CSR form (see the module docstring)."""

    def __init__(self, pre: str, post: str, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray,
                 delays: int | np.ndarray = 0, receptor: str = "exc", name: str = "") -> None:
        self.pre = pre
        self.post = post
        self.name = name or f"{pre}->{post}"
        if receptor not in RECEPTORS:
            raise ConfigError(f"projection {self.name!r}: receptor must be 'exc' or 'inh', got {receptor!r}")
        self.receptor = receptor
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices, dtype=np.int32)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)
        n_syn = self.indices.shape[0]
        if self.indptr.ndim != 1 or self.indptr.shape[0] < 1 or self.indptr[0] != 0 or self.indptr[-1] != n_syn \
                or np.any(np.diff(self.indptr) < 0):
            raise ConfigError(f"projection {self.name!r}: indptr is not a CSR row pointer for {n_syn} synapses")
        if self.weights.shape != (n_syn,):
            raise ConfigError(f"projection {self.name!r}: {self.weights.shape[0]} weights for {n_syn} synapses")
        if not np.all(np.isfinite(self.weights)):
            raise ConfigError(f"projection {self.name!r}: weights are not finite")
        delays = np.asarray(delays)
        if delays.ndim == 0:
            self.delay = int(delays)
            self.delays = np.zeros(0, np.int16)
            if self.delay < 0:
                raise ConfigError(f"projection {self.name!r}: delay must be >= 0 steps, got {self.delay}")
        else:
            if delays.shape != (n_syn,) or not np.issubdtype(delays.dtype, np.integer):
                raise ConfigError(f"projection {self.name!r}: delays must be one integer per synapse")
            if n_syn and (delays.min() < 0 or delays.max() > np.iinfo(np.int16).max):
                raise ConfigError(f"projection {self.name!r}: delays must be in 0..32767 steps")
            self.delay = -1
            self.delays = delays.astype(np.int16)
        self.rule_id = 0
        self.rule_params = np.zeros(0, np.float64)
        self.post_indptr = np.zeros(0, np.int64)
        self.post_synapses = np.zeros(0, np.int64)
        self.eligibility = np.zeros(0, np.float64)
        self.pre_traces = np.zeros((0, 2), np.float64)
        self.post_traces = np.zeros((0, 3), np.float64)

    @property
    def n_pre(self) -> int:
        return self.indptr.shape[0] - 1

    @property
    def n_synapses(self) -> int:
        return self.indices.shape[0]

    @property
    def max_delay(self) -> int:
        return int(self.delays.max()) if self.delay < 0 and self.delays.size else max(self.delay, 0)

    def delay_array(self) -> np.ndarray:
        """Delay in steps of every synapse (int64)."""
        if self.delay >= 0:
            return np.full(self.n_synapses, self.delay, np.int64)
        return self.delays.astype(np.int64)

    def pre_index(self) -> np.ndarray:
        """Presynaptic neuron of every synapse (int64)."""
        return np.repeat(np.arange(self.n_pre, dtype=np.int64), np.diff(self.indptr))

    def to_dense(self, n_post: int) -> np.ndarray:
        """Weights as a dense [n_pre, n_post] matrix (parallel synapses summed)."""
        dense = np.zeros((self.n_pre, n_post), np.float64)
        np.add.at(dense, (self.pre_index(), self.indices.astype(np.int64)), self.weights)
        return dense

    def set_plasticity(self, rule_id: int, params: Any, n_post: int) -> None:
        """Make the projection plastic under learning rule `rule_id` (network/learning constants)
        with its float64 parameter vector; allocates post grouping, traces and eligibility."""
        self.rule_id = int(rule_id)
        self.rule_params = np.ascontiguousarray(params, dtype=np.float64).ravel()
        if self.rule_id == 0:
            return
        if self.n_synapses and int(self.indices.max()) >= n_post:
            raise ConfigError(f"projection {self.name!r}: post index beyond {n_post} neurons")
        order = np.argsort(self.indices, kind="stable").astype(np.int64)
        counts = np.bincount(self.indices, minlength=n_post)
        self.post_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.post_synapses = order
        if self.eligibility.shape[0] != self.n_synapses:
            self.eligibility = np.zeros(self.n_synapses, np.float64)
        if self.pre_traces.shape[0] != self.n_pre:
            self.pre_traces = np.zeros((self.n_pre, 2), np.float64)
        if self.post_traces.shape[0] != n_post:
            self.post_traces = np.zeros((n_post, 3), np.float64)

    def reset_traces(self) -> None:
        self.eligibility[:] = 0.0
        self.pre_traces[:] = 0.0
        self.post_traces[:] = 0.0

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "pre": self.pre, "post": self.post, "receptor": self.receptor,
                "delay": self.delay, "rule_id": self.rule_id, "n_synapses": self.n_synapses}

    def arrays(self) -> dict[str, np.ndarray]:
        """Arrays to save (weights and learning state included)."""
        out = {"indptr": self.indptr, "indices": self.indices, "weights": self.weights,
               "rule_params": self.rule_params}
        if self.delay < 0:
            out["delays"] = self.delays
        if self.rule_id:
            out.update(eligibility=self.eligibility, pre_traces=self.pre_traces, post_traces=self.post_traces)
        return out

    @classmethod
    def from_dense(cls, pre: str, post: str, weights: np.ndarray, delays: int | np.ndarray = 0,
                   receptor: str = "exc", name: str = "", keep_zeros: bool = True) -> Projection:
        """A projection from a dense [n_pre, n_post] weight matrix (delays scalar or same shape)."""
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2:
            raise ConfigError(f"projection {pre}->{post}: dense weights must be 2-D, got shape {w.shape}")
        mask = np.ones(w.shape, bool) if keep_zeros else (w != 0)
        rows, cols = np.nonzero(mask)
        indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))])
        d = np.asarray(delays)
        d = d[rows, cols] if d.ndim == 2 else d
        return cls(pre, post, indptr, cols, w[rows, cols], d, receptor, name)

    def __repr__(self) -> str:
        return f"Projection({self.name!r}, {self.n_synapses} synapses, receptor={self.receptor!r})"
