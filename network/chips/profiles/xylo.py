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
# Cross-check, not a fit: Bos & Muir's 291 uW dynamic power at Rockpool's default 50 MHz core
# clock is 5.8 pJ per clock cycle, if every cycle does work.
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
        # Rockpool's cycle model per network step (cycles_model, no aliases, Isyn2 off):
        #   inputs: Nin * (p_in * Nien * 3.5 + 1)   hidden Isyn: Nhid * (fanout * 7 * p_hid + 3)
        #   output Isyn: Nhid * p_hid * (1 + Nout * 8)   hidden spiking: Nhid * (19 + 3 * p_hid)
        #   output spiking: 12 * Nout. We price the same cycles per event: per synapse of an
        #   input spike (the model's Nien is every hidden neuron, i.e. a dense input row), per
        #   hidden and output synapse, per hidden neuron and step (19 + 3), per hidden spike
        #   (3 spiking + 1 output-Isyn), per output neuron and step, per input channel and step.
        "sop_input": est(3.5 * E_CYCLE, "J", CYCLE_NOTE.format(n="3.5 (input loop per input spike and target)")),
        "sop": est(7 * E_CYCLE, "J", CYCLE_NOTE.format(n="7 (hidden Isyn update per fan-out synapse)")),
        "sop_output": est(8 * E_CYCLE, "J", CYCLE_NOTE.format(n="8 (output Isyn update per synapse)")),
        "neuron_update": est(22 * E_CYCLE, "J", CYCLE_NOTE.format(
            n="22 (19 fixed hidden-neuron spiking cycles + 3 fixed hidden Isyn cycles, per hidden neuron per step)")),
        "neuron_update_output": est(12 * E_CYCLE, "J", CYCLE_NOTE.format(n="12 (fixed output neuron update)")),
        "input_channel": est(1 * E_CYCLE, "J", CYCLE_NOTE.format(n="1 (input loop per channel per step)")),
        "spike_local": est(4 * E_CYCLE, "J", CYCLE_NOTE.format(
            n="4 (3 hidden spike-generation cycles + 1 output-Isyn cycle, per hidden spike delivered)")),
        "spike_hop": est(0.0, "J", "single core"),
        "spike_chip": est(0.0, "J", "single chip"),
        "static_w": est(0.0, "W", "Bos & Muir 2024 report dynamic inference power only (291 uW); no idle "
                                  "figure in the material found, so the report compares dynamic energy"),
    },
    timing={"speedup": Figure(1.0, "x real time", ROCKPOOL + ": clocked global dt (real time)"),
            "cycle": est(1 / 50e6, "s", "50 MHz master clock assumed (rockpool est_clock_freq uses cycles x 1.2 / dt)")},
    neuron_model="CuBa LIF with bit-shift decays, subtractive reset (y = Isyn + w<<shift; Isyn <- y - y>>dash_syn; "
                 "a positive state decays by at least 1, as xylosim.v2 does)",
    delays="none",
    learning="none",
    mesh_width=1,
    references=(ROCKPOOL, CYCLES, BOS),
)
