"""Spiking lane-keeping controller: DVS events -> region counts -> two LIF motor neurons, R-STDP.

After Bing et al. 2018 (ICRA; their code: github.com/clamesc/Training-Neural-Networks-for-
Event-Based-End-to-End-Robot-Control, Controller/R-STDP). One control step is one window of
`window_steps` SNN steps of dt_us:

    events of the last frame interval -> counts per region (regions[0] columns x regions[1]
      rows of the camera image, both polarities together, as Bing et al.'s 8 x 4)
      -> one Poisson input neuron per region, rate = min(count / max_events, 1) * max_rate_hz
      -> all to all -> "left" and "right" motor LIF neurons, every synapse plastic (R-STDP)
      -> spike counts n_l, n_r -> Bing et al.'s steering-wheel model -> wheel speeds (m/s)

Learning (Bing et al.'s R-STDP): the lateral error e (m, positive left of the lane centre)
is the reward, with opposite signs for the two neurons: the left neuron (its spikes speed
the left wheel, turning the robot right) is rewarded by +e, the right one by -e. The engine
has one reward signal (`modulator`) for the whole network, so the two motor neurons get
their own projections and the right one's R-STDP learning rate is negative: with the
modulator reward_gain * e, its synapses move by -learning_rate * reward_gain * e *
eligibility, exactly the opposite reward. The modulator is held through each window.

Numbers from Bing et al.'s code: 8 x 4 regions, 50 ms windows, 300 Hz at most per input,
n_max = 15 motor spikes, a_plus = a_minus = 1 with 20 ms STDP windows, weights clipped at
0. Ours: eligibility decays in 300 ms (theirs 1 s); max_events = 20 (their 15, scaled to the
emulator's event counts); weights in mV of our current-based LIF, and a learning rate that
keeps the oval's lane after 2-3 episodes (a few hundred control steps; theirs trained 100 000).

The fast path: a control step bins the events and calls `Network.advance` directly, as the
CartPole controller does (apps/robot/controller.py); no per-event Python.

Persistence: `save(path)` writes `path` (JSON: parameters, counters) and `path` with
suffix .net.npz (Network.save); no pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from network.connectivity import all_to_all
from network.learning.rules import RewardSTDP
from network.network import Network
from network.populations import InputPopulation, LIFPopulation
from pipeline.errors import ConfigError

KIND = "lane_rstdp"


class LaneController:
    """Event-camera regions -> two motor neurons, learning online with R-STDP (Bing et al. 2018).

    Parameters: width, height (camera pixels); columns, rows (regions); dt_us; window_steps
    (SNN steps per control step: window_steps * dt_us should be the control period);
    max_events (events per region per window that give max_rate_hz); max_rate_hz;
    tau_m_ms, tau_exc_ms, refractory_ms (motor LIF); w_init, w_spread (initial weights,
    uniform in w_init +- w_spread, mV); w_max; learning_rate; reward_gain (modulator per
    metre of lateral error); tau_eligibility_ms; a_plus, a_minus, tau_stdp_ms (the STDP
    window feeding the eligibility); n_max (spikes per window for a full motor command);
    v_min_ms, v_max_ms (forward speed, m/s); turn_ms (wheel speed difference at full
    command, m/s); seed; learning.
    """

    def __init__(self, width: int = 64, height: int = 32, columns: int = 8, rows: int = 4, dt_us: int = 1000,
                 window_steps: int = 50, max_events: float = 20.0, max_rate_hz: float = 300.0,
                 tau_m_ms: float = 10.0, tau_exc_ms: float = 2.0, refractory_ms: float = 2.0,
                 w_init: float = 0.4, w_spread: float = 0.05, w_max: float = 2.0, learning_rate: float = 1e-4,
                 reward_gain: float = 1.0, tau_eligibility_ms: float = 300.0, a_plus: float = 1.0,
                 a_minus: float = 1.0, tau_stdp_ms: float = 20.0, n_max: float = 15.0, v_min_ms: float = 0.3,
                 v_max_ms: float = 0.5, turn_ms: float = 0.25, seed: int = 0, learning: bool = True) -> None:
        self.params = dict(width=int(width), height=int(height), columns=int(columns), rows=int(rows),
                           dt_us=int(dt_us), window_steps=int(window_steps), max_events=float(max_events),
                           max_rate_hz=float(max_rate_hz), tau_m_ms=float(tau_m_ms), tau_exc_ms=float(tau_exc_ms),
                           refractory_ms=float(refractory_ms), w_init=float(w_init), w_spread=float(w_spread),
                           w_max=float(w_max), learning_rate=float(learning_rate), reward_gain=float(reward_gain),
                           tau_eligibility_ms=float(tau_eligibility_ms), a_plus=float(a_plus),
                           a_minus=float(a_minus), tau_stdp_ms=float(tau_stdp_ms), n_max=float(n_max),
                           v_min_ms=float(v_min_ms), v_max_ms=float(v_max_ms), turn_ms=float(turn_ms),
                           seed=int(seed))
        p = self.params
        if not (0 < p["columns"] <= p["width"] and 0 < p["rows"] <= p["height"]):
            raise ConfigError(f"lane controller: {columns} x {rows} regions do not fit a {width} x {height} camera")
        if p["dt_us"] <= 0 or p["window_steps"] < 1:
            raise ConfigError(f"lane controller: need dt_us > 0 and window_steps >= 1, got {dt_us}, {window_steps}")
        if not (p["max_events"] > 0 and p["n_max"] > 0 and 0 <= p["v_min_ms"] <= p["v_max_ms"]):
            raise ConfigError("lane controller: need max_events > 0, n_max > 0 and 0 <= v_min_ms <= v_max_ms")
        self.n_inputs = p["columns"] * p["rows"]
        self.learning = bool(learning)
        self.episodes = 0
        self.steps_total = 0
        self.net = self._build_network()
        # region of each camera pixel, row-major like the events' y * width + x
        col = np.arange(p["width"]) * p["columns"] // p["width"]
        row = np.arange(p["height"]) * p["rows"] // p["height"]
        self._region = (row[:, None] * p["columns"] + col[None, :]).ravel()
        self.start_episode()

    # -- construction -------------------------------------------------------------------
    def _build_network(self) -> Network:
        p = self.params
        n = self.n_inputs
        net = Network(dt_us=p["dt_us"], seed=p["seed"])
        net.add(InputPopulation(p["columns"], p["rows"], name="input"), input=True)
        rng = np.random.default_rng(p["seed"])
        for side, sign in (("left", 1.0), ("right", -1.0)):
            net.add(LIFPopulation(1, name=side, tau_m_ms=p["tau_m_ms"], tau_exc_ms=p["tau_exc_ms"], v_th=1.0,
                                  refractory_ms=p["refractory_ms"]), output=True)
            w = rng.uniform(p["w_init"] - p["w_spread"], p["w_init"] + p["w_spread"], (n, 1))
            proj = net.connect(all_to_all("input", side, n, 1, weights=np.clip(w, 0.0, p["w_max"]), name=side))
            # the right neuron's reward is minus the left one's (Bing et al. 2018): a negative rate
            rule = RewardSTDP(a_plus=p["a_plus"], a_minus=p["a_minus"], tau_plus_ms=p["tau_stdp_ms"],
                              tau_minus_ms=p["tau_stdp_ms"], tau_eligibility_ms=p["tau_eligibility_ms"],
                              learning_rate=sign * p["learning_rate"], w_min=0.0, w_max=p["w_max"])
            proj.set_plasticity(rule.rule_id, rule.kernel_params(), 1)
        net.learning = self.learning
        return net

    def start_episode(self) -> None:
        """Neurons at rest, traces and reward cleared, steering at rest, the Poisson stream
        reseeded from (seed, episode); weights and counters kept."""
        p = self.params
        self.net.learning = self.learning
        self.net.reset_state()
        self._rng = np.random.default_rng([p["seed"], self.episodes])
        self.speed_ms = p["v_min_ms"]
        self.turn_ms = 0.0
        self.spikes = (0, 0)

    # -- one control step ---------------------------------------------------------------
    def region_counts(self, events: np.ndarray) -> np.ndarray:
        """Events per region (float [rows * columns], row-major), both polarities together."""
        pix = events["y"].astype(np.int64) * self.params["width"] + events["x"].astype(np.int64)
        return np.bincount(self._region[pix], minlength=self.n_inputs).astype(np.float64)

    def input_spikes(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(step within the window, input neuron) of the Poisson trains, sorted by step."""
        p = self.params
        rate = np.minimum(counts / p["max_events"], 1.0) * p["max_rate_hz"]
        prob = rate * p["dt_us"] * 1e-6
        draws = self._rng.random((p["window_steps"], self.n_inputs))
        steps, neurons = np.nonzero(draws < prob[None, :])
        return steps.astype(np.int64), neurons.astype(np.int64)

    def step(self, events: np.ndarray, error_m: float = 0.0) -> tuple[float, float]:
        """Observe the events of the last frame interval and the lateral error (m) reached
        after the previous command, learn, and return wheel speeds (v_left, v_right), m/s."""
        p = self.params
        steps, neurons = self.input_spikes(self.region_counts(events))
        k0 = self.net.step
        r_steps = r_values = None
        if self.learning:
            r_steps = np.array([k0], np.int64)
            r_values = np.array([p["reward_gain"] * float(error_m)])
        out = self.net.advance(p["window_steps"], steps + k0, neurons, reward_steps=r_steps, reward_values=r_values)
        self.spikes = (int(out["left"][0].size), int(out["right"][0].size))
        self.steps_total += 1
        return self.steer(*self.spikes)

    def steer(self, n_left: int, n_right: int) -> tuple[float, float]:
        """Bing et al.'s steering-wheel model: the command a = m_l - m_r (m = n / n_max, at most 1)
        sets the turn and slows the robot down; it replaces the last command in proportion
        to the activity c = sqrt((m_l^2 + m_r^2) / 2), so no spikes keep the last command."""
        p = self.params
        m_l, m_r = min(n_left / p["n_max"], 1.0), min(n_right / p["n_max"], 1.0)
        a = m_l - m_r
        c = np.sqrt((m_l * m_l + m_r * m_r) / 2.0)
        self.speed_ms = c * (p["v_max_ms"] - abs(a) * (p["v_max_ms"] - p["v_min_ms"])) + (1 - c) * self.speed_ms
        self.turn_ms = c * p["turn_ms"] * a + (1 - c) * self.turn_ms
        return self.speed_ms + self.turn_ms, self.speed_ms - self.turn_ms

    def end_episode(self) -> None:
        """The episode ended (the robot left the lane or finished): start the next one."""
        self.episodes += 1
        self.start_episode()

    def warm_up(self) -> None:
        """Compile / load the Numba kernels on a twin, so the first real step is not slow."""
        from pipeline.events import EVENT_DTYPE

        twin = LaneController(**{**self.params, "window_steps": 2}, learning=True)
        ev = np.zeros(4, EVENT_DTYPE)
        twin.step(ev, 0.1)

    # -- persistence --------------------------------------------------------------------
    def weights(self) -> np.ndarray:
        """Plastic weights [rows, columns, 2] (left, right), a copy."""
        p = self.params
        w = np.stack([self.net.projections[0].weights, self.net.projections[1].weights], 1)
        return w.reshape(p["rows"], p["columns"], 2).copy()

    def save(self, path: str | Path) -> Path:
        """Write `path` (JSON) and its .net.npz network; JSON and npz only."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        net_path = path.with_suffix(".net.npz")
        self.net.save(net_path)
        doc = {"kind": KIND, "params": self.params, "episodes": self.episodes, "steps": self.steps_total,
               "network": net_path.name}
        path.write_text(json.dumps(doc, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path, learning: bool = False) -> LaneController:
        """A saved controller; learning off unless asked."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"lane controller {path}: cannot read ({exc})") from None
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            raise ConfigError(f"lane controller {path}: not a saved lane controller (kind {KIND!r})")
        ctl = cls(**doc["params"], learning=learning)
        net = Network.load(path.parent / doc["network"])
        if [q.n_synapses for q in net.projections] != [q.n_synapses for q in ctl.net.projections]:
            raise ConfigError(f"lane controller {path}: its network does not match its parameters")
        ctl.net = net
        ctl.episodes = int(doc.get("episodes", 0))
        ctl.steps_total = int(doc.get("steps", 0))
        ctl.start_episode()
        return ctl

    def describe(self) -> dict[str, Any]:
        return {"inputs": self.n_inputs, "neurons": self.net.n_neurons, "synapses": self.net.n_synapses,
                **self.params}
