"""Numba kernels shared by several encoders: a counter-based random stream and rate coding.

Random numbers come from a hash of (seed, time index, channel) rather than from a
generator's running state, so a spike drawn for sample k of channel c is the same however
the stream was cut into chunks (splitmix64, Steele et al. 2014, as its finaliser).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SALT = np.uint64(0xD1B54A32D192ED03)


@njit(cache=True, inline="always")
def _splitmix(z):
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def uniform01(seed, index, channel):
    """A uniform float in [0, 1) that depends only on (seed, index, channel)."""
    z = _splitmix(np.uint64(seed) ^ (np.uint64(index) * _SALT))
    z = _splitmix(z ^ np.uint64(channel))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _poisson_count(lam, u):
    """Inverse-CDF Poisson draw for a small mean `lam` from one uniform `u`."""
    p = np.exp(-lam)
    cdf = p
    k = 0
    while u > cdf and k < 10_000:
        k += 1
        p *= lam / k
        cdf += p
        if p == 0.0:
            break
    return k


@njit(cache=True)
def rate_counts(values, index0, p_scale, gain, signed, mode, seed, acc, counts, signs):
    """Spike counts per (row, column) of `values` for rate coding.

    values: float32 [n, m]; row i has time index index0[i] (sample number or frame stamp);
    the firing probability per row is clip(gain*v, 0, 1) * p_scale. mode 0 Bernoulli,
    1 Poisson, 2 deterministic integrate-and-fire (accumulator `acc` [m], carried across
    calls). signed: rate from |v| and sign into `signs` (+1/-1), else negative v is 0.
    """
    n, m = values.shape
    for i in range(n):
        idx = index0[i]
        for j in range(m):
            v = gain * values[i, j]
            s = 1
            if signed and v < 0.0:
                v = -v
                s = -1
            if v < 0.0:
                v = 0.0
            elif v > 1.0:
                v = 1.0
            lam = v * p_scale
            c = 0
            if mode == 2:
                a = acc[j] + lam
                while a >= 1.0:
                    a -= 1.0
                    c += 1
                acc[j] = a
            elif lam > 0.0:
                u = uniform01(seed, idx, j)
                if mode == 0:
                    c = 1 if u < lam else 0
                else:
                    c = _poisson_count(lam, u)
            counts[i, j] = c
            signs[i, j] = s


@njit(cache=True)
def delta_counts(values, ref, threshold, counts):
    """Send-on-delta: per (row, column), signed number of threshold crossings of values
    against the reference `ref` [m] (updated in place; each crossing moves it by one
    threshold)."""
    n, m = values.shape
    for i in range(n):
        for j in range(m):
            d = values[i, j] - ref[j]
            c = 0
            if d >= threshold:
                c = int(d / threshold)
                ref[j] += c * threshold
            elif -d >= threshold:
                c = -int(-d / threshold)
                ref[j] += c * threshold
            counts[i, j] = c


@njit(cache=True)
def sigma_delta_counts(values, acc, threshold, counts):
    """Sigma-delta (pulse-density) coding: integrate each column into `acc` [m] and emit
    a signed pulse whenever the integral passes +-threshold; pulses x threshold sum to the
    integral of the input within one threshold."""
    n, m = values.shape
    for i in range(n):
        for j in range(m):
            a = acc[j] + values[i, j]
            c = 0
            if a >= threshold:
                c = int(a / threshold)
            elif a <= -threshold:
                c = -int(-a / threshold)
            acc[j] = a - c * threshold
            counts[i, j] = c
