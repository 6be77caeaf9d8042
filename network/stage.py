"""Pipeline stages running a Network on a stream: `network` (a saved model or a spec) and
`lif_population` (input channels -> seeded random dense weights -> one LIF population).

Streaming rules (so the output does not depend on chunking): step k covers
[origin + k*dt, origin + (k+1)*dt), origin being the stream's first t_start; a chunk
completes the steps that end at or before its t_end and the events of a step still
incomplete wait in a buffer; each output chunk spans the completed steps since the last
one (spans tile time) and holds their spikes stamped at their step's start. A chunk
marked `sample_end`, and flush at end of stream, complete the last partial step too (the
grid then restarts at that chunk's end). Output events: x = neuron of the output
populations, concatenated in order (x, y over the grid beyond 65 536 neurons).
Besides events the stage takes values: a column named "reward" sets the modulator of
plastic projections from its stamp on; event chunks of the stream `teacher_stream`
are teacher spikes (x = output address).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from network.connectivity import all_to_all
from network.network import Network, output_grid
from network.populations import InputPopulation, LIFPopulation
from pipeline.chunks import Chunk, EventChunk, Geometry, ValueChunk
from pipeline.errors import ChunkError, ConfigError
from pipeline.events import EVENT_DTYPE, make_events
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Stage


class _NetworkRunner(Stage):
    """Streaming driver shared by the network stages; subclasses build the Network."""

    accepts = ("events", "values")
    teacher_stream = "teacher"
    reset_per_sample = False

    def _make_network(self) -> Network:
        raise NotImplementedError

    def reset(self) -> None:
        self._net: Network | None = None
        self._origin = 0
        self._out_t = 0
        self._last_t = 0
        self._pending = np.zeros(0, EVENT_DTYPE)
        self._teacher = np.zeros(0, EVENT_DTYPE)
        self._reward_t = np.zeros(0, np.int64)
        self._reward_v = np.zeros(0, np.float64)
        self._spikes = 0

    @property
    def network(self) -> Network:
        """The network being run (built on the first chunk)."""
        if getattr(self, "_net", None) is None:
            self.reset()
            self._net = self._make_network()
        return self._net

    def process(self, chunk: Chunk) -> list[Chunk]:
        self.check_input(chunk)
        started = getattr(self, "_net", None) is not None
        net = self.network
        if not started:
            self._origin = self._out_t = self._last_t = chunk.t_start
        if chunk.t_start < self._last_t and chunk.t_end < self._last_t:
            raise ChunkError(f"{type(self).__name__}: chunk [{chunk.t_start}, {chunk.t_end}) µs of stream "
                             f"{chunk.stream!r} starts before time already processed ({self._last_t} µs)")
        if isinstance(chunk, ValueChunk):
            self._take_rewards(chunk)
            return []
        assert isinstance(chunk, EventChunk)
        if chunk.stream == self.teacher_stream and self.teacher_stream:
            self._teacher = np.concatenate([self._teacher, chunk.events])
            return []
        if self.reset_per_sample and chunk.meta.get("sample_start") and self._out_t == chunk.t_start:
            net.reset_state()
            self._origin = chunk.t_start
            self._pending = self._pending[:0]
        if chunk.events.shape[0]:
            net.populations[net.input].neuron_of(chunk.events, f"{type(self).__name__} chunk seq {chunk.seq}")
            self._pending = np.concatenate([self._pending, chunk.events])
        self._last_t = max(self._last_t, chunk.t_end)
        out = self._run_until(chunk.t_end, complete=bool(chunk.meta.get("sample_end")), meta=dict(chunk.meta))
        return out

    def flush(self) -> list[Chunk]:
        if getattr(self, "_net", None) is None:
            return []
        return self._run_until(self._last_t, complete=True, meta={})

    def _take_rewards(self, chunk: ValueChunk) -> None:
        if "reward" not in chunk.names:
            raise ChunkError(f"{type(self).__name__}: value chunk from stream {chunk.stream!r} has no "
                             f"'reward' column (names {list(chunk.names)})")
        col = list(chunk.names).index("reward")
        self._reward_t = np.concatenate([self._reward_t, chunk.times.astype(np.int64)])
        self._reward_v = np.concatenate([self._reward_v, chunk.values[:, col].astype(np.float64)])

    def _run_until(self, t_end: int, complete: bool, meta: dict[str, Any]) -> list[Chunk]:
        net = self.network
        dt = net.dt_us
        k_target = (t_end - self._origin) // dt
        partial = complete and (t_end - self._origin) % dt != 0
        n_steps = k_target - net.step + (1 if partial else 0)
        span_end = t_end if partial else self._origin + k_target * dt
        if n_steps <= 0 or span_end <= self._out_t:
            return []
        grid_end = self._origin + (net.step + n_steps) * dt
        cut = int(np.searchsorted(self._pending["t"], grid_end, side="left"))
        events, self._pending = self._pending[:cut], self._pending[cut:]
        in_steps, in_neurons = net.input_spikes(events, self._origin)
        np.maximum(in_steps, net.step, out=in_steps)  # events stamped before a restarted grid
        teach_steps = teach_neurons = None
        if self._teacher.shape[0]:
            tcut = int(np.searchsorted(self._teacher["t"], grid_end, side="left"))
            teacher, self._teacher = self._teacher[:tcut], self._teacher[tcut:]
            teach_steps = np.maximum((teacher["t"] - self._origin) // dt, net.step)
            teach_neurons = net.output_neuron(teacher["x"].astype(np.int64))
        rcut = int(np.searchsorted(self._reward_t, grid_end, side="left"))
        r_steps = np.maximum((self._reward_t[:rcut] - self._origin) // dt, net.step)
        r_values = self._reward_v[:rcut]
        self._reward_t, self._reward_v = self._reward_t[rcut:], self._reward_v[rcut:]
        out = net.advance(n_steps, in_steps, in_neurons, teacher_steps=teach_steps, teacher_neurons=teach_neurons,
                          reward_steps=r_steps, reward_values=r_values)
        parts = [net.spike_events(name, *out[name], origin_us=self._origin, offset=first)
                 for name, first, _ in net.output_sizes()]
        events_out = np.concatenate(parts) if parts else np.zeros(0, EVENT_DTYPE)
        events_out = events_out[np.argsort(events_out["t"], kind="stable")]
        np.maximum(events_out["t"], self._out_t, out=events_out["t"])
        self._spikes += int(events_out.shape[0])
        chunk = EventChunk(t_start=self._out_t, t_end=span_end, events=events_out, geometry=self._geometry(),
                           meta=meta)
        self._out_t = span_end
        if partial:  # restart the grid at the end of the completed partial step
            self._origin = span_end - net.step * dt
        return [chunk]

    def _geometry(self) -> Geometry:
        net = self.network
        sizes = net.output_sizes()
        total = sum(s for _, _, s in sizes)
        if len(sizes) == 1:
            width, height = output_grid(net.populations[sizes[0][0]])
        else:
            width, height = (total, 1) if total <= 65536 else (65536, -(-total // 65536))
        return Geometry(width=width, height=height, channels=total)

    def result(self) -> dict[str, Any]:
        net = getattr(self, "_net", None)
        if net is None:
            return {}
        return {"steps": net.step, "output_spikes": self._spikes, "synaptic_events": net.synaptic_events,
                "neurons": net.n_neurons, "synapses": net.n_synapses}


@register_stage("network")
class NetworkStage(_NetworkRunner):
    """Run a spiking network on an event stream.

    Parameters: model (path of a network saved with Network.save, .npz) or spec (a dict as
    accepted by Network.from_spec: populations, projections with builders, input,
    outputs); dt_us (0 = the model's); learning (run plasticity); reset_per_sample (rest
    the neurons at each `sample_start` chunk); teacher_stream (name of the stream that
    carries teacher spikes).
    """

    def __init__(self, model: str = "", spec: dict[str, Any] | None = None, dt_us: int = 0, learning: bool = False,
                 reset_per_sample: bool = False, teacher_stream: str = "teacher") -> None:
        self.model = model
        self.spec = spec
        self.dt_us = dt_us
        self.learning = learning
        self.reset_per_sample = reset_per_sample
        self.teacher_stream = teacher_stream

    def _make_network(self) -> Network:
        if bool(self.model) == (self.spec is not None):
            raise ConfigError("network stage: give exactly one of model (a saved .npz path) or spec")
        net = Network.load(self.model) if self.model else Network.from_spec(self.spec)
        if self.dt_us:
            net.dt_us = int(self.dt_us)
            net.build()
        net.learning = bool(self.learning)
        if net.input is None or not net.outputs:
            raise ConfigError("network stage: the network needs an input population and at least one output")
        return net

    @classmethod
    def contract_example(cls) -> ContractExample:
        spec = {
            "dt_us": 1000, "seed": 3, "input": "in", "outputs": ["hidden", "out"],
            "populations": [
                {"type": "InputPopulation", "name": "in", "width": 8, "height": 2, "polarities": 2},
                {"type": "LIFPopulation", "name": "hidden", "n": 20, "tau_m_ms": 10.0, "refractory_ms": 2.0},
                {"type": "AdaptiveLIFPopulation", "name": "out", "n": 4, "tau_m_ms": 10.0, "beta": 0.2},
            ],
            "projections": [
                {"pre": "in", "post": "hidden", "connect": "fixed_probability", "p": 0.5, "weight": 0.6,
                 "delay": [0, 3], "seed": 1},
                {"pre": "hidden", "post": "out", "connect": "all_to_all", "weight": 0.3, "weight_std": 0.1,
                 "delay": 2, "seed": 2},
                {"pre": "out", "post": "out", "connect": "lateral_inhibition", "weight": -0.5},
            ],
        }
        return ContractExample({"spec": spec}, _example_events(8, 2, 40_000, seed=4))


@register_stage("lif_population")
class LIFPopulationStage(_NetworkRunner):
    """Input channels (x < n_inputs) -> seeded random dense weights -> LIF population.

    Parameters: n_inputs; n_neurons; tau_m_ms; tau_syn_ms (excitatory current decay);
    threshold (v_th, rest and reset at 0); refractory_ms; weight_scale (weights uniform in
    [0, weight_scale)); dt_us; seed. Output: x = neuron index.
    """

    def __init__(self, n_inputs: int = 64, n_neurons: int = 32, tau_m_ms: float = 20.0, tau_syn_ms: float = 5.0,
                 threshold: float = 1.0, refractory_ms: float = 2.0, weight_scale: float = 0.5,
                 dt_us: int = 1000, seed: int = 0) -> None:
        self.n_inputs = n_inputs
        self.n_neurons = n_neurons
        self.tau_m_ms = tau_m_ms
        self.tau_syn_ms = tau_syn_ms
        self.threshold = threshold
        self.refractory_ms = refractory_ms
        self.weight_scale = weight_scale
        self.dt_us = dt_us
        self.seed = seed

    def _make_network(self) -> Network:
        if int(self.n_inputs) <= 0 or int(self.n_inputs) > 65536 or int(self.n_neurons) <= 0:
            raise ConfigError(f"lif_population: need 0 < n_inputs <= 65536 and n_neurons > 0, got "
                              f"{self.n_inputs}, {self.n_neurons}")
        net = Network(dt_us=int(self.dt_us), seed=int(self.seed))
        net.add(InputPopulation(int(self.n_inputs), name="input"), input=True)
        net.add(LIFPopulation(int(self.n_neurons), name="lif", tau_m_ms=self.tau_m_ms, tau_exc_ms=self.tau_syn_ms,
                              v_th=self.threshold, refractory_ms=self.refractory_ms), output=True)
        rng = np.random.default_rng(int(self.seed))
        weights = rng.uniform(0.0, float(self.weight_scale), (int(self.n_inputs), int(self.n_neurons)))
        net.connect(all_to_all("input", "lif", int(self.n_inputs), int(self.n_neurons), weights=weights))
        return net

    @classmethod
    def contract_example(cls) -> ContractExample:
        return ContractExample({"n_inputs": 16, "n_neurons": 8, "weight_scale": 0.4, "dt_us": 500, "seed": 1},
                               _example_events(16, 1, 30_000, seed=2))


def _example_events(width: int, height: int, duration_us: int, seed: int) -> list[Chunk]:
    rng = np.random.default_rng(seed)
    n = duration_us // 20
    t = np.sort(rng.integers(0, duration_us, n))
    ev = make_events(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.choice([-1, 1], n))
    geometry = Geometry(width=width, height=height)
    cuts = [0, duration_us // 3 + 7, duration_us // 2 + 250, duration_us]
    return [EventChunk(t_start=a, t_end=b, events=ev[(t >= a) & (t < b)], geometry=geometry)
            for a, b in zip(cuts[:-1], cuts[1:])]
