"""The `chip` stage: a network deployed on an emulated chip, run on an event stream.

It streams exactly as the engine's `network` stage (same step grid, output events and
per-sample handling; it reuses that stage's driver) but every step runs in the chip's
number formats, and its result() reports the activity counts and the energy per inference
(an inference being one sample, i.e. one `sample_end` chunk, or the whole stream).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from network.chips.deploy import DeployedNetwork, deploy
from network.chips.emulate import Emulator
from network.chips.energy import count_activity
from network.network import Network
from network.stage import NetworkStage, _example_events
from pipeline.errors import ConfigError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample


class ChipNetwork:
    """A Network's streaming interface (advance, reset_state, ...) backed by a chip emulator."""

    def __init__(self, net: Network, deployed: DeployedNetwork) -> None:
        self.net = net
        self.deployed = deployed
        self.emulator = Emulator(deployed.q)
        self.populations = net.populations
        self.input = net.input
        self.outputs = list(net.outputs)
        self.dt_us = net.dt_us
        self.step = 0
        self.n_neurons = net.n_neurons
        self.n_synapses = net.n_synapses
        q = deployed.q
        self._offset = {name: int(q.layer_offsets[i]) for i, name in enumerate(q.layer_names)}

    @property
    def synaptic_events(self) -> int:
        q, c = self.deployed.q, self.emulator.counts
        return int(c @ np.diff(q.indptr))

    def advance(self, n_steps: int, in_steps=None, in_neurons=None, **_: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        k0 = self.step
        in_steps = np.zeros(0, np.int64) if in_steps is None else np.asarray(in_steps, np.int64)
        in_neurons = np.zeros(0, np.int64) if in_neurons is None else np.asarray(in_neurons, np.int64)
        in_ptr = np.searchsorted(in_steps, np.arange(k0, k0 + n_steps + 1)).astype(np.int64)
        res = self.emulator.run(int(n_steps), in_ptr, in_neurons + self._offset[self.input])
        self.step += int(n_steps)
        out = {}
        for name in self.outputs:
            lo = self._offset[name]
            sel = (res.spike_neuron >= lo) & (res.spike_neuron < lo + self.populations[name].n)
            out[name] = (res.spike_step[sel], res.spike_neuron[sel] - lo)
        return out

    def reset_state(self) -> None:
        self.emulator.reset_state()
        self.emulator.step = 0
        self.step = 0

    def output_sizes(self):
        return self.net.output_sizes()

    def spike_events(self, *args, **kwargs):
        return self.net.spike_events(*args, **kwargs)

    def input_spikes(self, *args, **kwargs):
        return self.net.input_spikes(*args, **kwargs)

    def output_neuron(self, address):
        raise ConfigError("chip stage: teacher spikes need on-chip learning, which the emulation does not run")


@register_stage("chip")
class ChipStage(NetworkStage):
    """Run a network deployed on an emulated neuromorphic chip.

    Parameters: model (saved network .npz) or spec (Network.from_spec dict); chip (profile
    name, see network/chips/registry.py); dt_us (0 = the model's); reset_per_sample; seed
    (analog mismatch draw). Output: spike events of the output populations, as `network`.
    """

    def __init__(self, model: str = "", spec: dict[str, Any] | None = None, chip: str = "loihi", dt_us: int = 0,
                 reset_per_sample: bool = False, seed: int = 0) -> None:
        super().__init__(model=model, spec=spec, dt_us=dt_us, learning=False, reset_per_sample=reset_per_sample,
                         teacher_stream="")
        self.chip = chip
        self.seed = seed

    def _make_network(self) -> ChipNetwork:
        net = super()._make_network()
        self._samples = 0
        return ChipNetwork(net, deploy(net, self.chip, seed=int(self.seed)))

    def process(self, chunk):
        out = super().process(chunk)
        if chunk.meta.get("sample_end"):
            self._samples = getattr(self, "_samples", 0) + 1
        return out

    def result(self) -> dict[str, Any]:
        base = super().result()
        net = getattr(self, "_net", None)
        if net is None:
            return base
        emu, d = net.emulator, net.deployed
        counts = count_activity(d.q, d.mapping, emu.counts, emu.active, emu.steps_run)
        report = d.energy_report(counts, emu.counts, emu.active)
        inferences = max(getattr(self, "_samples", 0), 1)
        return {**base, "chip": self.chip, "inferences": inferences, "energy_j": report["energy_j"],
                "energy_per_inference_j": report["energy_j"] / inferences, "report": report}

    @classmethod
    def contract_example(cls) -> ContractExample:
        spec = {
            "dt_us": 1000, "seed": 3, "input": "in", "outputs": ["out"],
            "populations": [
                {"type": "InputPopulation", "name": "in", "width": 8, "height": 2, "polarities": 2},
                {"type": "LIFPopulation", "name": "hidden", "n": 20, "tau_m_ms": 10.0},
                {"type": "LIFPopulation", "name": "out", "n": 4, "tau_m_ms": 10.0},
            ],
            "projections": [
                {"pre": "in", "post": "hidden", "connect": "fixed_probability", "p": 0.5, "weight": 0.6,
                 "delay": [0, 3], "seed": 1},
                {"pre": "hidden", "post": "out", "connect": "all_to_all", "weight": 0.3, "weight_std": 0.1,
                 "delay": 2, "seed": 2},
            ],
        }
        return ContractExample({"spec": spec, "chip": "loihi"}, _example_events(8, 2, 40_000, seed=4))
