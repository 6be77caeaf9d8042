"""Energy per inference from activity counts: counts x per-op figures + static power x time.

Counts (per run of `steps` time steps): synaptic operations (spikes x fan-out, split by source
for chips that price input, hidden and output synapses differently), neuron updates (active:
state or input non-zero; idle: otherwise), spike messages within a core, to other cores (with
mesh hops) and between chips, and time steps. Latency per step is the chip's fixed step
(model dt / speed-up) or, for asynchronous chips (Loihi), the busiest core's work plus the
barrier synchronisation plus the host-I/O (management) phase where the profile states one.

Besides the per-operation terms, a profile may charge per step and per core for the barrier
synchronisation (`barrier_core`, J) and, while a model runs, the power of the embedded
management processors (`management_w`, W per chip, over the run's wall time). Both are
dynamic energy: Blouw et al. 2019 count them in their Loihi "dynamic" figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from network.chips.mapping import Mapping
from network.chips.profile import MODE_ANN, ChipProfile
from network.chips.quantize import QuantizedNetwork


@dataclass
class Counts:
    steps: int
    sops: int
    sops_input: int
    sops_output: int
    neuron_updates: int
    neuron_updates_idle: int
    neuron_updates_output: int
    spikes: int               # spikes of on-chip neurons
    input_spikes: int
    spikes_local: int         # messages delivered within the source core
    spikes_routed: int        # messages to another core (inputs included)
    hops: int
    spikes_chip: int          # messages between chips
    input_channels: int = 0   # input neurons (clocked chips scan every channel every step)

    def to_dict(self) -> dict:
        return asdict(self)


def count_activity(q: QuantizedNetwork, m: Mapping, counts: np.ndarray, active: np.ndarray, steps: int) -> Counts:
    """Exact totals from per-neuron spike and active-update counts."""
    first = q.first
    out_lo = q.out_lo
    pre = np.repeat(np.arange(q.n), np.diff(q.indptr))
    syn_events = counts[pre]
    sops = int(syn_events.sum())
    sops_input = int(syn_events[pre < first].sum())
    sops_output = int(syn_events[(q.post >= out_lo) & (pre >= first)].sum())
    n_neurons = q.n - first
    act = int(active[first:].sum())
    c = counts
    return Counts(steps=steps, sops=sops, sops_input=sops_input, sops_output=sops_output, neuron_updates=act,
                  neuron_updates_idle=n_neurons * steps - act,
                  neuron_updates_output=(q.n - out_lo) * steps, spikes=int(c[first:].sum()),
                  input_spikes=int(c[:first].sum()), spikes_local=int(c @ m.msg_local),
                  spikes_routed=int(c @ m.msg_routed), hops=int(c @ m.hops), spikes_chip=int(c @ m.msg_chip),
                  input_channels=first)


def step_seconds(profile: ChipProfile, q: QuantizedNetwork, m: Mapping, counts: np.ndarray, active: np.ndarray,
                 steps: int, dt_ms: float) -> float:
    """Wall time of one step on the chip."""
    if "speedup" in profile.timing:
        return dt_ms * 1e-3 / profile.seconds("speedup")
    pre = np.repeat(np.arange(q.n), np.diff(q.indptr))
    core_sops = np.bincount(m.core_of[q.post], weights=counts[pre], minlength=m.n_cores)
    hid = m.core_of >= 0
    core_active = np.bincount(m.core_of[hid], weights=active[hid], minlength=m.n_cores)
    core_idle = m.core_neurons * steps - core_active
    work = core_sops * profile.seconds("sop") + core_active * profile.seconds("neuron_update") \
        + core_idle * profile.seconds("neuron_update_idle")
    return float(work.max(initial=0.0)) / max(steps, 1) + profile.seconds("barrier") + profile.seconds("host_step")


def energy_breakdown(profile: ChipProfile, c: Counts, chips: int, seconds: float, cores: int = 0) -> dict[str, float]:
    """Joules per term (dynamic terms and static) for `chips` chips and `cores` cores in use
    over `seconds` of wall time."""
    e = profile.joules
    if "sop_input" in profile.energy:  # chips that price input, hidden and output synapses apart (Xylo)
        sop = (c.sops_input * e("sop_input") + c.sops_output * e("sop_output")
               + (c.sops - c.sops_input - c.sops_output) * e("sop"))
        upd = (c.neuron_updates + c.neuron_updates_idle - c.neuron_updates_output) * e("neuron_update") \
            + c.neuron_updates_output * e("neuron_update_output") + c.steps * c.input_channels * e("input_channel")
        idle = 0.0
    else:
        sop = c.sops * e("sop")
        idle_price = e("neuron_update_idle") if "neuron_update_idle" in profile.energy else e("neuron_update")
        upd = c.neuron_updates * e("neuron_update")
        idle = c.neuron_updates_idle * idle_price
    return {"synaptic_ops": sop, "neuron_updates": upd, "neuron_updates_idle": idle,
            "spikes_local": c.spikes_local * e("spike_local"), "spikes_routed": c.hops * e("spike_hop"),
            "spikes_chip": c.spikes_chip * e("spike_chip"), "barrier_sync": c.steps * cores * e("barrier_core"),
            "management": e("management_w") * chips * seconds, "static": e("static_w") * chips * seconds}


def ann_reference(profile: ChipProfile, n_synapses: int, n_neurons: int, frames: int) -> dict[str, float]:
    """Energy of the equivalent non-spiking network: one MAC and one weight read per synapse and
    one activation write per neuron, per frame."""
    if profile.mode != MODE_ANN:
        raise ValueError(f"{profile.name} is not a non-spiking reference profile")
    e = profile.joules
    macs = n_synapses * frames
    terms = {"macs": macs * e("mac"), "weight_reads": macs * e("weight_read"),
             "activations": n_neurons * frames * e("activation")}
    return {"macs": macs, "energy_j": sum(terms.values()), "breakdown_j": terms}
