"""Chip energy reproduction: a keyword-spotting network of Blouw et al. 2019's size on the Loihi
profile (their Loihi: 0.27 mJ dynamic energy per inference, 296 inferences/s) and a Xylo-sized
KWS network on the Xylo Audio 2 profile (Bos & Muir 2024: 6.6 uJ per inference). Also times
our Numba emulator against the numpy reference on the same input (ratio printed).

    python -m benchmarks.chips [--quick] [--json]

Operating point (our assumption, printed with the result): Blouw's network is 390 inputs (MFCC
window) -> 256 -> 256 -> 29 (characters); each inference presents one window for `steps` steps
of 1 ms with inputs firing at `input_rate` spikes per step; hidden weights are drawn so hidden
layers fire at a moderate rate. The Xylo network is 16 input channels -> 63 hidden -> 8 outputs
(the chip's input, fan-in and output limits), 1 s of input at dt = 10 ms.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from network.chips.deploy import deploy
from network.chips.emulate import simulate
from network.chips.model import SpikingModel
from network.chips.reference import reference_fixed

BLOUW_J, BLOUW_RATE = 0.27e-3, 296.0
BOS_J = 6.6e-6


def _ff(sizes, rng, scale, density=1.0):
    ws = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        w = rng.normal(0.0, 1.0, (a, b)) * scale / np.sqrt(a * density) + 0.5 * scale / (a * density)
        if density < 1.0:
            w *= rng.random((a, b)) < density
        ws.append(w)
    return ws


def blouw(steps: int, input_rate: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    sizes = [390, 256, 256, 29]
    model = SpikingModel.from_layers(sizes, _ff(sizes, rng, 6.0), tau_m_ms=20.0, tau_syn_ms=5.0, v_th=1.0)
    raster = rng.random((steps, 390)) < input_rate
    d = deploy(model, "loihi")
    inf = d.infer(raster)
    rep = d.energy_report(inf.counts)
    rates = inf.counts.spikes / (steps * (256 + 256 + 29))
    return {"network": "390-256-256-29", "steps": steps, "input_rate_per_step": input_rate,
            "hidden_rate_per_step": rates, "cores": rep["mapping"]["cores"],
            "dynamic_j": rep["dynamic_j"], "total_j": rep["energy_j"], "inferences_per_s": rep["inferences_per_s"],
            "ratio_to_blouw": rep["dynamic_j"] / BLOUW_J, "blouw_j": BLOUW_J, "blouw_inferences_per_s": BLOUW_RATE,
            "breakdown_j": rep["breakdown_j"], "cpu_j": rep["reference"]["cpu"]["energy_j"]}


def xylo(seconds: float, dt_ms: float, input_rate: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    sizes = [16, 63, 8]
    model = SpikingModel.from_layers(sizes, _ff(sizes, rng, 4.0), tau_m_ms=20.0, tau_syn_ms=10.0, dt_ms=dt_ms)
    steps = int(seconds * 1000 / dt_ms)
    raster = rng.random((steps, 16)) < input_rate
    d = deploy(model, "xylo")
    inf = d.infer(raster)
    rep = d.energy_report(inf.counts)
    return {"network": "16-63-8", "steps": steps, "dt_ms": dt_ms, "input_rate_per_step": input_rate,
            "hidden_rate_per_step": inf.counts.spikes / (steps * 71), "dynamic_j": rep["dynamic_j"],
            "dynamic_power_w": rep["dynamic_j"] / (steps * dt_ms / 1000), "ratio_to_bos": rep["dynamic_j"] / BOS_J,
            "bos_j": BOS_J, "breakdown_j": rep["breakdown_j"]}


def timing(quick: bool) -> dict:
    rng = np.random.default_rng(1)
    sizes = [64, 128, 10]
    model = SpikingModel.from_layers(sizes, _ff(sizes, rng, 6.0))
    raster = rng.random((100 if quick else 300, 64)) < 0.1
    q = deploy(model, "loihi").q
    simulate(q, raster[:5])
    t0 = time.perf_counter()
    simulate(q, raster)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference_fixed(q, raster)
    ref = time.perf_counter() - t0
    return {"numba_s": ours, "numpy_reference_s": ref, "speedup": ref / ours}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks.chips", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out = {"loihi_kws": [blouw(s, r) for s, r in ((20, 0.1),) + (() if args.quick else ((50, 0.1), (100, 0.1)))],
           "xylo_kws": [xylo(1.0, 10.0, r) for r in ((0.2,) if args.quick else (0.1, 0.2, 0.4))],
           "timing": timing(args.quick)}
    if args.json:
        print(json.dumps(out, indent=1, default=float))
        return 0
    print("Loihi, Blouw et al. 2019 size (390-256-256-29); theirs: 0.27 mJ/inference dynamic, 296 inf/s")
    for r in out["loihi_kws"]:
        print(f"  steps {r['steps']:4d} input p={r['input_rate_per_step']:.2f} hidden p={r['hidden_rate_per_step']:.3f}"
              f"  ours {r['dynamic_j'] * 1e3:.4f} mJ dynamic ({r['ratio_to_blouw']:.2f}x theirs), "
              f"{r['inferences_per_s']:.0f} inf/s, total {r['total_j'] * 1e3:.4f} mJ")
    print("Xylo Audio 2, 16-63-8, 1 s at dt 10 ms; theirs (Bos & Muir 2024): 6.6 uJ/inference")
    for r in out["xylo_kws"]:
        print(f"  input p={r['input_rate_per_step']:.2f} hidden p={r['hidden_rate_per_step']:.3f}  ours "
              f"{r['dynamic_j'] * 1e6:.3f} uJ ({r['ratio_to_bos']:.2f}x theirs), {r['dynamic_power_w'] * 1e6:.1f} uW")
    t = out["timing"]
    print(f"emulator: Numba {t['numba_s'] * 1e3:.1f} ms vs numpy reference {t['numpy_reference_s'] * 1e3:.1f} ms "
          f"-> {t['speedup']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
