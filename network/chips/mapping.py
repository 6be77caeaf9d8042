"""Map a quantised network onto cores and chips within a profile's limits.

Each neuron population gets its own cores (as the Loihi and TrueNorth compilers do); a
population is split into contiguous blocks, each as large as every per-core limit allows
(neurons, synapse memory, distinct input axons). What cannot fit raises MappingError naming
the limit and by how much it is exceeded. Cores are numbered in order, chip = core //
cores_per_chip, and sit on a mesh `mesh_width` wide for hop counts. Inputs live off chip and
enter at core 0 of the chip they target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from network.chips.profile import ChipProfile
from network.chips.quantize import QuantizedNetwork
from pipeline.errors import ConfigError


class MappingError(ConfigError):
    """The network does not fit the chip; the message names the limit and the excess."""


@dataclass
class Mapping:
    core_of: np.ndarray            # int64 per neuron; -1 for inputs (off chip)
    n_cores: int
    n_chips: int
    cores_per_layer: dict[str, int]
    fanout: np.ndarray             # synapses per pre neuron
    msg_local: np.ndarray          # spike messages to the neuron's own core, per spike
    msg_routed: np.ndarray         # messages to other cores of the same chip (inputs: every message)
    hops: np.ndarray               # mesh hops summed over a spike's messages
    msg_chip: np.ndarray           # messages that leave the chip
    core_synapses: np.ndarray      # synapses stored per core
    core_neurons: np.ndarray

    def to_dict(self) -> dict:
        return {"cores": self.n_cores, "chips": self.n_chips, "cores_per_layer": self.cores_per_layer,
                "max_neurons_per_core": int(self.core_neurons.max(initial=0)),
                "max_synapses_per_core": int(self.core_synapses.max(initial=0))}


def _fail(what: str, value: int, limit: int, where: str) -> MappingError:
    return MappingError(f"{where}: {what} is {value}, the chip allows {limit} (exceeded by {value - limit}, "
                        + (f"{value / limit:.2f}x)" if limit else "none allowed)"))


def map_network(q: QuantizedNetwork, profile: ChipProfile) -> Mapping:
    """Partition and place `q` on `profile`'s cores, or raise MappingError."""
    lim = profile.limit
    name = profile.title
    n, first = q.n, q.first
    pre = np.repeat(np.arange(n), np.diff(q.indptr))
    post = q.post
    fan_in = np.bincount(post, minlength=n)
    fanout = np.diff(q.indptr)
    if lim("max_inputs") and first > lim("max_inputs"):
        raise _fail("the number of input channels", first, lim("max_inputs"), name)
    if lim("max_outputs") and n - q.out_lo > lim("max_outputs"):
        raise _fail(f"the number of output neurons ({_layer(q, q.out_lo)!r} on)", n - q.out_lo, lim("max_outputs"), name)
    if "max_delay_steps" in profile.limits and q.delay.size and q.max_delay > lim("max_delay_steps"):
        raise _fail("the longest synaptic delay (steps)", q.max_delay, lim("max_delay_steps"), name)
    for key, arr, what in (("fan_in_per_neuron", fan_in, "fan-in"), ("fan_out_per_neuron", fanout, "fan-out")):
        if lim(key) and arr.size and arr.max() > lim(key):
            j = int(np.argmax(arr))
            raise _fail(f"the {what} of neuron {j - _offset(q, j)} of {_layer(q, j)!r}", int(arr[j]), lim(key), name)
    # incoming synapses grouped by post neuron, for per-core axon counts
    order = np.argsort(post, kind="stable")
    in_ptr = np.concatenate([[0], np.cumsum(fan_in)])
    pre_by_post = pre[order]
    core_of = np.full(n, -1, np.int64)
    per_layer: dict[str, int] = {}
    core = 0
    npc, spc, apc = lim("neurons_per_core"), lim("synapses_per_core"), lim("input_axons_per_core")
    blocks = [(lname, int(q.layer_offsets[li]), int(q.layer_offsets[li + 1]))
              for li, lname in enumerate(q.layer_names) if q.layer_offsets[li] >= first]
    if profile.fmt("pack_layers") > 0 and blocks:  # one shared core for every population (Xylo, BSS-2)
        blocks = [("+".join(b[0] for b in blocks), first, n)]
    for lname, lo, hi in blocks:
        start, used = lo, 0
        while start < hi:
            end = _largest_block(start, hi, npc, spc, apc, in_ptr, pre_by_post, name, q)
            core_of[start:end] = core
            core += 1
            used += 1
            start = end
        per_layer[lname] = used
    cpc = lim("cores_per_chip") or max(core, 1)
    n_chips = max(1, -(-core // cpc))
    if lim("max_chips") and n_chips > lim("max_chips"):
        raise _fail(f"the number of chips needed ({core} cores at {cpc} per chip)", n_chips, lim("max_chips"), name)
    # routing tables: distinct destination cores per pre neuron
    dest = core_of[post]
    key = np.unique(pre * (core + 1) + dest)
    upre, ucore = key // (core + 1), key % (core + 1)
    src = core_of[upre]
    mw = max(profile.mesh_width, 1)

    def xy(c):
        local = c % cpc
        return local % mw, local // mw

    sx, sy = xy(np.where(src >= 0, src, (ucore // cpc) * cpc))
    dx, dy = xy(ucore)
    hop = np.abs(sx - dx) + np.abs(sy - dy)
    if profile.mesh_width == 0:
        hop = np.ones_like(hop)
    local = (src == ucore)
    chip_cross = (src >= 0) & (src // cpc != ucore // cpc)
    msg_local = np.bincount(upre[local], minlength=n)
    msg_routed = np.bincount(upre[~local], minlength=n)
    hops = np.bincount(upre[~local], weights=hop[~local], minlength=n).astype(np.int64)
    msg_chip = np.bincount(upre[chip_cross], minlength=n)
    out_axons = np.bincount(src[src >= 0], minlength=core)
    if lim("output_axons_per_core") and out_axons.size and out_axons.max() > lim("output_axons_per_core"):
        c = int(np.argmax(out_axons))
        raise _fail(f"the number of output axons (neuron x destination core) of core {c}", int(out_axons[c]),
                    lim("output_axons_per_core"), name)
    core_syn = np.bincount(core_of[post], minlength=core) if post.size else np.zeros(core, np.int64)
    core_neu = np.bincount(core_of[core_of >= 0], minlength=core)
    return Mapping(core_of, core, n_chips, per_layer, fanout, msg_local, msg_routed, hops, msg_chip, core_syn, core_neu)


def _layer(q: QuantizedNetwork, j: int) -> str:
    return q.layer_names[int(np.searchsorted(q.layer_offsets, j, side="right")) - 1]


def _offset(q: QuantizedNetwork, j: int) -> int:
    return int(q.layer_offsets[int(np.searchsorted(q.layer_offsets, j, side="right")) - 1])


def _largest_block(start, hi, npc, spc, apc, in_ptr, pre_by_post, name, q) -> int:
    """The largest end such that neurons start..end-1 fit one core (binary search; the limits
    grow monotonically with the block)."""

    def fits(end: int) -> tuple[bool, str, int, int]:
        nn = end - start
        if npc and nn > npc:
            return False, "neurons per core", nn, npc
        syn = int(in_ptr[end] - in_ptr[start])
        if spc and syn > spc:
            return False, "synapses per core", syn, spc
        if apc:
            axons = int(np.unique(pre_by_post[in_ptr[start]:in_ptr[end]]).size)
            if axons > apc:
                return False, "input axons per core", axons, apc
        return True, "", 0, 0

    ok, what, value, limit = fits(start + 1)
    if not ok:
        raise _fail(f"{what} for one neuron ({start - _offset(q, start)} of {_layer(q, start)!r})", value, limit, name)
    lo, hi_ = start + 1, hi
    while lo < hi_:
        mid = (lo + hi_ + 1) // 2
        if fits(mid)[0]:
            lo = mid
        else:
            hi_ = mid - 1
    return lo
