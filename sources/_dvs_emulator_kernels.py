"""Numba kernels of the frame-to-event (DVS) emulator.

Randomness is counter based (splitmix64 of seed, frame index, pixel, draw), so the events
of a frame interval do not depend on how the frames were chunked.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True)
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def uniform(seed, a, b, c):
    """A uniform in [0, 1) from four integer keys."""
    z = _mix(np.uint64(seed) * _GOLDEN + np.uint64(a))
    z = _mix(z + np.uint64(b) * _GOLDEN)
    z = _mix(z + np.uint64(c) * _GOLDEN + np.uint64(1))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def pixel_thresholds(seed, n, on, off, sigma, out_on, out_off, out_phase):
    """Per-pixel ON/OFF thresholds with Gaussian mismatch (Box-Muller), clipped at 0.01,
    and each pixel's initial reference phase in [0, 1)."""
    for i in range(n):
        u1 = max(uniform(seed, 1, i, 0), 1e-12)
        u2 = uniform(seed, 1, i, 1)
        r = np.sqrt(-2.0 * np.log(u1))
        out_on[i] = max(on * (1.0 + sigma * r * np.cos(2 * np.pi * u2)), 0.01)
        out_off[i] = max(off * (1.0 + sigma * r * np.sin(2 * np.pi * u2)), 0.01)
        out_phase[i] = uniform(seed, 2, i, 0)


@njit(cache=True)
def interval_events(l0, l1, t0, t1, frame, ref, last_t, th_on, th_off, refractory_us, leak_per_us,
                    shot_per_us, seed, width, out_t, out_i, out_p):
    """Events of every pixel between frames at t0 (log image l0) and t1 (l1), log intensity
    interpolated linearly in time. ref (per-pixel reference, leaking down at leak_per_us x
    th_on per µs) and last_t (last event, for the refractory period) are updated in place.
    Returns the number of events written (pixel index i = y * width + x); -1 if out is full."""
    n = l0.shape[0]
    dt = t1 - t0
    k = 0
    cap = out_t.shape[0]
    for i in range(n):
        r = ref[i] - leak_per_us * th_on[i] * dt  # reference at t1 after leaking
        d0 = l0[i] - ref[i]
        d1 = l1[i] - r
        if d1 >= th_on[i] and d1 > d0:
            count = int(np.floor(d1 / th_on[i]))
            for j in range(1, count + 1):
                s = (j * th_on[i] - d0) / (d1 - d0)
                t = t0 + max(1, int(np.ceil(s * dt)))
                if t > t1:
                    t = t1
                if t - last_t[i] >= refractory_us:
                    if k >= cap:
                        return -1
                    out_t[k] = t
                    out_i[k] = i
                    out_p[k] = 1
                    k += 1
                    last_t[i] = t
            r += count * th_on[i]
        elif d1 <= -th_off[i] and d1 < d0:
            count = int(np.floor(-d1 / th_off[i]))
            for j in range(1, count + 1):
                s = (-j * th_off[i] - d0) / (d1 - d0)
                t = t0 + max(1, int(np.ceil(s * dt)))
                if t > t1:
                    t = t1
                if t - last_t[i] >= refractory_us:
                    if k >= cap:
                        return -1
                    out_t[k] = t
                    out_i[k] = i
                    out_p[k] = 0
                    k += 1
                    last_t[i] = t
            r -= count * th_off[i]
        ref[i] = r
        if shot_per_us > 0.0:
            # Poisson shot noise: inverse-CDF count from one uniform, times and polarities from more
            lam = shot_per_us * dt
            u = uniform(seed, frame, i, 0)
            p = np.exp(-lam)
            cdf = p
            m = 0
            while u > cdf and m < 64:
                m += 1
                p *= lam / m
                cdf += p
            for j in range(m):
                t = t0 + 1 + int(uniform(seed, frame, i, 2 * j + 1) * dt)
                if t > t1:
                    t = t1
                if k >= cap:
                    return -1
                out_t[k] = t
                out_i[k] = i
                out_p[k] = 1 if uniform(seed, frame, i, 2 * j + 2) < 0.5 else 0
                k += 1
    return k
