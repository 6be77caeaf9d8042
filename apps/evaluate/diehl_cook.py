"""Diehl & Cook (2015)-style unsupervised network through the engine: Poisson input ->
all-to-all plastic excitatory layer (pair STDP with post-spike weight normalisation) with
adaptive thresholds (AdaptiveLIFPopulation, slow theta) and winner-take-all lateral
inhibition; a LabelAssignmentReadout on the per-sample spike counts decides."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from network.connectivity import all_to_all, lateral_inhibition
from network.learning.rules import STDP
from network.network import Network
from network.populations import AdaptiveLIFPopulation, InputPopulation
from pipeline.events import make_events


@dataclass
class DiehlCookConfig:
    n_neurons: int = 200
    dt_us: int = 500
    present_us: int = 350_000
    rest_us: int = 100_000
    max_rate_hz: float = 120.0
    weight_sum: float = 20.0
    a_plus: float = 0.01
    a_minus: float = 0.0
    tau_plus_ms: float = 200.0
    tau_minus_ms: float = 20.0
    w_max: float = 1.0
    inhibition: float = -20.0
    tau_m_ms: float = 50.0
    tau_inh_ms: float = 10.0
    beta: float = 0.02
    tau_adapt_ms: float = 1e7
    epochs: int = 1
    seed: int = 0


def poisson_events(values: np.ndarray, rate_hz: float, duration_us: int, t0_us: int, dt_us: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Poisson spikes (at most one per step) for input i at rate values[i] * rate_hz over
    [t0, t0 + duration), on the step grid; x = input index."""
    steps = duration_us // dt_us
    p = np.clip(values * rate_hz * dt_us * 1e-6, 0.0, 1.0)
    hits = rng.random((steps, values.shape[0])) < p
    k, i = np.nonzero(hits)
    return make_events(t0_us + k.astype(np.int64) * dt_us, i)


class DiehlCookNetwork:
    """Build once; `present(values, learn)` returns the excitatory spike count vector."""

    def __init__(self, n_inputs: int, config: DiehlCookConfig) -> None:
        c = config
        self.config = c
        self.rng = np.random.default_rng(c.seed)
        net = Network(dt_us=c.dt_us, seed=c.seed, learning=True)
        net.add(InputPopulation(n_inputs), input=True)
        net.add(AdaptiveLIFPopulation(c.n_neurons, name="exc", tau_m_ms=c.tau_m_ms, tau_exc_ms=2.0,
                                      tau_inh_ms=c.tau_inh_ms, v_th=1.0, beta=c.beta, tau_adapt_ms=c.tau_adapt_ms,
                                      refractory_ms=5.0), output=True)
        w0 = self.rng.uniform(0.0, 1.0, (n_inputs, c.n_neurons))
        w0 *= c.weight_sum / w0.sum(axis=0, keepdims=True)
        proj = net.connect(all_to_all("input", "exc", n_inputs, c.n_neurons, weights=w0))
        self.rule = STDP(a_plus=c.a_plus, a_minus=c.a_minus, tau_plus_ms=c.tau_plus_ms,
                         tau_minus_ms=c.tau_minus_ms, w_min=0.0, w_max=c.w_max, normalize_to=c.weight_sum)
        proj.set_plasticity(self.rule.rule_id, self.rule.kernel_params(), c.n_neurons)
        net.connect(lateral_inhibition("exc", c.n_neurons, weight=c.inhibition))
        self.projection = proj
        self.net = net

    def present(self, values: np.ndarray, learn: bool) -> np.ndarray:
        c = self.config
        net = self.net
        net.learning = learn
        t0 = net.step * c.dt_us
        events = poisson_events(values, c.max_rate_hz, c.present_us, t0, c.dt_us, self.rng)
        out = net.run(events, c.present_us)["exc"]
        net.run(None, c.rest_us)  # silence: membranes and currents relax, thresholds stay
        return np.bincount(out["x"].astype(np.int64), minlength=c.n_neurons).astype(np.float64)

    def responses(self, data: np.ndarray, learn: bool, progress=None) -> np.ndarray:
        out = np.zeros((data.shape[0], self.config.n_neurons))
        for i in range(data.shape[0]):
            out[i] = self.present(data[i], learn)
            if progress is not None:
                progress.update(1)
        return out
