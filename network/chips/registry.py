"""The table of chip profiles: name -> module (and attribute) defining it. Adding a chip is one
module in network/chips/profiles/ and one line here."""

from __future__ import annotations

import importlib

from network.chips.profile import MODE_ANN, ChipProfile
from pipeline.errors import ConfigError

PROFILES: dict[str, str] = {
    "loihi": "network.chips.profiles.loihi:PROFILE",
    "loihi2": "network.chips.profiles.loihi2:PROFILE",
    "truenorth": "network.chips.profiles.truenorth:PROFILE",
    "spinnaker": "network.chips.profiles.spinnaker:PROFILE",
    "spinnaker2": "network.chips.profiles.spinnaker2:PROFILE",
    "akida": "network.chips.profiles.akida:PROFILE",
    "dynapse": "network.chips.profiles.dynapse:PROFILE",
    "brainscales2": "network.chips.profiles.brainscales2:PROFILE",
    "neurogrid": "network.chips.profiles.neurogrid:PROFILE",
    "xylo": "network.chips.profiles.xylo:PROFILE",
    "cpu": "network.chips.profiles.reference_cpu:CPU",
    "gpu": "network.chips.profiles.reference_cpu:GPU",
    "cpu-system": "network.chips.profiles.reference_cpu:CPU_SYSTEM",
    "gpu-system": "network.chips.profiles.reference_cpu:GPU_SYSTEM",
}


def get_profile(name: str | ChipProfile) -> ChipProfile:
    """The profile registered under `name` (a ChipProfile passes through)."""
    if isinstance(name, ChipProfile):
        return name
    if name not in PROFILES:
        raise ConfigError(f"unknown chip {name!r}; known chips: {', '.join(PROFILES)}")
    module, attr = PROFILES[name].split(":")
    return getattr(importlib.import_module(module), attr)


def chip_names(spiking_only: bool = False) -> list[str]:
    """Registered profile names (only neuromorphic chips if spiking_only)."""
    return [n for n in PROFILES if not spiking_only or get_profile(n).mode != MODE_ANN]
