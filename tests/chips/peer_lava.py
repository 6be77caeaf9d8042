"""Run a feed-forward network in Lava's bit-accurate Loihi models (PyLifModelBitAcc, Dense
bit-accurate) and save every spike, current and voltage. Runs under the interpreter that has
lava-nc installed (Python <= 3.10), as: python peer_lava.py in.npz out.npz

in.npz: raster [steps, n_in] bool; for each layer i = 0..L-1: w{i} [n_post, n_pre] int,
du{i}, dv{i}, vth{i} (mantissa), bias{i} (mantissa), bias_exp{i}, weight_exp{i}.
out.npz: for each layer: s{i}, u{i}, v{i} [steps, n_post].
"""

import sys

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi1SimCfg
from lava.proc.dense.models import PyDenseModelBitAcc
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer
from lava.proc.lif.models import PyLifModelBitAcc
from lava.proc.lif.process import LIF
from lava.proc.monitor.process import Monitor


def main(src: str, dst: str) -> None:
    d = np.load(src, allow_pickle=False)
    raster = d["raster"]
    steps = raster.shape[0]
    n_layers = int(d["n_layers"])
    source = RingBuffer(data=raster.T.astype(np.int32))
    prev = source.s_out
    lifs, monitors = [], []
    for i in range(n_layers):
        w = d[f"w{i}"].astype(np.int32)
        dense = Dense(weights=w, weight_exp=int(d[f"weight_exp{i}"]), num_weight_bits=8)
        lif = LIF(shape=(w.shape[0],), du=int(d[f"du{i}"]), dv=int(d[f"dv{i}"]), vth=int(d[f"vth{i}"]),
                  bias_mant=d[f"bias{i}"].astype(np.int32), bias_exp=int(d[f"bias_exp{i}"]))
        prev.connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        prev = lif.s_out
        mons = [Monitor() for _ in range(3)]
        mons[0].probe(lif.s_out, steps)
        mons[1].probe(lif.u, steps)
        mons[2].probe(lif.v, steps)
        lifs.append(lif)
        monitors.append(mons)
    lifs[0].run(condition=RunSteps(num_steps=steps), run_cfg=Loihi1SimCfg(
        exception_proc_model_map={LIF: PyLifModelBitAcc, Dense: PyDenseModelBitAcc}))
    out = {}
    for i, (lif, mons) in enumerate(zip(lifs, monitors)):
        for key, mon, var in (("s", mons[0], lif.s_out), ("u", mons[1], lif.u), ("v", mons[2], lif.v)):
            data = mon.get_data()[lif.name][var.name]
            out[f"{key}{i}"] = np.asarray(data).reshape(steps, -1)
    lifs[0].stop()
    np.savez(dst, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
