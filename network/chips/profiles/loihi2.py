"""Intel Loihi 2 (Intel 4, 2021): 128 programmable neurocores; LIF run in Loihi-1 fixed point."""

from network.chips.profile import MODE_LOIHI, ChipProfile, Figure, est
from network.chips.profiles.loihi import LAVA

BRIEF = "Intel, 'Taking Neuromorphic Computing to the Next Level with Loihi 2', technology brief 2021"
ON = "open-neuromorphic.org, Loihi 2 page (second hand)"

PROFILE = ChipProfile(
    name="loihi2",
    title="Intel Loihi 2",
    summary="Intel 4 digital asynchronous many-core with microcoded neurons and graded spikes",
    mode=MODE_LOIHI,
    limits={
        "cores_per_chip": Figure(128, "cores", BRIEF),
        "max_chips": Figure(1152, "chips", "Hala Point system (1152 chips), Intel 2024 press release"),
        "neurons_per_core": est(8192, "neurons", "1 M neurons per chip (" + BRIEF + ") / 128 cores"),
        "synapses_per_core": est(937500, "synapses", "120 M synapses per chip (" + BRIEF + ") / 128 cores"),
        "input_axons_per_core": est(4096, "axons", "not published; Loihi 1's 4096 kept"),
        "output_axons_per_core": est(4096, "axons", "not published; Loihi 1's 4096 kept"),
        "max_delay_steps": est(62, "steps", "not verified for Loihi 2; Loihi 1's 62 kept"),
    },
    formats={
        "weight_bits": Figure(8, "bits", LAVA, note="Lava's Loihi 2 Dense defaults to 8-bit weights"),
        "weight_exp_max": Figure(7, "shift", LAVA),
        "state_bits": Figure(24, "bits", LAVA, note="the LIF microcode Lava ships keeps Loihi 1's formats"),
        "decay_bits": Figure(12, "bits", LAVA),
        "threshold_bits": Figure(17, "bits", LAVA),
        "bias_bits": Figure(13, "bits", LAVA),
        "act_shift": Figure(6, "shift", LAVA),
        "vth_shift": Figure(6, "shift", LAVA),
        "ds_offset": Figure(1, "", LAVA),
    },
    energy={
        "sop": est(23.6e-12, "J", "no per-op energy published for Loihi 2; Loihi 1's Davies 2018 value kept "
                                  "(a process shrink would lower it, so this is an upper bound)"),
        "neuron_update": est(81e-12, "J", "Loihi 1 value (Davies 2018 Table 2) kept, not published for Loihi 2"),
        "neuron_update_idle": est(52e-12, "J", "Loihi 1 value kept"),
        "spike_local": est(1.7e-12, "J", "Loihi 1 value kept"),
        "spike_hop": est(3.5e-12, "J", "Loihi 1 value kept"),
        "spike_chip": est(56e-12, "J", "as the Loihi profile: 16 tile hops"),
        "static_w": est(0.1, "W", "~1 W total chip power quoted by " + ON + "; idle share assumed 10 %, "
                                  "about Loihi 1's ratio of idle to running power in Blouw 2019"),
    },
    timing={
        "sop": est(1.75e-9, "s", "Intel's brief claims up to 2x faster synaptic processing than Loihi 1 "
                                 "(3.5 ns per SOP, Davies 2018)"),
        "neuron_update": est(0.84e-9, "s", "brief claims up to 10x faster neuron updates than Loihi 1 (8.4 ns)"),
        "neuron_update_idle": est(0.53e-9, "s", "Loihi 1's 5.3 ns / 10"),
        "spike_hop": est(5.3e-9, "s", "Loihi 1 value kept"),
        "barrier": est(289e-9, "s", "Loihi 1 value kept"),
    },
    neuron_model="microcoded; the deployed model is Loihi-1-compatible CUBA LIF (Lava PyLifModelBitAcc)",
    delays="synaptic delays (up to 62 steps assumed)",
    learning="programmable three-factor rules",
    mesh_width=8,
    references=(BRIEF, LAVA, ON),
)
