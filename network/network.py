"""Network: populations and projections run step by step by one Numba kernel.

Build it, then either run it offline on an event array (`run`) or drive it step by step
(`advance`, which the `network` pipeline stage uses). Time step k covers
[origin + k*dt, origin + (k+1)*dt); input events of step k act on the network like spikes
of the input population at step k; output spikes of step k are stamped origin + k*dt.

    net = Network(dt_us=100)
    net.add(InputPopulation(64), input=True)
    net.add(LIFPopulation(10, name="out", tau_m_ms=20.0), output=True)
    net.connect(fixed_probability("input", "out", 64, 10, p=0.5, weight=0.3, seed=1))
    spikes = net.run(events, duration_us=1_000_000)["out"]   # events, x = neuron
    net.save("model.npz"); net2 = Network.load("model.npz")
"""

from __future__ import annotations

from typing import Any

import numpy as np

from network import _kernels, _pending
from network._flatten import flatten
from network.monitors import SpikeMonitor, StateMonitor
from network.populations import InputPopulation, Population
from network.projections import Projection
from pipeline.errors import ChunkError, ConfigError
from pipeline.events import EVENT_DTYPE


class Network:
    """Populations (by name, in insertion order) and projections between them."""

    def __init__(self, dt_us: int = 100, seed: int = 0, learning: bool = True) -> None:
        if int(dt_us) <= 0:
            raise ConfigError(f"network: dt_us must be a positive integer, got {dt_us!r}")
        self.dt_us = int(dt_us)
        self.seed = int(seed)
        self.learning = bool(learning)
        self.populations: dict[str, Population] = {}
        self.projections: list[Projection] = []
        self.input: str | None = None
        self.outputs: list[str] = []
        self.spike_monitors: list[SpikeMonitor] = []
        self.state_monitors: list[StateMonitor] = []
        self.step = 0
        self.synaptic_events = 0
        self._modulator = np.zeros(1, np.float64)
        self._flat: dict[str, Any] | None = None

    # -- construction ---------------------------------------------------------------------
    @property
    def dt_ms(self) -> float:
        return self.dt_us / 1000.0

    def add(self, population: Population, *, input: bool = False, output: bool = False) -> Population:
        """Add a population; `input=True` makes it the event-driven input (an InputPopulation)."""
        name = population.name
        if not name or name in self.populations:
            raise ConfigError(f"network: population name {name!r} is empty or already used")
        if input != isinstance(population, InputPopulation):
            raise ConfigError(f"network: population {name!r}: the input must be an InputPopulation and "
                              f"an InputPopulation must be the input")
        if input and self.input is not None:
            raise ConfigError(f"network: input population already set to {self.input!r}")
        self.populations[name] = population
        if input:
            self.input = name
        if output:
            self.outputs.append(name)
        self._flat = None
        return population

    def connect(self, projection: Projection) -> Projection:
        """Add a projection between two populations already added."""
        for end in (projection.pre, projection.post):
            if end not in self.populations:
                raise ConfigError(f"network: projection {projection.name!r} names unknown population {end!r}")
        n_pre, n_post = self.populations[projection.pre].n, self.populations[projection.post].n
        if projection.n_pre != n_pre:
            raise ConfigError(f"network: projection {projection.name!r} has {projection.n_pre} rows but "
                              f"{projection.pre!r} has {n_pre} neurons")
        if projection.n_synapses and (projection.indices.min() < 0 or projection.indices.max() >= n_post):
            raise ConfigError(f"network: projection {projection.name!r} targets neurons outside "
                              f"{projection.post!r} (n={n_post})")
        if isinstance(self.populations[projection.post], InputPopulation):
            raise ConfigError(f"network: projection {projection.name!r} targets the input population")
        self.projections.append(projection)
        self._flat = None
        return projection

    def monitor_spikes(self, population: str, max_spikes: int = 1_000_000) -> SpikeMonitor:
        self._population(population)
        mon = SpikeMonitor(population, max_spikes)
        self.spike_monitors.append(mon)
        self._flat = None
        return mon

    def monitor_state(self, population: str, variable: str = "v", neurons: Any = None, every: int = 1,
                      max_rows: int = 100_000) -> StateMonitor:
        pop = self._population(population)
        pop.variable(variable)
        idx = np.arange(pop.n) if neurons is None else np.asarray(neurons, np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= pop.n):
            raise ConfigError(f"network: monitor of {population!r} names neurons outside 0..{pop.n - 1}")
        if int(every) <= 0:
            raise ConfigError(f"network: monitor every must be >= 1 step, got {every}")
        mon = StateMonitor(population, variable, idx, every, max_rows)
        self.state_monitors.append(mon)
        self._flat = None
        return mon

    def _population(self, name: str) -> Population:
        if name not in self.populations:
            raise ConfigError(f"network: no population {name!r}; have {list(self.populations)}")
        return self.populations[name]

    @property
    def n_neurons(self) -> int:
        return sum(p.n for p in self.populations.values())

    @property
    def n_synapses(self) -> int:
        return sum(p.n_synapses for p in self.projections)

    def output_sizes(self) -> list[tuple[str, int, int]]:
        """(name, first output address, n) of each output population, in order."""
        out, at = [], 0
        for name in self.outputs:
            out.append((name, at, self.populations[name].n))
            at += self.populations[name].n
        return out

    # -- flattening for the kernel ----------------------------------------------------------
    def build(self) -> None:
        """Flatten populations and projections into the kernel's arrays (network/_flatten.py).
        Population state and projection weights/learning state become views into them, so
        both stay in sync; input in flight from an earlier build is kept."""
        _kernels.refresh_cache()
        old = self._flat
        f = flatten(self)
        if old is not None:
            pending = _pending.as_ring(old)
            if pending.shape == (f["depth"], 2, f["state"].shape[1]):
                _pending.load_ring(f, pending)
        self._flat = f

    def reset_state(self) -> None:
        """Neurons back to rest, pending synaptic input and learning traces cleared, clock at
        step 0; weights are kept."""
        for p in self.populations.values():
            p.reset_state()
        for p in self.projections:
            p.reset_traces()
        if self._flat is not None:
            _pending.clear(self._flat)
        self._modulator[0] = 0.0
        self.step = 0

    # -- running ----------------------------------------------------------------------------
    def advance(self, n_steps: int, in_steps: np.ndarray | None = None, in_neurons: np.ndarray | None = None, *,
                teacher_steps: np.ndarray | None = None, teacher_neurons: np.ndarray | None = None,
                reward_steps: np.ndarray | None = None, reward_values: np.ndarray | None = None,
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Run steps self.step .. self.step + n_steps - 1.

        in_steps (sorted, int64, absolute step) / in_neurons: input-population spikes;
        teacher_*: global neuron indices the teacher makes spike; reward_*: modulator
        changes (held until the next one). Returns, per output population, (steps, neuron
        indices) of its spikes; spike monitors are filled as a side effect.
        """
        if self._flat is None:
            self.build()
        f = self._flat
        k0, k1 = self.step, self.step + int(n_steps)
        if not f["use_ring"] and f.pop("ring_loaded", False):
            # input left in the ring (a state saved with delayed input pending) joins the currents
            f["state"][1:3] += f["ring"][k0 % f["ring"].shape[0]]
            f["ring"][:] = 0.0
        e64 = np.zeros(0, np.int64)
        in_steps = e64 if in_steps is None else np.asarray(in_steps, np.int64)
        in_neurons = e64 if in_neurons is None else np.asarray(in_neurons, np.int64)
        t_steps = e64 if teacher_steps is None else np.asarray(teacher_steps, np.int64)
        t_neurons = e64 if teacher_neurons is None else np.asarray(teacher_neurons, np.int64)
        r_steps = e64 if reward_steps is None else np.asarray(reward_steps, np.int64)
        r_values = np.zeros(0) if reward_values is None else np.asarray(reward_values, np.float64)
        for what, steps in (("input", in_steps), ("teacher", t_steps)):
            if steps.size and (steps[0] < k0 or steps[-1] >= k1 or np.any(np.diff(steps) < 0)):
                raise ChunkError(f"network: {what} spikes must be sorted and inside steps {k0}..{k1 - 1}")
        if in_steps.size and self.input is None:
            raise ConfigError("network: input spikes given but the network has no input population")
        in_ptr = _step_pointers(in_steps, k0, k1)
        t_ptr = _step_pointers(t_steps, k0, k1)
        max_in = int(np.diff(in_ptr).max()) if in_steps.size else 0
        spikes, local, teach_local, pos_lo, pos_hi, flags, rec_step, rec_neuron, mon_buf, counters = \
            _scratch(f, max_in)
        n_mon = f["mon_neuron"].shape[0]
        out_steps: list[np.ndarray] = []
        out_neurons: list[np.ndarray] = []
        k = k0
        while True:
            counters[0] = counters[1] = 0
            k_next, f["q_target"], f["q_weight"] = _kernels.run_steps(
                k, k1, self.dt_ms, self.learning,
                f["pop_offset"], f["pop_size"], f["pop_model"], f["pop_uniform"], f["pop_coef"], f["state"],
                f["coef"], f["ring"], f["use_ring"], f["q_target"], f["q_weight"], f["q_count"],
                f["pj_pre"], f["pj_post"], f["pj_receptor"], f["pj_indptr_off"], f["pj_syn_off"], f["pj_delay"],
                f["pj_delay_off"], f["indptr"], f["indices"], f["weights"], f["delays"],
                f["pj_rule"], f["pj_params_off"], f["rule_params"], f["pj_plastic_off"], f["pj_post_indptr_off"],
                f["post_indptr"], f["post_synapses"], f["pj_pre_trace_off"], f["pre_traces"],
                f["pj_post_trace_off"], f["post_traces"], f["eligibility"],
                in_ptr[k - k0:], in_neurons, t_ptr[k - k0:], t_neurons, r_steps, r_values, self._modulator,
                f["rec_flag"], f["n_rec_max"], rec_step, rec_neuron, counters,
                f["mon_neuron"], f["mon_var"], f["mon_every"], mon_buf,
                spikes, local, teach_local, pos_lo, pos_hi, flags)
            # rewards already applied must not be applied again when the kernel resumes
            r_steps, r_values = r_steps[counters[2]:], r_values[counters[2]:]
            counters[2] = 0
            self.synaptic_events += int(counters[3])
            counters[3] = 0
            c = int(counters[0])
            out_steps.append(rec_step[:c].copy())
            out_neurons.append(rec_neuron[:c].copy())
            if n_mon:
                self._drain_monitors(k, k_next, mon_buf[:counters[1]])
            k = k_next
            if k >= k1:
                break
        self.step = k1
        steps, neurons = np.concatenate(out_steps), np.concatenate(out_neurons)
        return self._split(steps, neurons)

    def _split(self, steps: np.ndarray, neurons: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        f = self._flat
        result: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        wanted = set(self.outputs) | {m.population for m in self.spike_monitors}
        for name in wanted:
            i = f["index"][name]
            lo, size = int(f["pop_offset"][i]), int(f["pop_size"][i])
            if not steps.size:  # (a short call often records nothing: spare the masks)
                result[name] = (steps, neurons)
                continue
            sel = (neurons >= lo) & (neurons < lo + size)
            result[name] = (steps[sel], neurons[sel] - lo)
        for m in self.spike_monitors:
            m._append(*result[m.population])
        return {name: result[name] for name in self.outputs}

    def _drain_monitors(self, k_from: int, k_to: int, rows: np.ndarray) -> None:
        every = self._flat["mon_every"]
        first = -(-k_from // every) * every
        steps = np.arange(first, k_to, every, dtype=np.int64)[:rows.shape[0]]
        at = 0
        for m in self.state_monitors:
            w = m.neurons.shape[0]
            m._append(steps, rows[:, at:at + w].copy())
            at += w

    def input_spikes(self, events: np.ndarray, origin_us: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(absolute step, input neuron) of each event: step = (t - origin) // dt."""
        if self.input is None:
            raise ConfigError("network: no input population")
        pop = self.populations[self.input]
        if not isinstance(pop, InputPopulation):
            raise ConfigError(f"network: input population {self.input!r} is not an InputPopulation")
        return (events["t"] - origin_us) // self.dt_us, pop.neuron_of(events)

    def run(self, events: np.ndarray | None, duration_us: int, *, teacher: np.ndarray | None = None,
            rewards: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Offline: run duration_us // dt_us steps from the current step on an event array whose
        stamps lie in that window (t = step * dt_us from the network's start). Returns output
        spike events per output population (x = neuron, or x, y over its geometry).
        teacher: events whose x is an output address (see output_sizes); rewards: (t_us, value)."""
        n_steps = int(duration_us) // self.dt_us
        t_lo, t_hi = self.step * self.dt_us, (self.step + n_steps) * self.dt_us
        in_steps = in_neurons = None
        if events is not None and events.shape[0]:
            if events["t"].min() < t_lo or events["t"].max() >= t_hi:
                raise ChunkError(f"network.run: events must lie in [{t_lo}, {t_hi}) µs")
            order = np.argsort(events["t"], kind="stable")
            in_steps, in_neurons = self.input_spikes(events[order])
        t_steps = t_neurons = None
        if teacher is not None and teacher.shape[0]:
            t_steps, t_neurons = teacher["t"] // self.dt_us, self.output_neuron(teacher["x"].astype(np.int64))
        r_steps = r_values = None
        if rewards is not None:
            r_steps, r_values = np.asarray(rewards[0], np.int64) // self.dt_us, np.asarray(rewards[1], np.float64)
        out = self.advance(n_steps, in_steps, in_neurons, teacher_steps=t_steps, teacher_neurons=t_neurons,
                           reward_steps=r_steps, reward_values=r_values)
        return {name: self.spike_events(name, *out[name]) for name in self.outputs}

    def output_neuron(self, address: np.ndarray) -> np.ndarray:
        """Global neuron index of output addresses (outputs concatenated in order)."""
        if self._flat is None:
            self.build()
        glob = np.full(address.shape[0], -1, np.int64)
        for name, first, size in self.output_sizes():
            sel = (address >= first) & (address < first + size)
            glob[sel] = self._flat["pop_offset"][self._flat["index"][name]] + address[sel] - first
        if np.any(glob < 0):
            raise ChunkError("network: teacher address beyond the output populations")
        return glob

    def spike_events(self, name: str, steps: np.ndarray, neurons: np.ndarray, origin_us: int = 0,
                     offset: int = 0) -> np.ndarray:
        """Spikes as events stamped origin + step*dt; x = offset + neuron, or (x, y) over the
        population's grid when addresses pass 65535."""
        width, _ = output_grid(self.populations[name], offset)
        ev = np.empty(steps.shape[0], EVENT_DTYPE)
        ev["t"] = origin_us + steps * self.dt_us
        address = neurons + offset
        ev["x"] = address % width
        ev["y"] = address // width
        ev["p"] = 1
        return ev

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: Any, include_state: bool = False) -> None:
        from network.model_io import save_network

        save_network(self, path, include_state)

    @classmethod
    def load(cls, path: Any) -> Network:
        from network.model_io import load_network

        return load_network(path)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Network:
        from network.model_io import network_from_spec

        return network_from_spec(spec)


def _step_pointers(steps: np.ndarray, k0: int, k1: int) -> np.ndarray:
    """ptr[k1 - k0 + 1]: the events of step k are steps[ptr[k - k0]:ptr[k - k0 + 1]]."""
    if not steps.size:
        return np.zeros(k1 - k0 + 1, np.int64)
    return np.searchsorted(steps, np.arange(k0, k1 + 1)).astype(np.int64)


def _scratch(f: dict[str, Any], max_in: int) -> tuple[np.ndarray, ...]:
    """The kernel's scratch arrays, kept with the flat arrays between calls (a call that
    advances a few steps, as a controller does per tick, would otherwise spend most of its
    time allocating them) and grown when this call's input needs more room."""
    n = int(f["pop_size"].sum())
    old = f.get("scratch")
    if old is not None and old[0].shape[0] >= n + max_in:
        old[-1][:] = 0  # counters
        return old
    n_mon = f["mon_neuron"].shape[0]
    cap = max(1 << 16, 4 * (f["n_rec_max"] + max_in))
    f["scratch"] = (
        np.zeros(n + max_in, np.int64), np.zeros(n + max_in, np.int64),  # spikes, local indices
        np.zeros(max(n, 1), np.int64),  # teacher spikes
        np.zeros(f["pop_size"].shape[0], np.int64), np.zeros(f["pop_size"].shape[0], np.int64),  # pos_lo, pos_hi
        # spike flags of the uniform fast path, one byte per neuron of a population, read as uint64 words
        np.zeros(-(-int(f["pop_size"].max()) // 8) * 8, np.uint8),
        np.zeros(cap, np.int64), np.zeros(cap, np.int64),  # recorded spikes: steps, neurons
        np.zeros((max(1, min(4096, (1 << 22) // max(n_mon, 1))), n_mon), np.float64),  # monitor rows
        np.zeros(4, np.int64))  # counters
    return f["scratch"]


def output_grid(population: Population, offset: int = 0) -> tuple[int, int]:
    """(width, height) of output addresses: the population's own grid when it has one, else
    one row up to 65536 neurons and rows of 65536 beyond."""
    n = population.n + offset
    if n <= 65536:
        return max(n, 1), 1
    if offset == 0 and len(population.shape) >= 2 and population.shape[-1] <= 65536:
        return population.shape[-1], -(-n // population.shape[-1])
    return 65536, -(-n // 65536)

