"""Numba kernels of the cochlea: Slaney's 4-biquad gammatone cascade, hair cell, spikes.

Coefficients follow Slaney's "An Efficient Implementation of the Patterson-Holdsworth
Auditory Filter Bank" (Apple TR #35, 1993) as in the `gammatone` package's
`make_erb_filters`: four second-order sections per channel with a shared pole pair and
numerators (T, A1k, 0). We divide every numerator by T and move T**4/gain to the input,
so each section is y = x + s1; s1 = k*x - a1*y + s2; s2 = -a2*y (transposed direct form
II). Channels are the inner loop so LLVM vectorises across them; state lives in
[section, channel] arrays carried across calls, which makes the output independent of
chunking.
"""

from __future__ import annotations

import numpy as np
from numba import njit

EAR_Q = 9.26449  # Glasberg and Moore (1990), as in Slaney's MakeERBFilters
MIN_BW = 24.7
# A tiny constant added to the filter input keeps the recursive state out of the
# subnormal range during digital silence, where x86 arithmetic becomes ~50x slower;
# it shifts the output by far less than float32 resolution of any audible signal.
DENORMAL_GUARD = 1e-20


def erb_space(f_lo: float, f_hi: float, n: int) -> np.ndarray:
    """Slaney's ERBSpace: n centre frequencies from just below f_hi down to f_lo (Hz),
    highest first, equally spaced on the ERB scale (same as gammatone.filters.erb_space)."""
    fraction = np.arange(1, n + 1) / n
    return -EAR_Q * MIN_BW + np.exp(fraction * (-np.log(f_hi + EAR_Q * MIN_BW) + np.log(f_lo + EAR_Q * MIN_BW))) * (
        f_hi + EAR_Q * MIN_BW)


def gammatone_coefficients(centre_freqs_hz: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """float64 [7, channels]: rows a1, a2, k1..k4, input scale (T**4 / gain at CF)."""
    cf = np.asarray(centre_freqs_hz, dtype=np.float64)
    t = 1.0 / sample_rate_hz
    erb = cf / EAR_Q + MIN_BW
    b = 1.019 * 2 * np.pi * erb
    arg = 2 * cf * np.pi * t
    vec = np.exp(2j * arg)
    a1 = -2 * np.cos(arg) / np.exp(b * t)
    a2 = np.exp(-2 * b * t)
    rt_pos, rt_neg = np.sqrt(3 + 2**1.5), np.sqrt(3 - 2**1.5)
    common = -t * np.exp(-(b * t))
    ks = [np.cos(arg) + rt_pos * np.sin(arg), np.cos(arg) - rt_pos * np.sin(arg),
          np.cos(arg) + rt_neg * np.sin(arg), np.cos(arg) - rt_neg * np.sin(arg)]
    gain_arg = np.exp(1j * arg - b * t)
    gain = np.abs((vec - gain_arg * ks[0]) * (vec - gain_arg * ks[1]) * (vec - gain_arg * ks[2])
                  * (vec - gain_arg * ks[3])
                  * (t * np.exp(b * t) / (-1 / np.exp(b * t) + 1 + vec * (1 - np.exp(b * t)))) ** 4)
    # numerator of section k is (T, common*k_k): divided by T it is (1, -exp(-bT)*k_k)
    rows = [a1, a2] + [common * k / t for k in ks] + [t**4 / gain]
    return np.array(rows, dtype=np.float64)


@njit(cache=True, fastmath=True, error_model="numpy")
def gammatone_filter(x, coefs, state, out):
    """Filter x [n] through every channel; out [n, channels] float32; state [8, channels]."""
    n = x.shape[0]
    m = coefs.shape[1]
    a1 = coefs[0].astype(np.float32)
    a2 = coefs[1].astype(np.float32)
    k1 = coefs[2].astype(np.float32)
    k2 = coefs[3].astype(np.float32)
    k3 = coefs[4].astype(np.float32)
    k4 = coefs[5].astype(np.float32)
    g = coefs[6].astype(np.float32)
    s = state.copy()
    guard = np.float32(DENORMAL_GUARD)
    for i in range(n):
        xi = x[i]
        row = out[i]
        for c in range(m):
            u = xi * g[c] + guard
            y = u + s[0, c]
            s[0, c] = k1[c] * u - a1[c] * y + s[1, c]
            s[1, c] = -a2[c] * y
            u = y
            y = u + s[2, c]
            s[2, c] = k2[c] * u - a1[c] * y + s[3, c]
            s[3, c] = -a2[c] * y
            u = y
            y = u + s[4, c]
            s[4, c] = k3[c] * u - a1[c] * y + s[5, c]
            s[5, c] = -a2[c] * y
            u = y
            y = u + s[6, c]
            s[6, c] = k4[c] * u - a1[c] * y + s[7, c]
            s[7, c] = -a2[c] * y
            row[c] = y
    state[:] = s


BLOCK = 64  # samples per pass: the [BLOCK, channels] scratch stays in L2


@njit(cache=True, fastmath=True, error_model="numpy")
def cochlea_run(x, coefs, params, state):
    """Gammatone -> hair cell -> spiking units, for x [n] float32.

    params float64: [compression exponent, AGC smoothing per sample (0 = off), AGC floor,
    unit kind (0 LIF, 1 threshold crossing), membrane decay per sample, threshold,
    refractory samples]. state float32 [11, channels]: 8 filter sections, AGC envelope,
    membrane (LIF) or previous drive (threshold units), refractory countdown. Returns the spikes as (sample index
    int64 [k], channel uint16 [k]), sorted by sample then channel. Works in blocks of BLOCK
    samples, one vectorisable pass per stage, so no branch sits inside a loop over channels.
    """
    n = x.shape[0]
    m = coefs.shape[1]
    expo = np.float32(params[0])
    agc = np.float32(params[1])
    floor = np.float32(params[2])
    kind = int(params[3])
    decay = np.float32(params[4])
    drive = np.float32(1.0) - decay
    theta = np.float32(params[5])
    refr = np.float32(params[6])
    one = np.float32(1.0)
    zero = np.float32(0.0)
    filt_state = state[:8].copy()
    env = state[8].copy()
    mem = state[9].copy()
    ref = state[10].copy()
    h = np.empty((BLOCK, m), np.float32)
    words_per_row = (m + 7) // 8
    flag_words = np.zeros(BLOCK * words_per_row, np.uint64)
    flags = flag_words.view(np.uint8).reshape((BLOCK, words_per_row * 8))
    cap = max(1024, n * m // 32)
    rows = np.empty(cap, np.int64)
    cols = np.empty(cap, np.uint16)
    k = 0
    for b0 in range(0, n, BLOCK):
        nb = min(BLOCK, n - b0)
        hb = h[:nb]
        gammatone_filter(x[b0:b0 + nb], coefs, filt_state, hb)
        # inner hair cell: half-wave rectification and power-law compression
        if expo == np.float32(0.5):
            for i in range(nb):
                for c in range(m):
                    hb[i, c] = np.sqrt(max(hb[i, c], zero))
        elif expo == np.float32(0.25):
            for i in range(nb):
                for c in range(m):
                    hb[i, c] = np.sqrt(np.sqrt(max(hb[i, c], zero)))
        elif expo == one:
            for i in range(nb):
                for c in range(m):
                    hb[i, c] = max(hb[i, c], zero)
        else:
            for i in range(nb):
                for c in range(m):
                    hb[i, c] = max(hb[i, c], zero) ** expo
        if agc > zero:
            for i in range(nb):
                for c in range(m):
                    e = env[c] + agc * (hb[i, c] - env[c])
                    env[c] = e
                    hb[i, c] = hb[i, c] / (e + floor)
        if kind == 0:
            for i in range(nb):
                row = flags[i]
                for c in range(m):
                    v = decay * mem[c] + drive * hb[i, c]
                    r = ref[c]
                    fire = (v >= theta) & (r <= zero)
                    mem[c] = zero if (fire | (r > zero)) else v
                    ref[c] = refr if fire else max(r - one, zero)
                    row[c] = np.uint8(fire)
        else:
            for i in range(nb):
                row = flags[i]
                for c in range(m):
                    v = hb[i, c]
                    r = ref[c]
                    fire = (v >= theta) & (mem[c] < theta) & (r <= zero)
                    mem[c] = v
                    ref[c] = refr if fire else max(r - one, zero)
                    row[c] = np.uint8(fire)
        # collect spikes, skipping eight silent channels per word test
        if k + nb * m > cap:
            cap = max(2 * cap, k + nb * m)
            rows2 = np.empty(cap, np.int64)
            cols2 = np.empty(cap, np.uint16)
            rows2[:k] = rows[:k]
            cols2[:k] = cols[:k]
            rows, cols = rows2, cols2
        for i in range(nb):
            base = i * words_per_row
            for w in range(words_per_row):
                if flag_words[base + w] != 0:
                    for c in range(w * 8, min(w * 8 + 8, m)):
                        if flags[i, c]:
                            rows[k] = b0 + i
                            cols[k] = c
                            k += 1
    state[:8] = filt_state
    state[8] = env
    state[9] = mem
    state[10] = ref
    return rows[:k].copy(), cols[:k].copy()
