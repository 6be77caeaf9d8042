"""BrainScaleS-2 (65 nm, analog, 1000x accelerated): 512 AdEx neurons, 256 x 512 synapses."""

from network.chips.profile import MODE_ANALOG, ChipProfile, Figure, est

ON = "open-neuromorphic.org, BrainScaleS-2 page (second hand)"
WEIS = "Weis et al., arXiv:2006.13177, 2020"
GOLTZ = "Goltz et al., Nat. Mach. Intell. 3, 2021"

PROFILE = ChipProfile(
    name="brainscales2",
    title="BrainScaleS-2",
    summary="65 nm analog neuromorphic core with 2 plasticity processors, 1000x faster than biology",
    mode=MODE_ANALOG,
    limits={
        "cores_per_chip": Figure(1, "cores", ON),
        "max_chips": est(1, "chips", "single-chip setups are the public access path"),
        "neurons_per_core": Figure(512, "neurons", ON),
        "synapses_per_core": Figure(131072, "synapses", ON + " (256 x 512 synapse array)"),
        "fan_in_per_neuron": Figure(256, "synapses", ON + " (256 rows per neuron column)"),
    },
    formats={
        "pack_layers": Figure(1, "flag", ON + ": one analog core holds every neuron"),
        "weight_bits": Figure(6, "bits", WEIS + ": 6-bit weights (sign by row type)"),
        "mismatch": est(0.05, "relative", "after calibration; ~5 % residual spread assumed"),
    },
    energy={
        "sop": est(0.0, "J", "no per-op figure retrieved (" + GOLTZ + " Fig. 4 gives energy per "
                             "classification only); energy is charged as system power x wall time"),
        "neuron_update": est(0.0, "J", "analog: inside the static power"),
        "spike_local": est(0.0, "J", "inside the static power"),
        "spike_hop": est(0.0, "J", "inside the static power"),
        "spike_chip": est(0.0, "J", "single chip"),
        "static_w": Figure(1.0, "W", ON + " (~1 W system)"),
    },
    timing={"speedup": Figure(1000.0, "x real time", ON + ": 1000x accelerated")},
    neuron_model="analog AdEx, multi-compartment (deployed as LIF with residual mismatch)",
    delays="none",
    learning="PPU-programmable plasticity",
    mesh_width=1,
    references=(ON, WEIS, GOLTZ),
)
