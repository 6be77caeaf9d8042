"""SpiNNaker 2 (22 nm FDSOI): 152 ARM Cortex-M4F processing elements per chip with MAC arrays."""

from network.chips.profile import MODE_LOIHI, ChipProfile, Figure, est

HOPPNER21 = "Hoppner et al., arXiv:2103.08392, 2021"
HOPPNER19 = "Hoppner et al. 2019 as cited by KerasSpiking model_energy.py presets (second hand)"
MAYR = "Mayr et al., CPA 2018 (144 PEs in the roadmap)"

PROFILE = ChipProfile(
    name="spinnaker2",
    title="SpiNNaker 2",
    summary="22 nm FDSOI, 152 ARM M4F PEs with DVFS and 8-bit MAC arrays; software neurons",
    mode=MODE_LOIHI,
    limits={
        "cores_per_chip": Figure(152, "PEs", HOPPNER21 + " (second hand)"),
        "max_chips": Figure(70000, "chips", "SpiNNcloud 5M-core system announcement, 2024"),
        "neurons_per_core": est(256, "neurons", "software limit as on SpiNNaker 1 (same sPyNNaker-style "
                                                "runtime), 128 KB SRAM per PE"),
        "synapses_per_core": est(32768, "synapses", "128 KB PE SRAM at 4 bytes per synapse row entry"),
        "max_delay_steps": est(16, "steps", "as SpiNNaker 1 software"),
    },
    formats={
        "weight_bits": Figure(8, "bits", HOPPNER21 + ": 8-bit MAC array"),
        "state_bits": est(32, "bits", "32-bit fixed point in software, as SpiNNaker 1"),
        "decay_bits": est(16, "bits", "as SpiNNaker 1 software"),
        "threshold_bits": est(31, "bits", "as SpiNNaker 1 software"),
        "act_shift": Figure(0, "shift", "software"),
        "vth_shift": Figure(0, "shift", "software"),
        "ds_offset": Figure(0, "", "software"),
    },
    energy={
        "sop": Figure(450e-12, "J", HOPPNER19, note="10 pJ/SOp is listed for the MAC-array path (Hoppner "
                                                    "2021 via PMC10326429 Table 3)"),
        "neuron_update": Figure(2.19e-9, "J", HOPPNER19),
        "spike_local": est(0.0, "J", "included in the per-synop software figure"),
        "spike_hop": est(0.0, "J", "included in the per-synop software figure"),
        "spike_chip": est(0.0, "J", "included in the per-synop software figure"),
        "static_w": est(0.2, "W", "no absolute figure found; SpiNNaker 1's ~1 W/chip reduced by the -80 % "
                                  "baseline power of the DVFS test chip (Hoppner et al., arXiv:1903.08941)"),
    },
    timing={"speedup": Figure(1.0, "x real time", "1 ms real-time step (software default)")},
    neuron_model="any (software); deployed as fixed-point CUBA LIF",
    delays="software, 1-16 steps",
    learning="software",
    mesh_width=8,
    references=(HOPPNER21, HOPPNER19, MAYR),
)
