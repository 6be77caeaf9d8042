"""Liquid-state machine: a fixed recurrent spiking reservoir and a trained readout.

`SpikingReservoir` is a scikit-learn transformer from input spikes to reservoir spikes
(per-sample event arrays in, per-sample event arrays out, x = reservoir neuron), so it
chains in front of any readout in `network.readouts`:

    lsm = liquid_state_machine(n_inputs=64, n_neurons=300, feature="counts", bins=4)
    lsm.fit(X_train, y_train).score(X_test, y_test)

The reservoir (Maass, Natschläger & Markram 2002) is a random LIF network with an
excitatory and an inhibitory share (Dale's law: a neuron's outgoing weights share a
sign), sparse random input and recurrent connections; nothing in it learns. Each sample
runs from the resting state, so a sample's output does not depend on the ones before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from network.connectivity import fixed_probability
from network.network import Network
from network.populations import InputPopulation, LIFPopulation
from network.projections import Projection
from pipeline.errors import ConfigError


class SpikingReservoir(TransformerMixin, BaseEstimator):
    """Input spikes -> spikes of a random recurrent LIF reservoir.

    n_inputs: input neurons (event x < n_inputs); n_neurons: reservoir size;
    inhibitory_fraction: share of reservoir neurons whose outgoing weights are negative;
    input_p, input_weight: input connection probability and mean weight (mV);
    recurrent_p, recurrent_weight: the same within the reservoir (excitatory weight;
    inhibitory ones are `inhibition` times stronger); tau_m_ms, refractory_ms: the LIF
    neurons; dt_us: time step; duration_us: time simulated per sample (None: to its last
    input spike plus `tail_us`, rounded up to a step); seed: connectivity.
    """

    def __init__(self, n_inputs: int, n_neurons: int = 200, *, inhibitory_fraction: float = 0.2,
                 input_p: float = 0.2, input_weight: float = 1.0, recurrent_p: float = 0.1,
                 recurrent_weight: float = 0.5, inhibition: float = 2.0, tau_m_ms: float = 20.0,
                 refractory_ms: float = 2.0, dt_us: int = 1000, duration_us: int | None = None,
                 tail_us: int = 20_000, seed: int = 0) -> None:
        self.n_inputs = n_inputs
        self.n_neurons = n_neurons
        self.inhibitory_fraction = inhibitory_fraction
        self.input_p = input_p
        self.input_weight = input_weight
        self.recurrent_p = recurrent_p
        self.recurrent_weight = recurrent_weight
        self.inhibition = inhibition
        self.tau_m_ms = tau_m_ms
        self.refractory_ms = refractory_ms
        self.dt_us = dt_us
        self.duration_us = duration_us
        self.tail_us = tail_us
        self.seed = seed

    def _check_params(self) -> None:
        if int(self.n_inputs) <= 0 or int(self.n_neurons) <= 0:
            raise ConfigError(f"SpikingReservoir: n_inputs and n_neurons must be > 0, got {self.n_inputs}, "
                              f"{self.n_neurons}")
        if not 0.0 <= self.inhibitory_fraction <= 1.0:
            raise ConfigError(f"SpikingReservoir: inhibitory_fraction must be in [0, 1], got {self.inhibitory_fraction}")
        if int(self.dt_us) <= 0 or (self.duration_us is not None and int(self.duration_us) <= 0):
            raise ConfigError("SpikingReservoir: dt_us and duration_us must be > 0")

    def build(self) -> Network:
        """The reservoir as an engine Network (input population 'input', output 'reservoir')."""
        self._check_params()
        n_in, n = int(self.n_inputs), int(self.n_neurons)
        net = Network(dt_us=int(self.dt_us), seed=self.seed, learning=False)
        net.add(InputPopulation(n_in), input=True)
        net.add(LIFPopulation(n, name="reservoir", tau_m_ms=self.tau_m_ms, tau_exc_ms=5.0, tau_inh_ms=10.0,
                              refractory_ms=self.refractory_ms), output=True)
        net.connect(fixed_probability("input", "reservoir", n_in, n, p=self.input_p, weight=self.input_weight,
                                      weight_std=self.input_weight / 2, seed=self.seed))
        n_inh = int(round(self.inhibitory_fraction * n))
        inhibitory = np.zeros(n, bool)
        inhibitory[np.random.default_rng([self.seed, 1]).permutation(n)[:n_inh]] = True
        if self.recurrent_p > 0 and self.recurrent_weight != 0:
            rec = fixed_probability("reservoir", "reservoir", n, n, p=self.recurrent_p,
                                    weight=abs(self.recurrent_weight), weight_std=abs(self.recurrent_weight) / 2,
                                    seed=self.seed + 2, allow_self=False)
            # Dale's law: every synapse of an inhibitory neuron is negative, stronger, and on
            # the inhibitory receptor; one projection per receptor, same CSR rows masked
            pre = np.repeat(np.arange(n), np.diff(rec.indptr))
            for receptor, rows, scale in (("exc", ~inhibitory, 1.0), ("inh", inhibitory, -self.inhibition)):
                keep = rows[pre]
                indptr = np.concatenate([[0], np.cumsum(np.bincount(pre[keep], minlength=n))])
                net.connect(Projection("reservoir", "reservoir", indptr, rec.indices[keep],
                                       scale * np.abs(rec.weights[keep]), receptor=receptor,
                                       name=f"reservoir-{receptor}"))
        return net

    def fit(self, X: Sequence[np.ndarray], y: Any = None) -> SpikingReservoir:
        self.network_ = self.build()
        self.inhibitory_ = int(round(self.inhibitory_fraction * int(self.n_neurons)))
        self.n_features_out_ = int(self.n_neurons)
        return self

    def transform(self, X: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Reservoir spikes per sample (x = neuron, t = µs from the sample's start)."""
        check_is_fitted(self, "network_")
        net = self.network_
        out = []
        for i, ev in enumerate(X):
            names = getattr(getattr(ev, "dtype", None), "names", None) or ()
            if "t" not in names or "x" not in names:
                raise ValueError(f"SpikingReservoir: sample {i} is not an event array with fields t and x")
            if ev.shape[0] and (int(ev["x"].max()) >= int(self.n_inputs) or int(ev["t"].min()) < 0):
                raise ValueError(f"SpikingReservoir: sample {i} has an input x >= n_inputs={self.n_inputs} "
                                 "or a negative time")
            duration = self._duration(ev)
            ev = ev[ev["t"] < duration]
            net.reset_state()
            out.append(net.run(ev, duration)["reservoir"])
        return out

    def _duration(self, ev: np.ndarray) -> int:
        dt = int(self.dt_us)
        if self.duration_us is not None:
            return -(-int(self.duration_us) // dt) * dt
        last = int(ev["t"].max()) + 1 if ev.shape[0] else 0
        return max(dt, -(-(last + int(self.tail_us)) // dt) * dt)


def liquid_state_machine(n_inputs: int, n_neurons: int = 200, *, feature: str = "counts", classifier: Any = None,
                         reservoir: dict[str, Any] | None = None, **feature_params: Any) -> Pipeline:
    """Pipeline(SpikingReservoir -> spike features -> StandardScaler -> classifier)."""
    from network.readouts.model import make_readout

    res = SpikingReservoir(n_inputs, n_neurons, **(reservoir or {}))
    readout = make_readout(feature, classifier, n_neurons=n_neurons, **feature_params)
    return Pipeline([("reservoir", res), *readout.steps])
