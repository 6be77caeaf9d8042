"""Spiking CartPole controller: population code -> two competing LIF action neurons, R-STDP.

One control step is one window of `window_steps` SNN steps (dt_us each):

    state [x, x_dot, theta, theta_dot] -> scaled to [0, 1] per variable (STATE_RANGES)
      -> Gaussian receptive fields (encoders.population: Bohte et al. 2002), latency code:
         one spike per field above min_activation, at (1 - activation) * t_max_us
      -> input -> "action" (2 LIF neurons, left / right), all to all, plastic under
         R-STDP (network.learning.rules.RewardSTDP); the two neurons inhibit each other
      -> decision: the action neuron that fires first (more spikes breaks a tie of steps)

Exploration while learning: two seeded Poisson noise lines, each wired to one action
neuron strongly enough to fire it; if neither neuron fires in a window, the controller
makes a random one fire at the window's last step (a teacher spike), so the action taken
is always the neuron that fired and its eligibility traces know it.

Learning (actor-critic, Barto, Sutton & Anderson 1983, in spiking form after Frémaux,
Sprekeler & Gerstner 2013): reward 0 per surviving step and -1 on failure; a critic V(s)
linear in the same fields' activations learns by TD(lambda); the TD error
delta = r + gamma V(s') - V(s) is the R-STDP modulator delivered for one SNN step at the
start of the next window, so synapses that were active before the chosen neuron fired
move by learning_rate * delta * eligibility.

The fast path: a control step calls `receptive_fields` and `Network.advance` directly
instead of the `population_encoder` and `network` stages, whose per-chunk validation and
buffering cost more than the 0.5 ms compute budget of a 1 kHz loop; `stage_reference`
runs the same step through the stages, and the tests check both give the same spikes.

Persistence: `save(path)` writes `path` (JSON: parameters, critic, counters) and
`path` with suffix .net.npz (Network.save); no pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from encoders.population import receptive_fields
from network.connectivity import all_to_all, lateral_inhibition
from network.learning.rules import RewardSTDP
from network.network import Network
from network.populations import I_EXC, I_INH, LAST_SPIKE, NEVER, InputPopulation, LIFPopulation, V
from pipeline.errors import ConfigError

#: scaling ranges of CartPole's state variables (values outside are clipped)
STATE_RANGES = ((-2.4, 2.4), (-3.0, 3.0), (-0.21, 0.21), (-3.0, 3.0))
STATE_NAMES = ("x", "x_dot", "theta", "theta_dot")
KIND = "cartpole_rstdp"


class CartPoleController:
    """Population-coded state -> two competing action neurons, learning online with R-STDP.

    Parameters: neurons (fields per state variable); dt_us; window_steps (SNN steps per
    control step); t_max_us (latency of the weakest field); w_init, w_std, w_max (plastic
    weights, mV); inhibition (mutual, mV); learning_rate, tau_eligibility_ms (R-STDP);
    critic_rate, critic_lambda, gamma (TD critic); noise_rate (exploration spikes per
    window per action at episode 0), noise_decay (per episode); noise_weight; seed;
    learning (plasticity and exploration on).
    """

    def __init__(self, neurons: int = 10, dt_us: int = 250, window_steps: int = 40, t_max_us: int = 8000,
                 w_init: float = 1.0, w_std: float = 0.1, w_max: float = 4.0, inhibition: float = -20.0,
                 learning_rate: float = 0.5, tau_eligibility_ms: float = 10.0, critic_rate: float = 0.2,
                 critic_lambda: float = 0.8, gamma: float = 0.95, noise_rate: float = 0.1,
                 noise_decay: float = 0.98, noise_weight: float = 20.0, seed: int = 0,
                 learning: bool = True) -> None:
        self.params = dict(neurons=int(neurons), dt_us=int(dt_us), window_steps=int(window_steps),
                           t_max_us=int(t_max_us), w_init=float(w_init), w_std=float(w_std), w_max=float(w_max),
                           inhibition=float(inhibition), learning_rate=float(learning_rate),
                           tau_eligibility_ms=float(tau_eligibility_ms), critic_rate=float(critic_rate),
                           critic_lambda=float(critic_lambda), gamma=float(gamma), noise_rate=float(noise_rate),
                           noise_decay=float(noise_decay), noise_weight=float(noise_weight), seed=int(seed))
        p = self.params
        if p["neurons"] < 3:
            raise ConfigError(f"robot controller: neurons must be >= 3, got {neurons}")
        if p["dt_us"] <= 0 or p["window_steps"] < 3:
            raise ConfigError(f"robot controller: need dt_us > 0 and window_steps >= 3, got {dt_us}, {window_steps}")
        if not 0 <= p["t_max_us"] < (p["window_steps"] - 2) * p["dt_us"]:
            raise ConfigError(f"robot controller: t_max_us {t_max_us} must leave the window's last two steps free "
                              f"({window_steps} steps of {dt_us} µs)")
        self.n_fields = 4 * p["neurons"]
        self.learning = bool(learning)
        self.critic = np.zeros(self.n_fields, np.float64)
        self.episodes = 0
        self.steps_total = 0
        self.net = self._build_network()
        self._mu, self._sigma = receptive_fields(p["neurons"], 0.0, 1.0)
        self._lo = np.array([r[0] for r in STATE_RANGES])
        self._span = np.array([r[1] - r[0] for r in STATE_RANGES])
        self._noise_rng = np.random.default_rng(p["seed"] + 1)
        self._fallback_rng = np.random.default_rng(p["seed"] + 2)
        self.start_episode()

    # -- construction -------------------------------------------------------------------
    def _build_network(self) -> Network:
        p = self.params
        n_in = self.n_fields + 2  # fields, then one exploration line per action neuron
        net = Network(dt_us=p["dt_us"], seed=p["seed"])
        net.add(InputPopulation(n_in, name="input"), input=True)
        net.add(LIFPopulation(2, name="action", tau_m_ms=10.0, tau_exc_ms=2.0, tau_inh_ms=5.0, v_th=1.0,
                              refractory_ms=20.0), output=True)
        rng = np.random.default_rng(p["seed"])
        w = np.clip(rng.normal(p["w_init"], p["w_std"], (n_in, 2)), 0.0, p["w_max"])
        w[self.n_fields:] = 0.0  # the exploration lines' own (fixed) projection fires the neurons anyway
        proj = net.connect(all_to_all("input", "action", n_in, 2, weights=w, name="plastic"))
        rule = RewardSTDP(a_plus=1.0, a_minus=0.0, tau_plus_ms=10.0, tau_minus_ms=10.0,
                          tau_eligibility_ms=p["tau_eligibility_ms"], learning_rate=p["learning_rate"],
                          w_min=0.0, w_max=p["w_max"])
        proj.set_plasticity(rule.rule_id, rule.kernel_params(), 2)
        noise = np.zeros((n_in, 2))
        noise[self.n_fields, 0] = noise[self.n_fields + 1, 1] = p["noise_weight"]
        net.connect(all_to_all("input", "action", n_in, 2, weights=noise, name="exploration"))
        net.connect(lateral_inhibition("action", 2, weight=p["inhibition"]))
        net.learning = self.learning
        return net

    def start_episode(self) -> None:
        """Neurons at rest, traces cleared; weights, critic and counters kept."""
        self.net.learning = self.learning
        self.net.reset_state()
        self.action = 0
        self._phi_prev: np.ndarray | None = None
        self._trace = np.zeros(self.n_fields)
        self.last_delta = 0.0

    # -- one control step ---------------------------------------------------------------
    def activations(self, state: np.ndarray) -> np.ndarray:
        """Field activations [4 * neurons] of a CartPole state (variables scaled, clipped)."""
        v = np.clip((np.asarray(state, np.float64)[:4] - self._lo) / self._span, 0.0, 1.0)
        return np.exp(-((v[:, None] - self._mu[None, :]) ** 2) / (2 * self._sigma**2)).ravel()

    def input_spikes(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(step within the window, field) of the latency code, as the population_encoder
        stage places them (min_activation 0.1, offset rint((1 - a) * t_max_us))."""
        fields = np.flatnonzero(phi >= 0.1)
        off_us = np.rint((1.0 - phi[fields]) * self.params["t_max_us"]).astype(np.int64)
        steps = off_us // self.params["dt_us"]
        order = np.argsort(steps, kind="stable")
        return steps[order], fields[order]

    def step(self, state: np.ndarray, reward: float = 0.0) -> int:
        """Observe `state` (reached after the previous action, with `reward`), learn, and
        return the next action (0 = push left, 1 = push right)."""
        p = self.params
        phi = self.activations(state)
        r_steps = r_values = None
        k0 = self.net.step
        if self.learning and self._phi_prev is not None:
            delta = self._critic_update(phi, float(reward), terminal=False)
            r_steps, r_values = np.array([k0, k0 + 1], np.int64), np.array([delta, 0.0])
        steps, fields = self.input_spikes(phi)
        if self.learning and p["noise_rate"] > 0:
            rate = p["noise_rate"] * p["noise_decay"] ** self.episodes
            fire = np.flatnonzero(self._noise_rng.random(2) < rate)
            if fire.size:
                at = self._noise_rng.integers(0, int(steps[-1]) + 1 if steps.size else 1, fire.size)
                steps = np.concatenate([steps, at])
                fields = np.concatenate([fields, self.n_fields + fire])
                order = np.argsort(steps, kind="stable")
                steps, fields = steps[order], fields[order]
        self._rest_action_neurons()
        w = p["window_steps"]
        out = self.net.advance(w, steps + k0, fields, reward_steps=r_steps, reward_values=r_values)
        s, n = out["action"]
        if s.size:
            first = s.min()
            hits = np.bincount(n[s == first], minlength=2)
            self.action = int(np.argmax(hits)) if hits[0] != hits[1] else int(self._fallback_rng.integers(2))
        else:  # nobody fired: a random neuron is made to fire at the window's end
            self.action = int(self._fallback_rng.integers(2))
            self._force_spike(self.action)
        self._phi_prev = phi
        self.steps_total += 1
        return self.action

    def _rest_action_neurons(self) -> None:
        # each window is a fresh decision: the action neurons start at rest (a neuron still
        # refractory, or inhibited, from the last window would hand the next one to its rival),
        # while the eligibility and STDP traces carry over for the reward that follows
        state = self.net.populations["action"].state
        state[[V, I_EXC, I_INH]] = 0.0
        state[LAST_SPIKE] = NEVER

    def _force_spike(self, neuron: int) -> None:
        # the window was already run, so the teacher spike lands on one extra step after it
        k = self.net.step
        self.net.advance(1, teacher_steps=np.array([k], np.int64), teacher_neurons=self.net.output_neuron(np.array([neuron])))

    def end_episode(self, reward: float, terminal: bool, state: np.ndarray | None = None) -> None:
        """The episode ended: learn from the last transition (terminal: failure, V = 0;
        truncated: bootstrap from `state`), then start the next episode."""
        if self.learning and self._phi_prev is not None:
            phi = None if terminal or state is None else self.activations(state)
            delta = self._critic_update(phi, float(reward), terminal=terminal)
            k0 = self.net.step
            self.net.advance(2, reward_steps=np.array([k0, k0 + 1], np.int64), reward_values=np.array([delta, 0.0]))
        self.episodes += 1
        self.start_episode()

    def _critic_update(self, phi: np.ndarray | None, reward: float, terminal: bool) -> float:
        p = self.params
        prev = self._phi_prev
        v_next = 0.0 if (terminal or phi is None) else float(self.critic @ phi)
        delta = reward + p["gamma"] * v_next - float(self.critic @ prev)
        self._trace = p["gamma"] * p["critic_lambda"] * self._trace + prev
        self.critic += p["critic_rate"] * delta * self._trace / (float(prev @ prev) + 1e-9)
        self.last_delta = delta
        return delta

    def warm_up(self) -> None:
        """Compile / load the Numba kernels on a twin, so the first real step is not slow."""
        twin = CartPoleController(**self.params, learning=True)
        for _ in range(3):
            twin.step(np.zeros(4), 0.0)
        twin.end_episode(-1.0, True)

    # -- persistence --------------------------------------------------------------------
    def weights(self) -> np.ndarray:
        """Plastic weights [fields, 2] (a copy)."""
        return self.net.projections[0].weights.reshape(-1, 2)[:self.n_fields].copy()

    def save(self, path: str | Path) -> Path:
        """Write `path` (JSON) and its .net.npz network; JSON and npz only."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        net_path = path.with_suffix(".net.npz")
        self.net.save(net_path)
        doc = {"kind": KIND, "params": self.params, "critic": self.critic.tolist(), "episodes": self.episodes,
               "steps": self.steps_total, "network": net_path.name}
        path.write_text(json.dumps(doc, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path, learning: bool = False) -> CartPoleController:
        """A saved controller; learning off unless asked."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"robot controller {path}: cannot read ({exc})") from None
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            raise ConfigError(f"robot controller {path}: not a saved CartPole controller (kind {KIND!r})")
        ctl = cls(**doc["params"], learning=learning)
        critic = np.asarray(doc["critic"], np.float64)
        if critic.shape != ctl.critic.shape:
            raise ConfigError(f"robot controller {path}: critic has {critic.size} weights, expected {ctl.n_fields}")
        ctl.critic = critic
        ctl.episodes = int(doc.get("episodes", 0))
        ctl.steps_total = int(doc.get("steps", 0))
        ctl.net = Network.load(path.parent / doc["network"])
        ctl.start_episode()
        return ctl

    def describe(self) -> dict[str, Any]:
        return {"fields": self.n_fields, "neurons": self.net.n_neurons, "synapses": self.net.n_synapses,
                **self.params}
