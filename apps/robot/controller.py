"""Spiking CartPole controller: conjunctive population code -> two competing LIF action
neurons, an actor learning online with R-STDP, modulated by a TD(lambda) critic's TD error.

One control step is one window of `window_steps` SNN steps (dt_us each):

    state [x, x_dot, theta, theta_dot] -> scaled to [0, 1] per variable (STATE_RANGES)
      -> conjunctive Gaussian receptive fields over the pairs (theta, theta_dot) and
         (x, x_dot): products of Bohte et al. (2002) fields (encoders.population), a
         pole_fields^2 and a cart_fields^2 grid
      -> actor: the (theta, theta_dot) grid, latency code (one spike per field at or above
         MIN_ACTIVATION, at (1 - activation) * t_max_us) -> "action" (2 LIF neurons: push
         left / right), all to all, plastic under R-STDP (network.learning.rules.RewardSTDP);
         the two neurons inhibit each other
      -> decision: the action neuron that fires first (both in the same step: a seeded coin)
      -> critic: V(s) linear in both grids' activations

Why pairs: per-variable fields make the critic additive over the variables, and CartPole's
value does not separate: theta > 0 is good with theta_dot < 0 (recovering) and bad with
theta_dot > 0, so an additive critic rewards whatever shrinks |theta_dot| and the actor
learns to damp theta_dot against theta (the old per-variable controller's ~45-step plateau).
Why the cart grid feeds the critic only: with it in the actor (cart_in_actor=True, then
w_init ~1), R-STDP learns the myopic answer to drift, pushing against x_dot, which fights
the pole loop (to bring the cart back one must first push it further out, the pole then
leans inward); 500-episode runs plateau at a best 100-episode average of ~420-430 and the
learned cart weights, set back to equal for both actions, turn a ~440-step greedy
controller into a 500-step one. The pole grid alone holds a balancing policy
(sign(theta + 0.3 theta_dot): 500 steps, also as set weights in this network). The price:
nothing stops the cart's slow drift, so without v1's 500-step cap an episode ends at the
track's edge (after ~400-4000 steps for the learned controllers).

Learning: actor-critic (Barto, Sutton & Anderson 1983) in spiking form after Frémaux,
Sprekeler & Gerstner (2013). Reward 0 per surviving step, -1 on failure; the critic learns
by TD(lambda) (linear, not spiking: the one non-spiking part). The TD error
delta = r + gamma V(s') - V(s), gamma = 0.99 (a 100-step horizon; with 0.95, runs peaked and
then lost much of it, as the cart's slow drift was not valued), is the R-STDP modulator, delivered for one SNN step at the start of
the next window, so a synapse moves by learning_rate * delta * eligibility. The eligibility
is pair STDP (fields that spiked before the action neuron) decaying with
tau_eligibility_ms = 30 ms, three windows: the actor's lambda (with 10 ms the average
reached 195 some 40 episodes later). Only the neuron that fired, i.e. the action taken, becomes eligible: the rival is
inhibited before it reaches threshold, or fires in the same step, a tie whose equal
eligibilities leave the difference of the two neurons' weights unchanged. Each window starts
with empty STDP traces, so the eligibility speaks of this window's state only. The
modulator is scaled by learning_rate_decay ** episodes (stochastic approximation: with a
constant rate the weights keep drifting once exploration is small, and 500-episode runs
unlearn from a best average of ~400).

Exploration while learning: each action neuron has its own Poisson noise line (noise_rate
spikes per window at random steps, weight noise_weight, decaying by noise_decay per
episode), so the race is noisy and the policy stochastic, like the escape noise of
Frémaux et al. A chosen-only Hebbian update is then, in expectation, the policy gradient
2 P(L) P(R) (Q_R - Q_L) of the weight difference; with the exploration gone it is only
noise, hence both decays. Initial weights are the same for both neurons, so the untrained
policy favours neither action. If neither neuron fires, a random one is made to fire (its
noise line, a few extra steps), so the action is always a neuron that fired and its
eligibility knows it. Learning off (a loaded controller): no noise, no plasticity, no
critic updates.

The fast path: a control step calls `Network.advance` once, with the window's input spikes
and the modulator, instead of running the population_encoder and network stages, whose
per-chunk validation costs more than the 0.5 ms budget of a 1 kHz loop.

Persistence: `save(path)` writes `path` (JSON: parameters, critic, counters) and `path`
with suffix .net.npz (Network.save); no pickle.
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
#: the conjunctive groups, in input order: (theta, theta_dot), then (x, x_dot)
GROUPS = ((2, 3), (0, 1))
#: fields below this activation stay silent (as the population_encoder stage)
MIN_ACTIVATION = 0.1
KIND = "cartpole_rstdp"


class CartPoleController:
    """Conjunctive population code -> two competing action neurons, learning online with R-STDP.

    Parameters: pole_fields, cart_fields (fields per axis of the (theta, theta_dot) and
    (x, x_dot) grids); dt_us; window_steps (SNN steps per control step); t_max_us (latency
    of the weakest field); w_init, w_std, w_max (plastic weights, mV); inhibition (mutual,
    mV); learning_rate, learning_rate_decay (per episode), tau_eligibility_ms, tau_stdp_ms
    (R-STDP); critic_rate (normalised step), critic_lambda, gamma (TD critic); noise_rate
    (exploration spikes per window per action neuron at episode 0), noise_decay (per
    episode), noise_weight (mV); cart_in_actor (the (x, x_dot) grid drives the action
    neurons too); seed; learning (plasticity and exploration on).
    """

    def __init__(self, pole_fields: int = 7, cart_fields: int = 5, dt_us: int = 250, window_steps: int = 40,
                 t_max_us: int = 8000, w_init: float = 2.0, w_std: float = 0.2, w_max: float = 4.0,
                 inhibition: float = -20.0, learning_rate: float = 0.1, learning_rate_decay: float = 0.995,
                 tau_eligibility_ms: float = 30.0, tau_stdp_ms: float = 10.0, critic_rate: float = 0.2,
                 critic_lambda: float = 0.8, gamma: float = 0.99, noise_rate: float = 3.0,
                 noise_decay: float = 0.995, noise_weight: float = 1.5,
                 cart_in_actor: bool = False, seed: int = 0, learning: bool = True) -> None:
        self.params = dict(pole_fields=int(pole_fields), cart_fields=int(cart_fields), dt_us=int(dt_us),
                           window_steps=int(window_steps), t_max_us=int(t_max_us), w_init=float(w_init),
                           w_std=float(w_std), w_max=float(w_max), inhibition=float(inhibition),
                           learning_rate=float(learning_rate), learning_rate_decay=float(learning_rate_decay),
                           tau_eligibility_ms=float(tau_eligibility_ms), tau_stdp_ms=float(tau_stdp_ms),
                           critic_rate=float(critic_rate), critic_lambda=float(critic_lambda), gamma=float(gamma),
                           noise_rate=float(noise_rate), noise_decay=float(noise_decay),
                           noise_weight=float(noise_weight), cart_in_actor=bool(cart_in_actor), seed=int(seed))
        p = self.params
        if min(p["pole_fields"], p["cart_fields"]) < 3:
            raise ConfigError(f"robot controller: pole_fields and cart_fields must be >= 3, got "
                              f"{pole_fields}, {cart_fields}")
        if p["dt_us"] <= 0 or p["window_steps"] < 3:
            raise ConfigError(f"robot controller: need dt_us > 0 and window_steps >= 3, got {dt_us}, {window_steps}")
        if not 0 <= p["t_max_us"] < (p["window_steps"] - 2) * p["dt_us"]:
            raise ConfigError(f"robot controller: t_max_us {t_max_us} must leave the window's last two steps free "
                              f"({window_steps} steps of {dt_us} µs)")
        if not (0 < p["gamma"] <= 1 and 0 <= p["critic_lambda"] <= 1 and 0 < p["learning_rate_decay"] <= 1
                and 0 < p["noise_decay"] <= 1):
            raise ConfigError("robot controller: need 0 < gamma <= 1, 0 <= critic_lambda <= 1, 0 < learning_rate_decay"
                              " <= 1 and 0 < noise_decay <= 1")
        self._grids = [(pair, *receptive_fields(m, 0.0, 1.0))
                       for pair, m in zip(GROUPS, (p["pole_fields"], p["cart_fields"]))]
        self.n_fields = p["pole_fields"] ** 2 + p["cart_fields"] ** 2
        self.n_actor = self.n_fields if p["cart_in_actor"] else p["pole_fields"] ** 2
        self.learning = bool(learning)
        self.critic = np.zeros(self.n_fields, np.float64)
        self.episodes = 0
        self.steps_total = 0
        self.net = self._build_network()
        self._lo = np.array([r[0] for r in STATE_RANGES])
        self._span = np.array([r[1] - r[0] for r in STATE_RANGES])
        self._noise_rng = np.random.default_rng([p["seed"], 1])
        self.start_episode()

    # -- construction -------------------------------------------------------------------
    def _build_network(self) -> Network:
        p = self.params
        n_in = self.n_actor + 2  # the actor's fields, then one noise line per action neuron
        net = Network(dt_us=p["dt_us"], seed=p["seed"])
        net.add(InputPopulation(n_in, name="input"), input=True)
        net.add(LIFPopulation(2, name="action", tau_m_ms=10.0, tau_exc_ms=2.0, tau_inh_ms=5.0, v_th=1.0,
                              refractory_ms=20.0), output=True)
        rng = np.random.default_rng(p["seed"])
        # the same weight to both neurons: the untrained policy favours neither action
        w = np.repeat(np.clip(rng.normal(p["w_init"], p["w_std"], (n_in, 1)), 0.0, p["w_max"]), 2, axis=1)
        w[self.n_actor:] = 0.0  # the noise lines drive the neurons through their own fixed projection
        proj = net.connect(all_to_all("input", "action", n_in, 2, weights=w, name="plastic"))
        rule = RewardSTDP(a_plus=1.0, a_minus=0.0, tau_plus_ms=p["tau_stdp_ms"], tau_minus_ms=p["tau_stdp_ms"],
                          tau_eligibility_ms=p["tau_eligibility_ms"], learning_rate=p["learning_rate"],
                          w_min=0.0, w_max=p["w_max"])
        proj.set_plasticity(rule.rule_id, rule.kernel_params(), 2)
        noise = np.zeros((n_in, 2))
        noise[self.n_actor, 0] = noise[self.n_actor + 1, 1] = p["noise_weight"]
        net.connect(all_to_all("input", "action", n_in, 2, weights=noise, name="exploration"))
        net.connect(lateral_inhibition("action", 2, weight=p["inhibition"]))
        net.learning = self.learning
        return net

    def start_episode(self) -> None:
        """Neurons at rest, traces cleared; weights, critic and counters kept."""
        self.net.learning = self.learning
        self.net.reset_state()
        self.action = 0
        self.last_spikes = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        self._phi_prev: np.ndarray | None = None
        self._trace = np.zeros(self.n_fields)
        self.last_delta = 0.0
        # tie-breaks drawn per episode from (seed, episode): a reloaded controller repeats them
        self._coin = np.random.default_rng([self.params["seed"], 2, self.episodes])

    # -- one control step ---------------------------------------------------------------
    def activations(self, state: np.ndarray, grids: int = 2) -> np.ndarray:
        """Field activations [n_fields] of a CartPole state: the (theta, theta_dot) grid
        (row = theta field), then the (x, x_dot) grid (grids=1: the first only); variables
        scaled and clipped."""
        v = np.clip((np.asarray(state, np.float64)[:4] - self._lo) / self._span, 0.0, 1.0)
        out = []
        for pair, mu, sigma in self._grids[:grids]:
            g = np.exp(-((v[list(pair)][:, None] - mu) ** 2) / (2 * sigma**2))
            out.append((g[0][:, None] * g[1]).ravel())
        return np.concatenate(out) if grids > 1 else out[0]

    def input_spikes(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(step within the window, field) of the actor's latency code, sorted by step: its
        fields at or above MIN_ACTIVATION fire once, rint((1 - a) * t_max_us) µs into the window."""
        fields = np.flatnonzero(phi[:self.n_actor] >= MIN_ACTIVATION)
        off_us = np.rint((1.0 - phi[fields]) * self.params["t_max_us"]).astype(np.int64)
        steps = off_us // self.params["dt_us"]
        order = np.argsort(steps, kind="stable")
        return steps[order], fields[order]

    def step(self, state: np.ndarray, reward: float = 0.0) -> int:
        """Observe `state` (reached after the previous action, with `reward`), learn, and
        return the next action (0 = push left, 1 = push right)."""
        p = self.params
        # with learning off and the actor on the pole grid, the cart grid (critic only) is not needed
        phi = self.activations(state, 2 if (self.learning or p["cart_in_actor"]) else 1)
        r_steps = r_values = None
        k0 = self.net.step
        if self.learning and self._phi_prev is not None:
            modulator = self._modulator(self._critic_update(phi, float(reward), terminal=False))
            r_steps, r_values = np.array([k0, k0 + 1], np.int64), np.array([modulator, 0.0])
        steps, fields = self.input_spikes(phi)
        if self.learning and p["noise_rate"] > 0:
            count = self._noise_rng.poisson(p["noise_rate"] * p["noise_decay"] ** self.episodes, 2)
            if count.any():
                at = self._noise_rng.integers(0, p["t_max_us"] // p["dt_us"] + 1, int(count.sum()))
                steps = np.concatenate([steps, at])
                fields = np.concatenate([fields, self.n_actor + np.repeat([0, 1], count)])
                order = np.argsort(steps, kind="stable")
                steps, fields = steps[order], fields[order]
        self._fresh_window()
        out = self.net.advance(p["window_steps"], steps + k0, fields, reward_steps=r_steps, reward_values=r_values)
        s, n = out["action"]
        self.last_spikes = (s - k0, n)
        if s.size:
            first = n[s == s.min()]
            self.action = int(first[0]) if first.size == 1 else int(self._coin.integers(2))
        else:  # nobody fired: a random neuron is made to fire, so that it is the eligible one
            self.action = int(self._coin.integers(2))
            k = self.net.step
            self.net.advance(4, np.array([k], np.int64), np.array([self.n_actor + self.action], np.int64))
        self._phi_prev = phi
        self.steps_total += 1
        return self.action

    def _fresh_window(self) -> None:
        # each window is a fresh decision: the action neurons start at rest (a neuron still
        # refractory, or inhibited, from the last window would hand the next one to its rival)
        # and the STDP traces start empty (the last window's late spikes would otherwise make
        # the last state's fields eligible for this action); the eligibility carries over
        state = self.net.populations["action"].state
        state[[V, I_EXC, I_INH]] = 0.0
        state[LAST_SPIKE] = NEVER
        self.net.projections[0].pre_traces[:] = 0.0

    def end_episode(self, reward: float, terminal: bool, state: np.ndarray | None = None) -> None:
        """The episode ended: learn from the last transition (terminal: failure, V = 0;
        truncated: bootstrap from `state`), then start the next episode."""
        if self.learning and self._phi_prev is not None:
            phi = None if terminal or state is None else self.activations(state)
            modulator = self._modulator(self._critic_update(phi, float(reward), terminal=terminal))
            k0 = self.net.step
            self.net.advance(2, reward_steps=np.array([k0, k0 + 1], np.int64), reward_values=np.array([modulator, 0.0]))
        self.episodes += 1
        self.start_episode()

    def _critic_update(self, phi: np.ndarray | None, reward: float, terminal: bool) -> float:
        # TD(lambda) with accumulating traces, step normalised by |phi|^2 (NLMS)
        p = self.params
        prev = self._phi_prev
        v_next = 0.0 if (terminal or phi is None) else float(self.critic @ phi)
        delta = reward + p["gamma"] * v_next - float(self.critic @ prev)
        self._trace = p["gamma"] * p["critic_lambda"] * self._trace + prev
        self.critic += p["critic_rate"] * delta * self._trace / (float(prev @ prev) + 1e-9)
        self.last_delta = delta
        return delta

    def _modulator(self, delta: float) -> float:
        return delta * self.params["learning_rate_decay"] ** self.episodes

    def warm_up(self) -> None:
        """Compile / load the Numba kernels on a twin, so the first real step is not slow."""
        twin = CartPoleController(**self.params, learning=True)
        for _ in range(3):
            twin.step(np.zeros(4), 0.0)
        twin.end_episode(-1.0, True)

    # -- persistence --------------------------------------------------------------------
    def weights(self) -> np.ndarray:
        """Plastic weights [actor fields, 2] (mV; a copy)."""
        return self.net.projections[0].weights.reshape(-1, 2)[:self.n_actor].copy()

    def save(self, path: str | Path) -> Path:
        """Write `path` (JSON) and its .net.npz network; JSON and npz only."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        net_path = path.with_suffix(".net.npz")
        self.net.save(net_path)
        doc = {"kind": KIND, "params": self.params, "critic": self.critic.tolist(),
               "episodes": self.episodes, "steps": self.steps_total, "network": net_path.name}
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
        try:
            ctl = cls(**doc["params"], learning=learning)
        except TypeError as exc:
            raise ConfigError(f"robot controller {path}: parameters of another version ({exc})") from None
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
        return {"fields": self.n_fields, "actor_fields": self.n_actor, "neurons": self.net.n_neurons,
                "synapses": self.net.n_synapses, **self.params}
