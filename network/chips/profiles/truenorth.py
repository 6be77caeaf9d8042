"""IBM TrueNorth (28 nm, 2014): 4096 cores of 256 neurons x 256 axons, 1 ms ticks."""

from network.chips.profile import MODE_TRUENORTH, ChipProfile, Figure, est

MEROLLA = "Merolla et al., Science 345:668, 2014"
AKOPYAN = "Akopyan et al., IEEE TCAD 34(10), 2015"
CASSIDY = "Cassidy et al., IJCNN 2013 (neuron model); NeMo src/neuro/tn_neuron.c"

PROFILE = ChipProfile(
    name="truenorth",
    title="IBM TrueNorth",
    summary="28 nm digital, 4096 crossbar cores, binary synapses with 4 axon-type weights per neuron",
    mode=MODE_TRUENORTH,
    limits={
        "cores_per_chip": Figure(4096, "cores", MEROLLA),
        "max_chips": Figure(16, "chips", "NS16e board (16 chips), Sawada et al., SC 2016"),
        "neurons_per_core": Figure(256, "neurons", MEROLLA),
        "synapses_per_core": Figure(65536, "synapses", MEROLLA + " (256 x 256 binary crossbar)"),
        "input_axons_per_core": Figure(256, "axons", MEROLLA),
        "output_axons_per_core": Figure(256, "axons", MEROLLA + " (one target axon per neuron)"),
        "fan_in_per_neuron": Figure(256, "synapses", MEROLLA),
        "max_delay_steps": Figure(15, "ticks", "axon delay 1-15 ticks (second hand, reference table)"),
    },
    formats={
        "weight_bits": Figure(9, "bits", CASSIDY + ": signed 9-bit weight per axon type"),
        "weights_per_neuron": Figure(4, "values", CASSIDY + ": 4 axon types -> 4 weights per neuron",
                                     note="we quantise each neuron's weights to 4 signed levels; the "
                                          "chip also requires that a pre axon has one type for every "
                                          "neuron of the core, which is not enforced"),
        "state_bits": Figure(20, "bits", "Merolla 2014 supplement (second hand): 20-bit membrane"),
        "leak_bits": Figure(9, "bits", CASSIDY + ": signed leak lambda"),
    },
    energy={
        "sop": Figure(2.3e-12, "J", AKOPYAN + ", Fig. 17 at 0.8 V (regressed, second hand)",
                      note="marginal energy per synaptic event; the all-in 26 pJ/event of " + MEROLLA +
                           " includes static power and is not used, to avoid double counting"),
        "neuron_update": est(0.0, "J", "not published separately: neuron updates are inside the static "
                                       "intercept of the Akopyan regression"),
        "spike_local": est(0.0, "J", "inside the per-event marginal figure"),
        "spike_hop": Figure(2.3e-12, "J", "2.3 pJ per hop (second hand, reference table)"),
        "spike_chip": est(2.3e-12 * 64, "J", "no figure; charged as 64 hops (half the chip's mesh width "
                                             "twice) for the chip-to-chip merge/split link"),
        "static_w": Figure(0.042, "W", AKOPYAN + ", Fig. 17 zero-activity intercept at 0.8 V (second hand)",
                           note="65 mW typical total (Akopyan 2015)"),
    },
    timing={"speedup": Figure(1.0, "x real time", MEROLLA + ": 1 ms tick (1 kHz)"),
            "tick": Figure(1e-3, "s", MEROLLA)},
    neuron_model="Cassidy 2013 digital LIF: integrate, linear leak, threshold, reset (stochastic modes off)",
    delays="axonal delay 1-15 ticks",
    learning="none on chip",
    mesh_width=64,
    references=(MEROLLA, AKOPYAN, CASSIDY),
)
