"""Pieces shared by the rule kernels: the params header, trace decay, bounds, normalisation.

Every rule's params array starts with the same header (indices H_*), then its own fields
from index HEADER onwards (documented in the rule's module and in rules.py):

    params[H_W_MIN]   lower weight bound
    params[H_W_MAX]   upper weight bound
    params[H_NORM]    homeostatic weight normalisation: after a postsynaptic neuron spikes,
                      its incoming weights are rescaled to sum to this value (0 = off)
    params[H_LR]      learning-rate scale (1 = as configured, 0 = learning off; traces still
                      run so switching learning back on is seamless)
"""

import numpy as np
from numba import njit

H_W_MIN = 0
H_W_MAX = 1
H_NORM = 2
H_LR = 3
HEADER = 4


@njit(cache=True, inline="always")
def decay(dt_ms, tau_ms):
    """Exact per-step decay factor of an exponential trace (exp(-dt/tau); 0 for tau <= 0)."""
    if tau_ms <= 0.0:
        return 0.0
    return np.exp(-dt_ms / tau_ms)


@njit(cache=True)
def decay_column(traces, column, factor):
    for i in range(traces.shape[0]):
        traces[i, column] *= factor


@njit(cache=True, inline="always")
def clip(w, w_min, w_max):
    if w < w_min:
        return w_min
    if w > w_max:
        return w_max
    return w


@njit(cache=True, inline="always")
def pre_of(indptr, synapse):
    """The presynaptic neuron of a synapse id (binary search in the by-pre CSR indptr)."""
    lo = 0
    hi = indptr.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if indptr[mid] <= synapse:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True)
def normalize_incoming(post, target, post_indptr, post_synapses, weights, w_min, w_max):
    """Scale the incoming weights of `post` so that they sum to `target` (Diehl & Cook 2015)."""
    total = 0.0
    for k in range(post_indptr[post], post_indptr[post + 1]):
        total += weights[post_synapses[k]]
    if total <= 0.0:
        return
    scale = target / total
    for k in range(post_indptr[post], post_indptr[post + 1]):
        s = post_synapses[k]
        weights[s] = clip(weights[s] * scale, w_min, w_max)


@njit(cache=True)
def normalize_spiking(params, post_spikes, n_post_spikes, post_indptr, post_synapses, weights):
    target = params[H_NORM]
    if target <= 0.0 or params[H_LR] == 0.0:
        return
    for k in range(n_post_spikes):
        normalize_incoming(post_spikes[k], target, post_indptr, post_synapses, weights,
                           params[H_W_MIN], params[H_W_MAX])
