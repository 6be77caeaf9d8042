"""DYNAP-SE (180 nm, 2018): 4 cores of 256 analog adaptive-exponential neurons, CAM synapses."""

from network.chips.profile import MODE_ANALOG, ChipProfile, Figure, est

MORADI = "Moradi et al., IEEE TBCAS 12(1), 2018"
ROCKPOOL = "rockpool DynapSim / VirtualDynapse parameters"
RECALLED = ("recalled from " + MORADI + " energy table as quoted in later comparisons; not verified "
            "against the paper here")

PROFILE = ChipProfile(
    name="dynapse",
    title="SynSense DYNAP-SE",
    summary="180 nm mixed-signal, 4 cores x 256 analog neurons, 64 CAM entries per neuron",
    mode=MODE_ANALOG,
    limits={
        "cores_per_chip": Figure(4, "cores", MORADI),
        "max_chips": Figure(4, "chips", "DYNAP-SE board of 4 chips (" + MORADI + ")"),
        "neurons_per_core": Figure(256, "neurons", MORADI),
        "fan_in_per_neuron": Figure(64, "synapses", MORADI + " (64 CAM words per neuron)"),
        "fan_out_per_neuron": est(4096, "synapses", "each neuron's SRAM holds 4 destination cores x 1024 "
                                                    "neurons reached by broadcast (" + MORADI + ")"),
    },
    formats={
        "weight_bits": Figure(1, "bits", MORADI + ": synapse selects one of 4 types"),
        "weights_per_neuron": Figure(4, "values", MORADI + ": fast/slow excitatory, sub/shunt inhibitory"),
        "mismatch": Figure(0.2, "relative", ROCKPOOL + ": ~20 % parameter mismatch"),
    },
    energy={
        "sop": est(324e-12, "J", "pulse extender (synaptic event), " + RECALLED),
        "neuron_update": est(0.0, "J", "analog neurons integrate continuously: counted in static power"),
        "spike_local": est(883e-12 + 6.84e-9, "J", "spike generation + broadcast within core, " + RECALLED),
        "spike_hop": est(360e-12, "J", "route event to another core, " + RECALLED),
        "spike_chip": est(360e-12 * 4, "J", "no figure; 4 routing stages assumed"),
        "static_w": est(1e-3, "W", "no idle figure retrieved; order of a 180 nm 4-core analog chip with "
                                   "biases on"),
    },
    timing={"speedup": Figure(1.0, "x real time", MORADI + ": analog, continuous real time")},
    neuron_model="analog AdExp (deployed as LIF with mismatch)",
    delays="none (analog time constants only)",
    learning="none on chip",
    mesh_width=2,
    references=(MORADI, ROCKPOOL),
)
