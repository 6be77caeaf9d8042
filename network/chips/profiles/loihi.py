"""Intel Loihi (14 nm, 2018): 128 neurocores of 1024 CUBA LIF compartments per chip."""

from network.chips.profile import MODE_LOIHI, ChipProfile, Figure, est

DAVIES = "Davies et al., IEEE Micro 38(1), 2018, Table 2 (pre-silicon values at 0.75 V)"
DAVIES_TEXT = "Davies et al., IEEE Micro 38(1), 2018, pp. 86-95"
LAVA = "Lava lava/proc/lif/models.py PyLifModelBitAcc and lava/proc/dense/models.py (lava-nc 0.10)"
BLOUW = "Blouw et al., NICE 2019, arXiv:1812.01739"
# Blouw et al.'s Loihi keyword spotter streams its input from the host: every 1 ms step, the
# embedded x86 (Lakemont) cores run a management phase that injects the step's input spikes
# and synchronises with the host before the mesh may advance. Their table gives 296
# inferences/s; one inference presents one MFCC frame for 10 steps (nengo-loihi
# docs/examples/keyword_spotting.ipynb, predict_text(..., p_time=10); their published logs,
# abr/power_benchmarks logs/running/loihi_I08O08C00L00_run01.json, run 20000 steps for 2000
# inferences). So one step took 1 / (296 x 10) s, almost all of it host I/O: the mesh work
# of this network is a few microseconds per step.
HOST_STEP_S = 1.0 / (296.0 * 10)
# Barrier synchronisation: Davies 2018 Table 2 gives its time (113-465 ns) but no energy. Each
# core signals "done" and receives "advance" once per step; each token is taken to cross the
# mean distance of the 8 x 4 tile mesh (~4 hops) at the mean tile-hop energy of 3.5 pJ.
BARRIER_CORE_J = 2 * 4 * 3.5e-12

PROFILE = ChipProfile(
    name="loihi",
    title="Intel Loihi",
    summary="14 nm digital asynchronous many-core; bit-accurate CUBA LIF in 24-bit fixed point",
    mode=MODE_LOIHI,
    limits={
        "cores_per_chip": Figure(128, "cores", DAVIES_TEXT),
        "max_chips": Figure(768, "chips", "Pohoiki Springs system (768 chips), Intel 2020 press brief",
                            note="the largest Loihi system; a Kapoho Bay has 2 chips"),
        "neurons_per_core": Figure(1024, "compartments", DAVIES_TEXT),
        "synapses_per_core": est(65536, "synapses",
                                 "128 KB synaptic memory per core (Davies 2018) at ~16 bits per synapse "
                                 "(8-bit weight + index/format overhead, compressed sparse encoding)"),
        "input_axons_per_core": Figure(4096, "axons", DAVIES_TEXT + " (<=4096 input axon lists per core)"),
        "output_axons_per_core": Figure(4096, "axons", DAVIES_TEXT + " (<=4096 output edges per core)"),
        "max_delay_steps": Figure(62, "steps", "Dey & Dimitrov, Front. Neurosci. 2022; brian2_loihi (0-62)"),
    },
    formats={
        "weight_bits": Figure(8, "bits", LAVA + ": 8-bit mantissa, mixed sign clips to [-256, 254] even",
                              note="Davies 2018: 1-9 bit weights; Lava's Dense uses 8 by default"),
        "weight_exp_max": Figure(7, "shift", "brian2_loihi: w_exp in [-8, 7]"),
        "state_bits": Figure(24, "bits", LAVA + " (u, v in 24 bits)"),
        "decay_bits": Figure(12, "bits", LAVA + " (du, dv u12)"),
        "threshold_bits": Figure(17, "bits", LAVA + " (vth u17, shifted left by 6)"),
        "bias_bits": Figure(13, "bits", LAVA + " (bias_mant s13, bias_exp u3)"),
        "act_shift": Figure(6, "shift", LAVA + " (synaptic input << 6)"),
        "vth_shift": Figure(6, "shift", LAVA + " (threshold << 6)"),
        "ds_offset": Figure(1, "", LAVA + " (current decay uses du + 1)"),
    },
    energy={
        "sop": Figure(23.6e-12, "J", DAVIES, note="minimum synaptic-operation energy"),
        "neuron_update": Figure(81e-12, "J", DAVIES, note="active neuron update"),
        "neuron_update_idle": Figure(52e-12, "J", DAVIES, note="inactive neuron update"),
        "spike_local": Figure(1.7e-12, "J", DAVIES, note="within-tile spike energy"),
        "spike_hop": Figure(3.5e-12, "J", DAVIES,
                            note="mean of 3.0 pJ east-west and 4.0 pJ north-south per tile hop"),
        "spike_chip": est(3.5e-12 * 16, "J",
                          "no published inter-chip figure; charged as 16 extra tile hops (a crossing of "
                          "a 4x4 mesh quadrant) to represent the off-chip link"),
        "barrier_core": est(BARRIER_CORE_J, "J",
                            "Davies 2018 Table 2 states barrier-sync time only; two sync tokens per core per "
                            "step, each ~4 tile hops of the 8x4 tile mesh at 3.5 pJ/hop (Table 2)"),
        "management_w": Figure(0.070, "W",
                               BLOUW + ", sec. 2.2 (Data I/O): idle power after a model has run is ~70 mW above "
                               "idle from boot; the authors attribute it to the embedded x86 cores that manage "
                               "the interface to the mesh, and count it in their 0.081 W dynamic power",
                               note="charged per chip over the run's wall time, as dynamic energy; their raw logs "
                                    "(abr/power_benchmarks logs/running/loihi_run0*.csv) read 0.096 W between "
                                    "runs, 0.0295 W from boot and 0.1106 W while running. The per-step x86 "
                                    "instructions (the remaining ~15 mW while running) have no figure and are "
                                    "not modelled"),
        "static_w": Figure(0.029, "W",
                           "Blouw et al. 2019, arXiv:1812.01739, table: 0.110 W running - 0.081 W dynamic",
                           note="idle power of the board running the KWS net; Frady et al. 2020 imply "
                                "~104 mW/chip (3.34 W / 32 chips, second hand)"),
    },
    timing={
        "sop": Figure(3.5e-9, "s", DAVIES, note="maximum time per synaptic op"),
        "neuron_update": Figure(8.4e-9, "s", DAVIES),
        "neuron_update_idle": Figure(5.3e-9, "s", DAVIES),
        "spike_hop": Figure(5.3e-9, "s", DAVIES, note="mean of 4.1 ns E-W and 6.5 ns N-S"),
        "barrier": Figure(289e-9, "s", DAVIES, note="mid-range of the 113-465 ns barrier synchronisation"),
        "host_step": Figure(HOST_STEP_S, "s",
                            BLOUW + " table (296 inferences/s) at 10 steps per inference (nengo-loihi "
                            "keyword_spotting example p_time=10; abr/power_benchmarks Loihi logs)",
                            note="host-streamed input through NxSDK 0.7.5 on a Wolf Mountain board: the x86 "
                                 "management phase of each step; Blouw et al. note NxSDK I/O limited their "
                                 "inference speed. Networks whose input is generated on chip would not pay it"),
    },
    neuron_model="CUBA LIF (u: current, v: voltage), 12-bit decays, hard reset to 0; multi-compartment",
    delays="axonal/synaptic delays up to 62 steps",
    learning="programmable sum-of-products rules on 7-bit traces (epoch based)",
    mesh_width=8,
    references=(DAVIES, LAVA, BLOUW, "nengo-loihi docs/examples/keyword_spotting.ipynb",
                "github.com/abr/power_benchmarks (Blouw et al.'s logs and paper source)"),
)
