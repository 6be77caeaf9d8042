"""SpiNNaker 1 (130 nm, 2014): 18 ARM968 cores per chip running neurons in software."""

from network.chips.profile import MODE_LOIHI, ChipProfile, Figure, est

FURBER = "Furber et al., Proc. IEEE 102(5), 2014"
HOPPNER19 = "Hoppner et al. 2019 as cited by KerasSpiking model_energy.py presets (second hand)"
SPYNN = "sPyNNaker neuron_model_lif_impl.h (s16.15 accum state, 16-bit synaptic weights)"

PROFILE = ChipProfile(
    name="spinnaker",
    title="SpiNNaker",
    summary="130 nm, 18 ARM968 cores per chip, neurons and synapses in software, packet routing",
    mode=MODE_LOIHI,
    limits={
        "cores_per_chip": Figure(16, "cores", FURBER + " (18 cores: 16 application cores)"),
        "max_chips": Figure(57600, "chips", "SpiNNaker 1M-core machine, " + FURBER),
        "neurons_per_core": est(256, "neurons", "sPyNNaker's default limit of 256 LIF neurons per core; "
                                                "the ~1000 of the hardware papers needs real-time slack"),
        "synapses_per_core": est(256 * 1000, "synapses", "SDRAM-resident rows; about 1000 synapses per "
                                                          "neuron is the design point (" + FURBER + ")"),
        "max_delay_steps": Figure(16, "steps", "sPyNNaker: 16 ms on-core delay (longer through delay extensions)"),
    },
    formats={
        "weight_bits": est(16, "bits", "sPyNNaker stores 16-bit weights with a per-synapse-type shift (" +
                           SPYNN + ")"),
        "state_bits": est(32, "bits", SPYNN),
        "decay_bits": est(16, "bits", "decays are unsigned 16-bit fractions (" + SPYNN + ")"),
        "threshold_bits": est(31, "bits", SPYNN),
        "act_shift": Figure(0, "shift", SPYNN),
        "vth_shift": Figure(0, "shift", SPYNN),
        "ds_offset": Figure(0, "", SPYNN),
    },
    energy={
        "sop": Figure(13.3e-9, "J", HOPPNER19),
        "neuron_update": Figure(26e-9, "J", HOPPNER19),
        "spike_local": est(0.0, "J", "packet cost included in the per-synop software figure"),
        "spike_hop": est(0.0, "J", "packet cost included in the per-synop software figure"),
        "spike_chip": est(0.0, "J", "packet cost included in the per-synop software figure"),
        "static_w": Figure(1.0, "W", FURBER + " (~1 W per chip)"),
    },
    timing={"speedup": Figure(1.0, "x real time", FURBER + ": 1 ms real-time step")},
    neuron_model="any (software); deployed as fixed-point CUBA LIF",
    delays="1-16 steps on core",
    learning="software STDP",
    mesh_width=4,
    references=(FURBER, HOPPNER19, SPYNN),
)
