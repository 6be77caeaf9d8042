"""Neurogrid (Stanford, 2014): 16 Neurocores of 256 x 256 analog neurons on one board."""

from network.chips.profile import MODE_ANALOG, ChipProfile, Figure, est

BENJAMIN = "Benjamin et al., Proc. IEEE 102(5), 2014"
RECALLED = "recalled from " + BENJAMIN + "; not verified against the paper here"

PROFILE = ChipProfile(
    name="neurogrid",
    title="Neurogrid",
    summary="180 nm analog, 16 Neurocores of 65,536 neurons in a tree network, 1 M neurons per board",
    mode=MODE_ANALOG,
    limits={
        "cores_per_chip": Figure(1, "Neurocores", BENJAMIN + " (each Neurocore is one chip)"),
        "max_chips": Figure(16, "Neurocores", BENJAMIN),
        "neurons_per_core": Figure(65536, "neurons", BENJAMIN),
    },
    formats={
        "weight_bits": est(1, "bits", "shared synaptic populations: a neuron weights inputs by synapse type "
                                      "and a spatial kernel, not per synapse (" + BENJAMIN + ")"),
        "weights_per_neuron": est(4, "values", "4 shared synapse types per neuron assumed (" + RECALLED + ")"),
        "mismatch": est(0.2, "relative", "uncalibrated subthreshold analog, as DYNAP-SE"),
    },
    energy={
        "sop": est(941e-12, "J", "energy per synaptic activation, " + RECALLED),
        "neuron_update": est(0.0, "J", "analog neurons: inside the static power"),
        "spike_local": est(0.0, "J", "inside the synaptic-activation figure"),
        "spike_hop": est(0.0, "J", "inside the synaptic-activation figure"),
        "spike_chip": est(0.0, "J", "inside the synaptic-activation figure"),
        "static_w": est(3.1 / 16, "W", "3.1 W board power for 16 Neurocores (" + RECALLED + "), per Neurocore"),
    },
    timing={"speedup": Figure(1.0, "x real time", BENJAMIN + ": real time")},
    neuron_model="analog quadratic integrate-and-fire with shared dendrites (deployed as LIF with mismatch)",
    delays="none",
    learning="none",
    mesh_width=1,
    references=(BENJAMIN,),
)
