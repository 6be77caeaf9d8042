"""Chip profiles: a chip's limits, number formats and energy per operation, each figure
with its source.

A `Figure` carries a value, its unit, where it comes from (paper, year, table) and whether
it is an estimate (then `note` gives the reasoning). A `ChipProfile` groups the figures of
one chip; one module per chip in `network/chips/profiles/` defines `PROFILE`, and
`network/chips/registry.py` names them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One published (or estimated) number with its provenance."""

    value: float
    unit: str
    source: str
    estimate: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"value": self.value, "unit": self.unit, "source": self.source, "estimate": self.estimate}
        if self.note:
            out["note"] = self.note
        return out


def est(value: float, unit: str, note: str, source: str = "estimate") -> Figure:
    """An estimated figure: `note` says how it was reasoned."""
    return Figure(value, unit, source, True, note)


# numeric emulation modes understood by network/chips/emulate.py
MODE_LOIHI = "loihi"          # CUBA LIF, multiplicative 12-bit (or wider) decays, sign-magnitude rounding
MODE_BITSHIFT = "bitshift"    # Xylo: decay by right shift, saturating 16-bit state, subtractive reset
MODE_TRUENORTH = "truenorth"  # no synaptic state, linear leak toward 0, reset to 0
MODE_ANALOG = "analog"        # float state (analog circuits), quantised weights, fixed mismatch
MODE_ANN = "ann"              # non-spiking reference (CPU / GPU): one MAC per synapse per frame


@dataclass(frozen=True)
class ChipProfile:
    """Limits, formats and per-operation energy of one chip.

    Limits (0 means "no limit"): cores_per_chip, max_chips, neurons_per_core,
    synapses_per_core, input_axons_per_core, output_axons_per_core, fan_in_per_neuron,
    fan_out_per_neuron, max_inputs, max_outputs, max_delay_steps.
    Number formats: weight_bits (signed magnitude bits incl. sign as the chip counts them),
    state_bits, decay_bits, threshold_bits, mode (one of the MODE_* names), `formats` holds
    mode-specific extras (act_shift, vth_shift, weights_per_neuron, mismatch).
    Energy (J per operation or W): `energy` keys sop, neuron_update, neuron_update_idle,
    spike_local, spike_hop, spike_chip, barrier_core (per core per step), management_w and
    static_w (per chip); timing (s per operation): `timing` keys sop, neuron_update,
    neuron_update_idle, spike_hop, barrier, host_step, step (fixed step duration for clocked
    chips; absent for asynchronous chips, whose step time is the busiest core's work plus the
    barrier plus the host-I/O phase).
    """

    name: str
    title: str
    summary: str
    mode: str
    limits: dict[str, Figure]
    formats: dict[str, Figure]
    energy: dict[str, Figure]
    timing: dict[str, Figure]
    neuron_model: str
    delays: str
    learning: str
    mesh_width: int = 0  # cores per row of the on-chip mesh (hop counts); 0: every route is one hop
    references: tuple[str, ...] = field(default_factory=tuple)

    def limit(self, key: str) -> int:
        fig = self.limits.get(key)
        return int(fig.value) if fig is not None else 0

    def fmt(self, key: str, default: float = 0.0) -> float:
        fig = self.formats.get(key)
        return float(fig.value) if fig is not None else default

    def joules(self, key: str) -> float:
        fig = self.energy.get(key)
        return float(fig.value) if fig is not None else 0.0

    def seconds(self, key: str) -> float:
        fig = self.timing.get(key)
        return float(fig.value) if fig is not None else 0.0

    def to_dict(self) -> dict[str, Any]:
        def block(d: dict[str, Figure]) -> dict[str, Any]:
            return {k: v.to_dict() for k, v in d.items()}

        return {"name": self.name, "title": self.title, "summary": self.summary, "mode": self.mode,
                "neuron_model": self.neuron_model, "delays": self.delays, "learning": self.learning,
                "mesh_width": self.mesh_width, "limits": block(self.limits), "formats": block(self.formats),
                "energy": block(self.energy), "timing": block(self.timing), "references": list(self.references)}

    def estimates(self) -> list[str]:
        """Names of every figure of this profile that is an estimate."""
        out = []
        for group in ("limits", "formats", "energy", "timing"):
            out += [f"{group}.{k}" for k, v in getattr(self, group).items() if v.estimate]
        return out
