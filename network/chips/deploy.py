"""deploy(network, chip): quantise, map onto cores, and return a DeployedNetwork that emulates
inferences and reports their energy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from network.chips.emulate import Emulator, raster_to_csr
from network.chips.energy import Counts, ann_reference, count_activity, energy_breakdown, step_seconds
from network.chips.mapping import Mapping, map_network
from network.chips.model import SpikingModel
from network.chips.profile import MODE_ANN, ChipProfile
from network.chips.quantize import QuantizedNetwork, quantize
from network.chips.registry import get_profile
from pipeline.errors import ConfigError


@dataclass
class Inference:
    """Outcome of one inference: output spike counts and the activity behind them."""

    output_counts: np.ndarray
    counts: Counts
    spike_step: np.ndarray
    spike_neuron: np.ndarray


@dataclass
class DeployedNetwork:
    model: SpikingModel
    profile: ChipProfile | None     # None: the float model
    q: QuantizedNetwork
    mapping: Mapping | None
    notes: list[str] = field(default_factory=list)

    def emulator(self) -> Emulator:
        return Emulator(self.q)

    def infer(self, raster: np.ndarray) -> Inference:
        """One inference from a fresh state on an input raster [steps, n_inputs]."""
        emu = Emulator(self.q)
        in_ptr, in_neuron = raster_to_csr(raster)
        res = emu.run(raster.shape[0], in_ptr, in_neuron)
        lo, hi = self.q.out_lo, self.q.n
        mapping = self.mapping or _trivial_mapping(self.q)
        counts = count_activity(self.q, mapping, emu.counts, emu.active, raster.shape[0])
        self._last = (emu.counts, emu.active)
        return Inference(emu.counts[lo:hi].copy(), counts, res.spike_step, res.spike_neuron)

    def energy_report(self, counts: Counts, spike_counts: np.ndarray | None = None,
                      active: np.ndarray | None = None, ann_frames: int = 1) -> dict[str, Any]:
        """Energy per inference for the activity in `counts` (per-neuron arrays from the last
        infer() unless given), with the CPU/GPU references."""
        prof = self.profile
        if prof is None:
            raise ConfigError("the float model has no chip profile to price")
        if spike_counts is None:
            spike_counts, active = self._last
        mapping = self.mapping
        step_s = step_seconds(prof, self.q, mapping, spike_counts, active, counts.steps, self.model.dt_ms)
        seconds = step_s * counts.steps
        parts = energy_breakdown(prof, counts, mapping.n_chips, seconds, mapping.n_cores)
        dynamic = sum(v for k, v in parts.items() if k != "static")
        total = dynamic + parts["static"]
        refs = {}
        for name in ("cpu", "gpu", "cpu-system", "gpu-system"):
            r = ann_reference(get_profile(name), self.model.n_synapses, self.model.n_neurons - self.q.first, ann_frames)
            refs[name] = {"energy_j": r["energy_j"], "ratio_to_chip": r["energy_j"] / total if total else None}
        return {"chip": prof.name, "title": prof.title, "energy_j": total, "dynamic_j": dynamic,
                "static_j": parts["static"], "breakdown_j": parts, "latency_s": seconds, "step_s": step_s,
                "inferences_per_s": 1.0 / seconds if seconds else None,
                "power_w": total / seconds if seconds else None, "counts": counts.to_dict(),
                "mapping": mapping.to_dict(), "reference": refs, "ann_frames": ann_frames,
                "estimated_figures": prof.estimates(), "notes": self.notes}


def _trivial_mapping(q: QuantizedNetwork) -> Mapping:
    n = q.n
    z = np.zeros(n, np.int64)
    core = np.where(np.arange(n) < q.first, -1, 0)
    return Mapping(core, 1, 1, {}, np.diff(q.indptr), z, z, z, z, np.zeros(1, np.int64), np.zeros(1, np.int64))


def deploy(network: Any, chip: str | ChipProfile | None, *, seed: int = 0) -> DeployedNetwork:
    """Quantise `network` (SpikingModel, or the engine's Network) to `chip` and map it onto cores.
    chip=None keeps the float model (the baseline for quantisation studies). Raises MappingError
    (a ConfigError) when the network does not fit."""
    model = network if isinstance(network, SpikingModel) else SpikingModel.from_network(network)
    profile = None if chip is None else get_profile(chip)
    if profile is not None and profile.mode == MODE_ANN:
        raise ConfigError(f"{profile.name} is a non-spiking reference profile; it prices the equivalent ANN "
                          f"in every chip report instead of running spikes")
    q = quantize(model, profile, seed=seed)
    mapping = map_network(q, profile) if profile is not None else None
    return DeployedNetwork(model, profile, q, mapping, list(q.notes))
