"""Plain-numpy reference emulators, written independently of the Numba kernels in _kernels.py
(dense weight matrices per delay and a spike history instead of CSR and a ring buffer), so the
two can be tested against each other on the same input (the Lava idea: exact beside fast)."""

from __future__ import annotations

import numpy as np


def _dense_by_delay(n: int, indptr, post, weight, delay, dtype) -> dict[int, np.ndarray]:
    pre = np.repeat(np.arange(n), np.diff(indptr))
    mats: dict[int, np.ndarray] = {}
    for d in np.unique(delay):
        m = np.zeros((n, n), dtype)
        sel = delay == d
        np.add.at(m, (pre[sel], post[sel]), weight[sel])
        mats[int(d)] = m
    return mats


def reference_fixed(q, input_raster: np.ndarray) -> dict[str, np.ndarray]:
    """Fixed-point emulation of a QuantizedNetwork `q` on an input raster [steps, n_input] (bool).
    Returns raster [steps, n] (bool), u and v traces [steps, n] (int64)."""
    n, first = q.n, q.first
    steps = input_raster.shape[0]
    mats = _dense_by_delay(n, q.indptr, q.post, q.weight, q.delay, np.int64)
    spikes = np.zeros((steps, n), bool)
    u = np.zeros(n, np.int64)
    v = np.zeros(n, np.int64)
    last = np.full(n, -(10 ** 9), np.int64)
    tu = np.zeros((steps, n), np.int64)
    tv = np.zeros((steps, n), np.int64)
    smax = np.int64(q.state_max)
    unity = np.int64(1) << q.decay_shift
    hid = np.arange(first, n)
    for k in range(steps):
        a = np.zeros(n, np.int64)
        for d, m in mats.items():
            if k - 1 - d >= 0:
                a += spikes[k - 1 - d].astype(np.int64) @ m
        if q.mode == 0:
            p = u * (unity - q.du - q.ds_offset)
            un = np.sign(p) * np.right_shift(np.abs(p), q.decay_shift) + a
            un = np.where(un > smax, un - 2 * smax, un)
            un = np.where(un <= -smax, un + 2 * smax, un)
        elif q.mode == 1:
            un = _shift_decay(np.clip(u + a, -smax, smax - 1), q.du)
        else:
            un = a
        u[hid] = un[hid]
        free = (q.refractory == 0) | (k - last > q.refractory)
        if q.mode == 0:
            p = v * (unity - q.dv)
            vn = np.clip(np.sign(p) * np.right_shift(np.abs(p), q.decay_shift) + u + q.bias, -smax + 1, smax - 1)
            fire = vn > q.vth
        elif q.mode == 1:
            vn = np.clip(_shift_decay(v, q.dv) + u + q.bias, -smax, smax - 1)
            fire = vn >= q.vth
        else:
            vn = np.clip(v + u, -smax, smax - 1)
            leak = np.abs(q.bias)
            vn = np.where(vn > 0, np.maximum(vn - leak, 0), np.where(vn < 0, np.minimum(vn + leak, 0), vn))
            fire = vn >= q.vth
        mask = np.zeros(n, bool)
        mask[hid] = True
        mask &= free
        fire &= mask
        vn = np.where(fire, np.where(q.soft, vn - q.vth, 0), vn)
        v = np.where(mask, vn, v)
        last[fire] = k
        spikes[k] = fire
        spikes[k, :first] = input_raster[k]
        tu[k], tv[k] = u, v
    return {"raster": spikes, "u": tu, "v": tv}


def _shift_decay(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Xylo's bit-shift decay: x - (x >> d), a positive x losing at least 1."""
    dec = np.right_shift(x, d)
    return x - np.where((dec == 0) & (x > 0), 1, dec)
