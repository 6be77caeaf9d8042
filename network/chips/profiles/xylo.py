"""SynSense Xylo Audio 2 (SYNS61201): one clocked SNN core, 16 inputs, 1000 hidden, 8 outputs."""

from network.chips.profile import MODE_BITSHIFT, ChipProfile, Figure, est

ROCKPOOL = "rockpool docs, devices/xylo-overview (Xylo Audio 2 / SYNS61201)"
CYCLES = "rockpool devices/xylo/syns61201/power_cycles_model.py (rockpool 3.1)"
BOS = "Bos & Muir, arXiv:2406.15112, 2024"
ON = "open-neuromorphic.org, Xylo page (second hand)"
# Energy per master-clock cycle: no published figure. Each cycle of the cycle model reads one
# 8-bit weight and read-modify-writes one 16-bit state word; from Horowitz (ISSCC 2014, 45 nm):
# 8 KB SRAM 64-bit read 10 pJ -> 1.25 pJ per 8-bit weight, 16-bit state read + write 2 x 2.5 pJ,
# 16-bit add ~0.05 pJ: ~6.3 pJ per cycle.
E_CYCLE = 6.3e-12
CYCLE_NOTE = ("no published energy per cycle; {n} master-clock cycles of " + CYCLES + " x 6.3 pJ/cycle, "
              "the Horowitz 2014 cost of one 8-bit weight read and one 16-bit state read-modify-write")

PROFILE = ChipProfile(
    name="xylo",
    title="SynSense Xylo Audio 2",
    summary="clocked digital SNN core: 8-bit weights, 16-bit state, bit-shift decays, fan-in 63",
    mode=MODE_BITSHIFT,
    limits={
        "cores_per_chip": Figure(1, "cores", ROCKPOOL),
        "max_chips": Figure(1, "chips", ROCKPOOL),
        "neurons_per_core": Figure(1000, "hidden neurons", ROCKPOOL),
        "synapses_per_core": Figure(65536, "weights", ON + " (64k weights)"),
        "fan_in_per_neuron": Figure(63, "synapses", ON + " (max fan-in 63)"),
        "fan_out_per_neuron": Figure(64, "synapses", "reference table (rockpool docs, fan-out <= 64)"),
        "max_inputs": Figure(16, "channels", ROCKPOOL),
        "max_outputs": Figure(8, "neurons", ROCKPOOL),
        "max_delay_steps": Figure(0, "steps", ROCKPOOL + ": no synaptic delays"),
    },
    formats={
        "pack_layers": Figure(1, "flag", ROCKPOOL + ": hidden and readout neurons share the one core (output neurons counted in the 1000)"),
        "weight_bits": Figure(8, "bits", ROCKPOOL + ": signed 8-bit weights"),
        "weight_shift_max": Figure(7, "shift", ROCKPOOL + ": per-layer weight_shift"),
        "state_bits": Figure(16, "bits", ROCKPOOL + ": 16-bit Isyn and Vmem, saturating"),
        "decay_bits": Figure(4, "bits", ROCKPOOL + ": dash_syn, dash_mem bit-shift decays (0..15)"),
        "threshold_bits": Figure(16, "bits", ROCKPOOL),
    },
    energy={
        "sop_input": est(3.5 * E_CYCLE, "J", CYCLE_NOTE.format(n="3.5 (input loop per input spike and target)")),
        "sop": est(7 * E_CYCLE, "J", CYCLE_NOTE.format(n="7 (hidden Isyn update per fan-out synapse)")),
        "sop_output": est(8 * E_CYCLE, "J", CYCLE_NOTE.format(n="8 (output Isyn update per synapse)")),
        "neuron_update": est(19 * E_CYCLE, "J", CYCLE_NOTE.format(n="19 (fixed hidden neuron update)")),
        "neuron_update_output": est(12 * E_CYCLE, "J", CYCLE_NOTE.format(n="12 (fixed output neuron update)")),
        "spike_local": est(0.0, "J", "single core: spike delivery is inside the Isyn cycles"),
        "spike_hop": est(0.0, "J", "single core"),
        "spike_chip": est(0.0, "J", "single chip"),
        "static_w": est(0.0, "W", "Bos & Muir 2024 report dynamic inference power only (291 uW); no idle "
                                  "figure in the material found, so the report compares dynamic energy"),
    },
    timing={"speedup": Figure(1.0, "x real time", ROCKPOOL + ": clocked global dt (real time)"),
            "cycle": est(1 / 50e6, "s", "50 MHz master clock assumed (rockpool est_clock_freq uses cycles x 1.2 / dt)")},
    neuron_model="CuBa LIF with bit-shift decays, subtractive reset (Isyn <- Isyn - Isyn>>dash_syn + w<<shift)",
    delays="none",
    learning="none",
    mesh_width=1,
    references=(ROCKPOOL, CYCLES, BOS),
)
