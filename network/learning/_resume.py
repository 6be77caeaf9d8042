"""ReSuMe, remote supervised method (Ponulak 2005; Ponulak & Kasiński 2010, Neural Comput.
22:467, eq. 2.8): dw/dt = [S_d(t) - S_o(t)] * [a + ∫ W(s) S_in(t - s) ds], W(s) = A exp(-s/tau).

params (after the common header):
    [HEADER + 0] a             non-Hebbian term (speeds convergence; applies to every input)
    [HEADER + 1] a_window      amplitude A of the learning window W
    [HEADER + 2] tau_ms        learning window time constant
    [HEADER + 3] learning_rate scales both terms
Traces: pre_traces[:, 0] (tau_ms). teacher_spikes: the output neurons whose target train
has a spike in this step. A teacher spike potentiates, an actual output spike depresses,
so a neuron that already fires on target changes nothing.
"""

from numba import njit

from network.learning._common import H_LR, H_W_MAX, H_W_MIN, HEADER, clip, decay, decay_column, pre_of

A_NONHEBBIAN = HEADER + 0
A_WINDOW = HEADER + 1
TAU = HEADER + 2
LEARNING_RATE = HEADER + 3
N_PARAMS = HEADER + 4


@njit(cache=True)
def _apply(sign, j, params, indptr, post_indptr, post_synapses, weights, pre_traces):
    rate = sign * params[H_LR] * params[LEARNING_RATE]
    if rate == 0.0:
        return
    a = params[A_NONHEBBIAN]
    big_a = params[A_WINDOW]
    w_min = params[H_W_MIN]
    w_max = params[H_W_MAX]
    for q in range(post_indptr[j], post_indptr[j + 1]):
        s = post_synapses[q]
        weights[s] = clip(weights[s] + rate * (a + big_a * pre_traces[pre_of(indptr, s), 0]), w_min, w_max)


@njit(cache=True, inline="always")
def _contains(spikes, n, j):
    for k in range(n):
        if spikes[k] == j:
            return True
    return False


@njit(cache=True)
def resume(params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
           pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces,
           teacher_spikes, n_teacher_spikes):
    decay_column(pre_traces, 0, decay(dt_ms, params[TAU]))
    for k in range(n_pre_spikes):
        pre_traces[pre_spikes[k], 0] += 1.0
    # a neuron that fires in the step its teacher asks for is on target: the two terms cancel
    for k in range(n_teacher_spikes):
        if not _contains(post_spikes, n_post_spikes, teacher_spikes[k]):
            _apply(1.0, teacher_spikes[k], params, indptr, post_indptr, post_synapses, weights, pre_traces)
    for k in range(n_post_spikes):
        if not _contains(teacher_spikes, n_teacher_spikes, post_spikes[k]):
            _apply(-1.0, post_spikes[k], params, indptr, post_indptr, post_synapses, weights, pre_traces)
