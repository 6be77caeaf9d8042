"""Reward-modulated STDP with eligibility traces (Izhikevich 2007, Cereb. Cortex 17:2443;
Florian 2007 "MSTDPET").

params (after the common header):
    [HEADER + 0] a_plus, [HEADER + 1] a_minus, [HEADER + 2] tau_plus_ms, [HEADER + 3] tau_minus_ms:
                 the STDP window that feeds the eligibility trace (not the weights)
    [HEADER + 4] tau_eligibility_ms  decay of the per-synapse eligibility c
    [HEADER + 5] learning_rate       dw = learning_rate * modulator * c, every step
Traces: pre_traces[:, 0], post_traces[:, 0] as pair STDP; eligibility[n_syn] holds c.

Per step: c decays; pre/post spikes add the pair-STDP window to c; then, where the reward
signal (modulator, e.g. reward minus its running mean) is non-zero, every synapse moves
by learning_rate * modulator * c. Cost per step is O(n_syn) for the eligibility decay.
"""

from numba import njit

from network.learning._common import H_LR, H_W_MAX, H_W_MIN, HEADER, clip, decay, decay_column, pre_of

A_PLUS = HEADER + 0
A_MINUS = HEADER + 1
TAU_PLUS = HEADER + 2
TAU_MINUS = HEADER + 3
TAU_ELIGIBILITY = HEADER + 4
LEARNING_RATE = HEADER + 5
N_PARAMS = HEADER + 6


@njit(cache=True)
def reward_stdp(params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
                pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces, post_traces,
                eligibility, modulator):
    decay_column(pre_traces, 0, decay(dt_ms, params[TAU_PLUS]))
    decay_column(post_traces, 0, decay(dt_ms, params[TAU_MINUS]))
    fade = decay(dt_ms, params[TAU_ELIGIBILITY])
    for s in range(eligibility.shape[0]):
        eligibility[s] *= fade
    a_minus = params[A_MINUS]
    a_plus = params[A_PLUS]
    for k in range(n_pre_spikes):
        i = pre_spikes[k]
        for s in range(indptr[i], indptr[i + 1]):
            eligibility[s] -= a_minus * post_traces[indices[s], 0]
        pre_traces[i, 0] += 1.0
    for k in range(n_post_spikes):
        j = post_spikes[k]
        for q in range(post_indptr[j], post_indptr[j + 1]):
            s = post_synapses[q]
            eligibility[s] += a_plus * pre_traces[pre_of(indptr, s), 0]
        post_traces[j, 0] += 1.0
    gain = params[H_LR] * params[LEARNING_RATE] * modulator
    if gain != 0.0:
        w_min = params[H_W_MIN]
        w_max = params[H_W_MAX]
        for s in range(weights.shape[0]):
            weights[s] = clip(weights[s] + gain * eligibility[s], w_min, w_max)
