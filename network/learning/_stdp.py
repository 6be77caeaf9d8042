"""Pair-based STDP with traces (Song, Miller & Abbott 2000; Morrison, Diesmann & Gerstner 2008).

params (after the common header, see _common.py):
    [HEADER + 0] a_plus      LTP amplitude (weight units)
    [HEADER + 1] a_minus     LTD amplitude (weight units, positive)
    [HEADER + 2] tau_plus_ms  presynaptic trace time constant (LTP side of the window)
    [HEADER + 3] tau_minus_ms postsynaptic trace time constant (LTD side)
    [HEADER + 4] mu          weight dependence: 0 = additive with hard bounds, 1 =
                             multiplicative (soft bounds, van Rossum et al. 2000), between:
                             Gütig et al. 2003: LTP * ((w_max-w)/range)^mu, LTD * ((w-w_min)/range)^mu
    [HEADER + 5] nearest     0 = all-to-all (traces add 1 per spike), 1 = nearest-spike (traces
                             reset to 1, so only the latest spike of the other side counts)
Traces: pre_traces[:, 0] (tau_plus), post_traces[:, 0] (tau_minus).

Within one step presynaptic spikes are handled before postsynaptic ones, so a pre and a
post spike in the same step count as Δt = 0 -> LTP of a_plus (Brian2's on_pre/on_post order).
The window, for Δt = t_post - t_pre on the step grid, is exactly
Δw = a_plus * exp(-Δt/tau_plus) (Δt >= 0) and -a_minus * exp(Δt/tau_minus) (Δt < 0).
"""

from numba import njit

from network.learning._common import H_LR, H_W_MAX, H_W_MIN, HEADER, clip, decay, decay_column, pre_of

A_PLUS = HEADER + 0
A_MINUS = HEADER + 1
TAU_PLUS = HEADER + 2
TAU_MINUS = HEADER + 3
MU = HEADER + 4
NEAREST = HEADER + 5
N_PARAMS = HEADER + 6


@njit(cache=True, inline="always")
def bump(traces, row, column, nearest):
    if nearest:
        traces[row, column] = 1.0
    else:
        traces[row, column] += 1.0


@njit(cache=True, inline="always")
def soft_ltp(w, w_min, w_max, mu):
    if mu == 0.0:
        return 1.0
    span = w_max - w_min
    frac = (w_max - w) / span if span > 0.0 else 0.0
    return frac ** mu if frac > 0.0 else 0.0


@njit(cache=True, inline="always")
def soft_ltd(w, w_min, w_max, mu):
    if mu == 0.0:
        return 1.0
    span = w_max - w_min
    frac = (w - w_min) / span if span > 0.0 else 0.0
    return frac ** mu if frac > 0.0 else 0.0


@njit(cache=True)
def pair_stdp(params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
              pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces, post_traces):
    w_min = params[H_W_MIN]
    w_max = params[H_W_MAX]
    lr = params[H_LR]
    a_plus = params[A_PLUS] * lr
    a_minus = params[A_MINUS] * lr
    mu = params[MU]
    nearest = params[NEAREST] != 0.0
    decay_column(pre_traces, 0, decay(dt_ms, params[TAU_PLUS]))
    decay_column(post_traces, 0, decay(dt_ms, params[TAU_MINUS]))
    for k in range(n_pre_spikes):
        i = pre_spikes[k]
        if a_minus != 0.0:
            for s in range(indptr[i], indptr[i + 1]):
                w = weights[s]
                w -= a_minus * post_traces[indices[s], 0] * soft_ltd(w, w_min, w_max, mu)
                weights[s] = clip(w, w_min, w_max)
        bump(pre_traces, i, 0, nearest)
    for k in range(n_post_spikes):
        j = post_spikes[k]
        if a_plus != 0.0:
            for q in range(post_indptr[j], post_indptr[j + 1]):
                s = post_synapses[q]
                w = weights[s]
                w += a_plus * pre_traces[pre_of(indptr, s), 0] * soft_ltp(w, w_min, w_max, mu)
                weights[s] = clip(w, w_min, w_max)
        bump(post_traces, j, 0, nearest)
