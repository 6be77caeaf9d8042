"""Neuron populations: parameters (scalar or per neuron) and the state the kernel updates.

A population only holds parameters and state; the Numba update lives in
`network/_neurons.py`. Every model shares the state rows `v`, `I_exc`, `I_inh` and
`last_spike` (the step of the last spike); models add rows of their own (`theta`, `u`,
`m`, `h`, `n`). Synaptic input is current based: a spike adds its weight to `I_exc`
(receptor 0) or `I_inh` (receptor 1), which decay exponentially; weights carry their
sign (inhibitory projections have negative weights). Voltages are in mV, times in ms
unless a name says otherwise.

Update order inside one time step (the same as Brian2's schedule, so results agree with
it step for step): synaptic input delivered for this step is added to the currents, the
state advances by dt, neurons above threshold spike and reset, then spikes propagate.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from pipeline.errors import ConfigError

# model ids understood by network/_kernels.py
MODEL_INPUT = 0
MODEL_LINEAR = 1  # LIF, IF and adaptive LIF share one exactly integrated update
MODEL_IZHIKEVICH = 2
MODEL_HODGKIN_HUXLEY = 3

# rows of the shared state array
V, I_EXC, I_INH, LAST_SPIKE, EXTRA0, EXTRA1, EXTRA2 = range(7)
N_STATE = 7
N_COEF = 12
NEVER = -1.0e12  # last_spike before any spike


class Population:
    """Base class: `n` neurons with per-neuron parameters and a state dict of named rows."""

    model_id: ClassVar[int] = -1
    #: names of the state rows this model uses, in row order (V, I_EXC, I_INH, LAST_SPIKE, extras)
    state_names: ClassVar[tuple[str, ...]] = ("v", "I_exc", "I_inh", "last_spike")
    #: parameter names and defaults; each may be a scalar or an array of length n
    defaults: ClassVar[dict[str, float]] = {}

    def __init__(self, n: int, name: str = "", shape: tuple[int, ...] | None = None, **params: Any) -> None:
        if int(n) <= 0:
            raise ConfigError(f"population {name!r}: n must be > 0, got {n}")
        self.n = int(n)
        self.name = name
        self.shape = tuple(int(s) for s in shape) if shape is not None else (self.n,)
        if int(np.prod(self.shape)) != self.n:
            raise ConfigError(f"population {name!r}: shape {self.shape} does not hold {self.n} neurons")
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ConfigError(f"population {name!r} ({type(self).__name__}): unknown parameter(s) "
                              f"{sorted(unknown)}; known: {sorted(self.defaults)}")
        self.params: dict[str, np.ndarray] = {}
        for key, default in self.defaults.items():
            value = np.asarray(params.get(key, default), dtype=np.float64)
            if value.ndim == 0:
                value = np.full(self.n, float(value))
            if value.shape != (self.n,):
                raise ConfigError(f"population {name!r}: parameter {key} has shape {value.shape}, "
                                  f"expected a scalar or ({self.n},)")
            if not np.all(np.isfinite(value)):
                raise ConfigError(f"population {name!r}: parameter {key} is not finite")
            self.params[key] = value
        self._check()
        self.state = np.zeros((N_STATE, self.n), np.float64)
        self.reset_state()

    def _check(self) -> None:
        pass

    def reset_state(self) -> None:
        """Initial state: at rest, no current, never spiked."""
        self.state[:] = 0.0
        self.state[LAST_SPIKE] = NEVER

    def coefficients(self, dt_ms: float) -> np.ndarray:
        """Per-neuron update constants for time step dt_ms: float64 [N_COEF, n]."""
        return np.zeros((N_COEF, self.n), np.float64)

    def variable(self, name: str) -> int:
        """Row index of a state variable, ConfigError if this model has none of that name."""
        if name not in self.state_names:
            raise ConfigError(f"population {self.name!r} ({type(self).__name__}) has no state variable "
                              f"{name!r}; it has {list(self.state_names)}")
        return self.state_names.index(name)

    def config(self) -> dict[str, Any]:
        """JSON-able description (scalars stay scalars; per-neuron arrays go to the npz)."""
        return {"type": type(self).__name__, "n": self.n, "name": self.name, "shape": list(self.shape)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, name={self.name!r})"


class InputPopulation(Population):
    """Spike sources driven by events: event (x, y, p) -> neuron x + width * (y + height * polarity),
    polarity index 1 for p > 0 when `polarities` == 2, else 0."""

    model_id = MODEL_INPUT

    def __init__(self, width: int, height: int = 1, polarities: int = 1, name: str = "input") -> None:
        if width <= 0 or height <= 0 or polarities not in (1, 2):
            raise ConfigError(f"input population {name!r}: need width, height > 0 and polarities 1 or 2, "
                              f"got {width}x{height}x{polarities}")
        self.width, self.height, self.polarities = int(width), int(height), int(polarities)
        super().__init__(self.width * self.height * self.polarities, name=name,
                         shape=(self.polarities, self.height, self.width))

    def neuron_of(self, events: np.ndarray, where: str = "events") -> np.ndarray:
        """Neuron index (int64) of each event; ChunkError if an address is outside the geometry."""
        from pipeline.errors import ChunkError

        x = events["x"].astype(np.int64)
        y = events["y"].astype(np.int64)
        bad = np.flatnonzero((x >= self.width) | (y >= self.height))
        if bad.size:
            i = int(bad[0])
            raise ChunkError(f"{where}: event {i} at ({x[i]}, {y[i]}) is outside the input population "
                             f"{self.name!r} of {self.width}x{self.height}")
        index = x + self.width * y
        if self.polarities == 2:
            index += self.width * self.height * (events["p"] > 0)
        return index

    def config(self) -> dict[str, Any]:
        return {"type": "InputPopulation", "width": self.width, "height": self.height,
                "polarities": self.polarities, "name": self.name}


class LIFPopulation(Population):
    """Leaky integrate-and-fire with exponential current synapses, integrated exactly:

        tau_m dv/dt = -(v - v_rest) + bias + I_exc + I_inh,  tau_exc dI_exc/dt = -I_exc, ...

    spike when v > v_th (not while refractory); reset "hard" (v = v_reset) or "soft"
    (v -= v_th - v_reset). Currents are in mV (the membrane resistance is folded in).
    """

    model_id = MODEL_LINEAR
    defaults: ClassVar[dict[str, float]] = {
        "tau_m_ms": 20.0, "tau_exc_ms": 5.0, "tau_inh_ms": 10.0, "v_rest": 0.0, "v_reset": 0.0,
        "v_th": 1.0, "refractory_ms": 0.0, "bias": 0.0,
    }
    leak: ClassVar[bool] = True

    def __init__(self, n: int, name: str = "", shape: tuple[int, ...] | None = None, reset: str = "hard",
                 **params: Any) -> None:
        if reset not in ("hard", "soft"):
            raise ConfigError(f"population {name!r}: reset must be 'hard' or 'soft', got {reset!r}")
        self.reset = reset
        super().__init__(n, name=name, shape=shape, **params)

    def _check(self) -> None:
        for key in ("tau_m_ms", "tau_exc_ms", "tau_inh_ms"):
            if np.any(self.params[key] <= 0):
                raise ConfigError(f"population {self.name!r}: {key} must be > 0")
        if np.any(self.params["refractory_ms"] < 0):
            raise ConfigError(f"population {self.name!r}: refractory_ms must be >= 0")

    def reset_state(self) -> None:
        super().reset_state()
        self.state[V] = self.params["v_rest"]

    def coefficients(self, dt_ms: float) -> np.ndarray:
        p = self.params
        c = np.zeros((N_COEF, self.n), np.float64)
        tau_m = p["tau_m_ms"]
        a_exc, a_inh = np.exp(-dt_ms / p["tau_exc_ms"]), np.exp(-dt_ms / p["tau_inh_ms"])
        if self.leak:
            a_m = np.exp(-dt_ms / tau_m)
            c[0] = a_m
            c[1] = (1.0 - a_m) * (p["v_rest"] + p["bias"])
            c[2] = _current_gain(p["tau_exc_ms"], tau_m, a_exc, a_m, dt_ms)
            c[3] = _current_gain(p["tau_inh_ms"], tau_m, a_inh, a_m, dt_ms)
        else:  # perfect integrator: the integral of each current over the step, / tau_m
            c[0] = 1.0
            c[1] = p["bias"] * dt_ms / tau_m
            c[2] = p["tau_exc_ms"] * (1.0 - a_exc) / tau_m
            c[3] = p["tau_inh_ms"] * (1.0 - a_inh) / tau_m
        c[4], c[5] = a_exc, a_inh
        c[6], c[7] = p["v_th"], p["v_reset"]
        c[8] = np.round(p["refractory_ms"] / dt_ms)
        c[9] = 1.0 if self.reset == "soft" else 0.0
        c[10] = 1.0  # adaptation decay (no adaptation: theta stays 0)
        c[11] = 0.0  # threshold increment per spike
        return c

    def config(self) -> dict[str, Any]:
        return {**super().config(), "reset": self.reset}


def _current_gain(tau_s: np.ndarray, tau_m: np.ndarray, a_s: np.ndarray, a_m: np.ndarray, dt: float) -> np.ndarray:
    """Exact contribution of an exponentially decaying current I(0) to v after dt, per unit I(0)."""
    same = np.isclose(tau_s, tau_m, rtol=1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = tau_s / (tau_s - tau_m) * (a_s - a_m)
    return np.where(same, dt / tau_m * a_m, gain)


class IFPopulation(LIFPopulation):
    """Non-leaky integrate-and-fire: tau_m dv/dt = bias + I_exc + I_inh (exact), same reset and
    refractory rules as LIF."""

    leak = False


class AdaptiveLIFPopulation(LIFPopulation):
    """LIF with spike-frequency adaptation through an adaptive threshold: spike when
    v > v_th + theta; tau_adapt dtheta/dt = -theta; each spike adds beta to theta."""

    state_names = ("v", "I_exc", "I_inh", "last_spike", "theta")
    defaults: ClassVar[dict[str, float]] = {**LIFPopulation.defaults, "tau_adapt_ms": 200.0, "beta": 0.1}

    def _check(self) -> None:
        super()._check()
        if np.any(self.params["tau_adapt_ms"] <= 0):
            raise ConfigError(f"population {self.name!r}: tau_adapt_ms must be > 0")

    def coefficients(self, dt_ms: float) -> np.ndarray:
        c = super().coefficients(dt_ms)
        c[10] = np.exp(-dt_ms / self.params["tau_adapt_ms"])
        c[11] = self.params["beta"]
        return c


class IzhikevichPopulation(Population):
    """Izhikevich (2003), forward Euler as Brian2's method='euler' (v in mV, t in ms):

        dv/dt = 0.04 v^2 + 5 v + 140 - u + bias + I_exc + I_inh,  du/dt = a (b v - u)

    spike when v >= v_peak, then v = c, u += d. Synaptic currents decay by Euler too.
    """

    model_id = MODEL_IZHIKEVICH
    state_names = ("v", "I_exc", "I_inh", "last_spike", "u")
    defaults: ClassVar[dict[str, float]] = {
        "a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0, "v_peak": 30.0, "bias": 0.0,
        "tau_exc_ms": 5.0, "tau_inh_ms": 10.0, "v_init": -65.0,
    }

    def reset_state(self) -> None:
        super().reset_state()
        self.state[V] = self.params["v_init"]
        self.state[EXTRA0] = self.params["b"] * self.params["v_init"]

    def coefficients(self, dt_ms: float) -> np.ndarray:
        p = self.params
        c = np.zeros((N_COEF, self.n), np.float64)
        c[0], c[1], c[2], c[3] = p["a"], p["b"], p["c"], p["d"]
        c[4], c[5] = 1.0 - dt_ms / p["tau_exc_ms"], 1.0 - dt_ms / p["tau_inh_ms"]
        c[6], c[7] = p["v_peak"], p["bias"]
        c[8] = dt_ms
        return c


class HodgkinHuxleyPopulation(Population):
    """Hodgkin-Huxley (Traub & Miles 1991 rates, as in Brian2's COBAHH example), integrated
    by exponential Euler as Brian2's method='exponential_euler'. Units: mV, ms, uF/cm2,
    mS/cm2, uA/cm2 (synaptic currents I_exc, I_inh in uA/cm2). A spike is an upward
    crossing of v_th; there is no reset."""

    model_id = MODEL_HODGKIN_HUXLEY
    state_names = ("v", "I_exc", "I_inh", "last_spike", "m", "h", "n")
    defaults: ClassVar[dict[str, float]] = {
        "c_m": 1.0, "g_na": 100.0, "g_k": 30.0, "g_l": 0.05, "e_na": 50.0, "e_k": -90.0, "e_l": -65.0,
        "v_t": -63.0, "v_th": -20.0, "bias": 0.0, "tau_exc_ms": 5.0, "tau_inh_ms": 10.0, "v_init": -65.0,
    }

    def reset_state(self) -> None:
        super().reset_state()
        self.state[V] = self.params["v_init"]

    def coefficients(self, dt_ms: float) -> np.ndarray:
        p = self.params
        c = np.zeros((N_COEF, self.n), np.float64)
        for i, key in enumerate(("c_m", "g_na", "g_k", "g_l", "e_na", "e_k", "e_l", "v_t", "v_th", "bias")):
            c[i] = p[key]
        c[10] = np.exp(-dt_ms / p["tau_exc_ms"])
        c[11] = np.exp(-dt_ms / p["tau_inh_ms"])
        return c


POPULATION_TYPES: dict[str, type[Population]] = {
    cls.__name__: cls for cls in (InputPopulation, LIFPopulation, IFPopulation, AdaptiveLIFPopulation,
                                  IzhikevichPopulation, HodgkinHuxleyPopulation)
}
