"""Spike-based BCM (Bienenstock, Cooper & Munro 1982; spike form after Izhikevich & Desai 2003).

params (after the common header):
    [HEADER + 0] learning_rate
    [HEADER + 1] tau_pre_ms      presynaptic rate estimate
    [HEADER + 2] tau_post_ms     postsynaptic rate estimate y
    [HEADER + 3] tau_theta_ms    slow average ȳ of y that sets the sliding threshold
    [HEADER + 4] target_rate_hz  y0 in θ = ȳ² / y0
Traces, all in Hz: pre_traces[:, 0] = x (jump 1000/tau_pre per spike), post_traces[:, 0] = y,
post_traces[:, 1] = ȳ. On a postsynaptic spike of j every input i moves by
learning_rate * x_i * (y_j - θ_j); averaged over post spikes (rate y) that is
dw/dt ∝ x y (y - θ), the BCM curve with its threshold sliding as ȳ².
"""

from numba import njit

from network.learning._common import H_LR, H_W_MAX, H_W_MIN, HEADER, clip, decay, decay_column, pre_of

LEARNING_RATE = HEADER + 0
TAU_PRE = HEADER + 1
TAU_POST = HEADER + 2
TAU_THETA = HEADER + 3
TARGET_RATE = HEADER + 4
N_PARAMS = HEADER + 5


@njit(cache=True)
def bcm(params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
        pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces, post_traces):
    decay_column(pre_traces, 0, decay(dt_ms, params[TAU_PRE]))
    decay_column(post_traces, 0, decay(dt_ms, params[TAU_POST]))
    follow = 1.0 - decay(dt_ms, params[TAU_THETA])
    for j in range(post_traces.shape[0]):
        post_traces[j, 1] += (post_traces[j, 0] - post_traces[j, 1]) * follow
    for k in range(n_pre_spikes):
        pre_traces[pre_spikes[k], 0] += 1000.0 / params[TAU_PRE]
    rate = params[H_LR] * params[LEARNING_RATE]
    w_min = params[H_W_MIN]
    w_max = params[H_W_MAX]
    y0 = params[TARGET_RATE]
    for k in range(n_post_spikes):
        j = post_spikes[k]
        theta = post_traces[j, 1] * post_traces[j, 1] / y0
        drive = rate * (post_traces[j, 0] - theta)
        if drive != 0.0:
            for q in range(post_indptr[j], post_indptr[j + 1]):
                s = post_synapses[q]
                weights[s] = clip(weights[s] + drive * pre_traces[pre_of(indptr, s), 0], w_min, w_max)
        post_traces[j, 0] += 1000.0 / params[TAU_POST]
