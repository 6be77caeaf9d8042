"""BrainChip Akida AKD1000 (TSMC 28 nm): 80 event-based neural processing units."""

from network.chips.profile import MODE_LOIHI, ChipProfile, Figure, est

DOCS = "BrainChip Akida documentation (doc.brainchipinc.com), AKD1000 hardware page"
ON = "open-neuromorphic.org, Akida page (second hand)"

PROFILE = ChipProfile(
    name="akida",
    title="BrainChip Akida AKD1000",
    summary="28 nm event-based NPU array; integrate-and-fire layers with 1-4 bit weights",
    mode=MODE_LOIHI,
    limits={
        "cores_per_chip": Figure(80, "NPUs", DOCS),
        "max_chips": est(1, "chips", "single-chip PCIe/M.2 boards; multi-chip not documented publicly"),
        "neurons_per_core": est(15000, "neurons", "1.2 M neurons per chip (" + DOCS + ") / 80 NPUs"),
        "synapses_per_core": est(100000, "synapses", "8 MB SRAM / 80 NPUs at 4-bit weights ~ 200k; half "
                                                     "kept for activations and thresholds"),
    },
    formats={
        "weight_bits": Figure(4, "bits", DOCS + ": 1, 2 or 4-bit weights (8 on Akida 2)"),
        "state_bits": est(20, "bits", "accumulator width not published; 4-bit inputs x 4-bit weights over "
                                      "up to 4096 inputs need 20 bits"),
        "decay_bits": est(12, "bits", "no leak on chip; the field is unused (no_leak)"),
        "threshold_bits": est(20, "bits", "same as the accumulator"),
        "act_shift": Figure(0, "shift", DOCS),
        "vth_shift": Figure(0, "shift", DOCS),
        "ds_offset": Figure(0, "", DOCS),
        "no_leak": Figure(1, "flag", DOCS + ": integrate-and-fire (ANN-like quantised activations), no "
                                            "membrane leak; the synaptic current does not persist"),
    },
    energy={
        "sop": est(2.3e-12, "J", "no per-op energy published; same-node (28 nm) digital event-driven "
                                 "marginal figure of TrueNorth (Akopyan 2015 Fig. 17) used"),
        "neuron_update": est(2.3e-12, "J", "assumed one accumulator read-modify-write, as one SOP"),
        "spike_local": est(0.0, "J", "inside the SOP estimate"),
        "spike_hop": est(2.3e-12, "J", "as TrueNorth's mesh hop (same node)"),
        "spike_chip": est(0.0, "J", "single chip"),
        "static_w": est(0.03, "W", "~30 mW typical power (" + ON + "), taken as the idle floor"),
    },
    timing={"speedup": est(1.0, "x real time", "event driven; one model step per model dt assumed")},
    neuron_model="integrate-and-fire with quantised activations (no leak)",
    delays="none",
    learning="incremental last-layer learning",
    mesh_width=10,
    references=(DOCS, ON),
)
