"""Fast path of a linear population (LIF, IF, adaptive LIF) whose constants are the same
for every neuron: scalar coefficients coef[p, :N_COEF], one vectorised pass per step.

A pass (`pass_lif`, `pass_lif_input` when delayed input is pending, `pass_adaptive`) is
branch-free so that the compiler vectorises it (8 neurons per AVX-512 instruction): it
advances every neuron, writes a one-byte flag per neuron that crossed threshold (and is
not refractory) and returns how many did; `emit_spikes` then visits only the 8-neuron words
of flags that are not zero, skipping 64 neurons at a time where all are zero, resets those
neurons and appends them to the spike list in neuron order. At the usual rates (a few
spikes per step among thousands of neurons) that costs a few dozen word tests, so a step is
one streaming pass over the state (blocks with a count each, the earlier design, cost
~40 ns per block plus a scalar scan of every block that held a spike). The arithmetic is
`update_linear`'s expression in the same order, so both give bit-identical results.

Layout choices, each measured: the state rows come whole (rows of the network's state
array) and neurons lo..hi-1 are addressed with unsigned indices, because slicing a row per
step costs an atomic reference-count update on the shared buffer and a signed index a
negative-index fix-up that stops vectorisation; each function holds one loop and calls
nothing, because Numba keeps a reference-count update per array argument in functions with
calls under branches. The delivered input of this step is pending[in_e + j] /
pending[in_i + j] (the ring buffer, flat), cleared once read. flags: uint8 scratch of at
least the population size rounded up to 8; words: the same buffer viewed as uint64; flags
past the population may hold stale values and are never read.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def pass_lif(lo, hi, step, v, ie, ii, last, coef, p, flags):
    """LIF / IF without adaptation and without pending input; returns the threshold crossings."""
    a_m, drive, gain_e, gain_i = coef[p, 0], coef[p, 1], coef[p, 2], coef[p, 3]
    a_e, a_i, v_th = coef[p, 4], coef[p, 5], coef[p, 6]
    # step - last >= refractory, exact in float64 for integer steps
    free = step - coef[p, 8]
    ulo, uhi = np.uint64(lo), np.uint64(hi)
    crossed = 0
    for j in range(ulo, uhi):
        cur_e = ie[j]
        cur_i = ii[j]
        active = last[j] <= free
        moved = a_m * v[j] + drive + gain_e * cur_e + gain_i * cur_i
        vn = moved if active else v[j]
        v[j] = vn
        ie[j] = cur_e * a_e
        ii[j] = cur_i * a_i
        hit = (vn > v_th) & active
        flags[j - ulo] = hit
        crossed += hit
    return crossed


@njit(cache=True)
def pass_lif_input(lo, hi, step, v, ie, ii, last, coef, p, pending, in_e, in_i, flags):
    """pass_lif that first adds (and clears) the delayed input delivered for this step."""
    a_m, drive, gain_e, gain_i = coef[p, 0], coef[p, 1], coef[p, 2], coef[p, 3]
    a_e, a_i, v_th = coef[p, 4], coef[p, 5], coef[p, 6]
    free = step - coef[p, 8]
    ulo, uhi = np.uint64(lo), np.uint64(hi)
    u_e, u_i = np.uint64(in_e), np.uint64(in_i)
    crossed = 0
    for j in range(ulo, uhi):
        cur_e = ie[j] + pending[u_e + j]
        cur_i = ii[j] + pending[u_i + j]
        pending[u_e + j] = 0.0
        pending[u_i + j] = 0.0
        active = last[j] <= free
        moved = a_m * v[j] + drive + gain_e * cur_e + gain_i * cur_i
        vn = moved if active else v[j]
        v[j] = vn
        ie[j] = cur_e * a_e
        ii[j] = cur_i * a_i
        hit = (vn > v_th) & active
        flags[j - ulo] = hit
        crossed += hit
    return crossed


@njit(cache=True)
def pass_adaptive(lo, hi, step, v, ie, ii, last, theta, coef, p, pending, in_e, in_i, flags):
    """pass_lif_input with the adaptive threshold v_th + theta (theta decays by a_theta). It
    always reads the pending input: without delayed projections that slot holds zeros."""
    a_m, drive, gain_e, gain_i = coef[p, 0], coef[p, 1], coef[p, 2], coef[p, 3]
    a_e, a_i, v_th, a_theta = coef[p, 4], coef[p, 5], coef[p, 6], coef[p, 10]
    free = step - coef[p, 8]
    ulo, uhi = np.uint64(lo), np.uint64(hi)
    u_e, u_i = np.uint64(in_e), np.uint64(in_i)
    crossed = 0
    for j in range(ulo, uhi):
        cur_e = ie[j] + pending[u_e + j]
        cur_i = ii[j] + pending[u_i + j]
        pending[u_e + j] = 0.0
        pending[u_i + j] = 0.0
        active = last[j] <= free
        moved = a_m * v[j] + drive + gain_e * cur_e + gain_i * cur_i
        vn = moved if active else v[j]
        v[j] = vn
        ie[j] = cur_e * a_e
        ii[j] = cur_i * a_i
        th = theta[j] * a_theta
        theta[j] = th
        hit = (vn > v_th + th) & active
        flags[j - ulo] = hit
        crossed += hit
    return crossed


@njit(cache=True)
def emit_spikes(lo, hi, step, v, last, theta, coef, p, crossed, flags, words, spikes, n_spikes):
    """Reset the `crossed` neurons whose flags a pass set, in neuron order, and append them
    to spikes from position n_spikes; returns the new spike count."""
    v_th, v_reset, soft, beta = coef[p, 6], coef[p, 7], coef[p, 9], coef[p, 11]
    # theta is only touched with adaptation: for LIF its row stays cold (and 0)
    adaptive = coef[p, 10] != 1.0 or beta != 0.0
    n = np.uint64(hi - lo)
    n_words = (n + np.uint64(7)) // np.uint64(8)
    w = np.uint64(0)
    while crossed > 0:
        if w + np.uint64(8) <= n_words and (words[w] | words[w + np.uint64(1)] | words[w + np.uint64(2)]
                                            | words[w + np.uint64(3)] | words[w + np.uint64(4)]
                                            | words[w + np.uint64(5)] | words[w + np.uint64(6)]
                                            | words[w + np.uint64(7)]) == 0:
            w += np.uint64(8)
            continue
        if words[w] != 0:
            for j in range(np.uint64(8) * w, min(np.uint64(8) * w + np.uint64(8), n)):
                if flags[j]:
                    g = lo + np.int64(j)
                    if soft != 0.0:
                        v[g] -= v_th - v_reset
                    else:
                        v[g] = v_reset
                    if adaptive:
                        theta[g] += beta
                    last[g] = step
                    spikes[n_spikes] = g
                    n_spikes += 1
                    crossed -= 1
        w += np.uint64(1)
    return n_spikes
