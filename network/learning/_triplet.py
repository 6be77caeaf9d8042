"""Triplet STDP (Pfister & Gerstner 2006, J. Neurosci. 26:9673, eqs. 2-4 and Table 4).

params (after the common header):
    [HEADER + 0] a2_plus   pair LTP amplitude
    [HEADER + 1] a3_plus   triplet LTP amplitude (post-pre-post)
    [HEADER + 2] a2_minus  pair LTD amplitude (positive)
    [HEADER + 3] a3_minus  triplet LTD amplitude (pre-post-pre; positive)
    [HEADER + 4] tau_plus_ms   r1 (presynaptic, pair)
    [HEADER + 5] tau_minus_ms  o1 (postsynaptic, pair)
    [HEADER + 6] tau_x_ms      r2 (presynaptic, triplet)
    [HEADER + 7] tau_y_ms      o2 (postsynaptic, triplet)
    [HEADER + 8] nearest       0 = all-to-all interaction, 1 = nearest-spike (traces saturate at 1)
Traces: pre_traces[:, 0] = r1, pre_traces[:, 1] = r2; post_traces[:, 0] = o1, post_traces[:, 1] = o2.

On a presynaptic spike: w -= o1 * (a2_minus + a3_minus * r2(t - ε)); then r1, r2 jump.
On a postsynaptic spike: w += r1 * (a2_plus + a3_plus * o2(t - ε)); then o1, o2 jump.
The triplet terms make potentiation grow with pairing frequency: at high rates o2 has not
decayed between post spikes, so LTP wins whatever the pairing order.
"""

from numba import njit

from network.learning._common import H_LR, H_W_MAX, H_W_MIN, HEADER, clip, decay, decay_column, pre_of
from network.learning._stdp import bump

A2_PLUS = HEADER + 0
A3_PLUS = HEADER + 1
A2_MINUS = HEADER + 2
A3_MINUS = HEADER + 3
TAU_PLUS = HEADER + 4
TAU_MINUS = HEADER + 5
TAU_X = HEADER + 6
TAU_Y = HEADER + 7
NEAREST = HEADER + 8
N_PARAMS = HEADER + 9


@njit(cache=True)
def triplet_stdp(params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
                 pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces, post_traces):
    w_min = params[H_W_MIN]
    w_max = params[H_W_MAX]
    lr = params[H_LR]
    nearest = params[NEAREST] != 0.0
    decay_column(pre_traces, 0, decay(dt_ms, params[TAU_PLUS]))
    decay_column(pre_traces, 1, decay(dt_ms, params[TAU_X]))
    decay_column(post_traces, 0, decay(dt_ms, params[TAU_MINUS]))
    decay_column(post_traces, 1, decay(dt_ms, params[TAU_Y]))
    for k in range(n_pre_spikes):
        i = pre_spikes[k]
        depress = lr * (params[A2_MINUS] + params[A3_MINUS] * pre_traces[i, 1])
        if depress != 0.0:
            for s in range(indptr[i], indptr[i + 1]):
                weights[s] = clip(weights[s] - depress * post_traces[indices[s], 0], w_min, w_max)
        bump(pre_traces, i, 0, nearest)
        bump(pre_traces, i, 1, nearest)
    for k in range(n_post_spikes):
        j = post_spikes[k]
        potentiate = lr * (params[A2_PLUS] + params[A3_PLUS] * post_traces[j, 1])
        if potentiate != 0.0:
            for q in range(post_indptr[j], post_indptr[j + 1]):
                s = post_synapses[q]
                weights[s] = clip(weights[s] + potentiate * pre_traces[pre_of(indptr, s), 0], w_min, w_max)
        bump(post_traces, j, 0, nearest)
        bump(post_traces, j, 1, nearest)
