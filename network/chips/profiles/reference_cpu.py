"""Reference profiles for an equivalent non-spiking network: energy per MAC and per memory access
(Horowitz, ISSCC 2014, 45 nm, 0.9 V), plus the measured-system presets of KerasSpiking."""

from network.chips.profile import MODE_ANN, ChipProfile, Figure

HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014, energy table (45 nm, 0.9 V)"
DEGNAN = "Degnan et al., IEEE TVLSI 2015, as the KerasSpiking model_energy.py presets (second hand)"


def _ann(name: str, title: str, summary: str, mac: Figure, weight_read: Figure, activation: Figure) -> ChipProfile:
    return ChipProfile(
        name=name, title=title, summary=summary, mode=MODE_ANN, limits={}, formats={},
        energy={"mac": mac, "weight_read": weight_read, "activation": activation},
        timing={}, neuron_model="non-spiking (ReLU/linear), one MAC per synapse per frame", delays="n/a",
        learning="n/a", references=(HOROWITZ,) if "Horowitz" in mac.source else (DEGNAN,))


CPU = _ann("cpu", "CPU datapath (FP32)", "FP32 MAC with weights from a 1 MB cache",
           Figure(4.6e-12, "J", HOROWITZ + ": FP32 mult 3.7 pJ + add 0.9 pJ"),
           Figure(50e-12, "J", HOROWITZ + ": 1 MB SRAM 64-bit read 100 pJ, half per 32-bit weight"),
           Figure(10e-12, "J", HOROWITZ + ": 8 KB SRAM 64-bit read 10 pJ per activation write/read pair"))
GPU = _ann("gpu", "GPU/accelerator datapath (FP16)", "FP16 MAC with weights from 32 KB on-chip SRAM",
           Figure(1.5e-12, "J", HOROWITZ + ": FP16 mult 1.1 pJ + add 0.4 pJ"),
           Figure(5e-12, "J", HOROWITZ + ": 32 KB SRAM 64-bit read 20 pJ, a quarter per FP16 weight"),
           Figure(5e-12, "J", HOROWITZ + ": 8 KB SRAM 64-bit read 10 pJ, half per FP16 activation"))
CPU_SYSTEM = _ann("cpu-system", "CPU system (i7-4960X)", "measured whole-system energy per synaptic op",
                  Figure(8.6e-9, "J", DEGNAN), Figure(0.0, "J", DEGNAN + " (included)"),
                  Figure(8.6e-9, "J", DEGNAN + " (per neuron)"))
GPU_SYSTEM = _ann("gpu-system", "GPU system (GTX Titan Black)", "measured whole-system energy per synaptic op",
                  Figure(0.3e-9, "J", DEGNAN), Figure(0.0, "J", DEGNAN + " (included)"),
                  Figure(0.3e-9, "J", DEGNAN + " (per neuron)"))
PROFILE = CPU
