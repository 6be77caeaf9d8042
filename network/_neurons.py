"""Numba updates of one time step for each neuron model (see network/populations.py).

Each function first adds the synaptic input delivered for this step (in_e, in_i: the
ring-buffer slot, which it clears), advances neurons lo..hi-1 by one step, appends the global index of every
neuron that spiked to `spikes` from position `n_spikes`, and returns the new count.
state rows: 0 v, 1 I_exc, 2 I_inh, 3 last spike step, 4.. model extras; coef rows are
the per-neuron constants computed by the population's `coefficients(dt_ms)`.

The fast path of a linear population whose constants are the same for every neuron (the
usual case) is `update_linear_uniform` in network/_linear_uniform.py.
"""

import math

from numba import njit


@njit(cache=True)
def update_linear(lo, hi, step, state, coef, spikes, n_spikes, in_e, in_i):
    """LIF / IF / adaptive LIF: exact propagator of a linear system (Brian2 method='exact').

    Two passes over slices indexed from 0 (so the compiler sees no negative index and
    vectorises the first): the branch-free update, then the (rare) spikes."""
    v = state[0, lo:hi]
    ie = state[1, lo:hi]
    ii = state[2, lo:hi]
    last = state[3, lo:hi]
    theta = state[4, lo:hi]
    a_m = coef[0, lo:hi]
    drive = coef[1, lo:hi]
    gain_e = coef[2, lo:hi]
    gain_i = coef[3, lo:hi]
    a_e = coef[4, lo:hi]
    a_i = coef[5, lo:hi]
    v_th = coef[6, lo:hi]
    v_reset = coef[7, lo:hi]
    refractory = coef[8, lo:hi]
    soft = coef[9, lo:hi]
    a_theta = coef[10, lo:hi]
    beta = coef[11, lo:hi]
    put_e = in_e[lo:hi]
    put_i = in_i[lo:hi]
    for j in range(hi - lo):
        cur_e = ie[j] + put_e[j]
        cur_i = ii[j] + put_i[j]
        put_e[j] = 0.0
        put_i[j] = 0.0
        moved = a_m[j] * v[j] + drive[j] + gain_e[j] * cur_e + gain_i[j] * cur_i
        v[j] = moved if step - last[j] >= refractory[j] else v[j]
        ie[j] = cur_e * a_e[j]
        ii[j] = cur_i * a_i[j]
        theta[j] *= a_theta[j]
    for j in range(hi - lo):
        if v[j] > v_th[j] + theta[j] and step - last[j] >= refractory[j]:
            if soft[j] != 0.0:
                v[j] -= v_th[j] - v_reset[j]
            else:
                v[j] = v_reset[j]
            theta[j] += beta[j]
            last[j] = step
            spikes[n_spikes] = lo + j
            n_spikes += 1
    return n_spikes


@njit(cache=True)
def update_izhikevich(lo, hi, step, state, coef, spikes, n_spikes, in_e, in_i):
    """Izhikevich, forward Euler on every variable from the old values (Brian2 method='euler')."""
    v = state[0]
    ie = state[1]
    ii = state[2]
    last = state[3]
    u = state[4]
    for j in range(lo, hi):
        ie[j] += in_e[j]
        ii[j] += in_i[j]
        in_e[j] = 0.0
        in_i[j] = 0.0
        dt = coef[8, j]
        vj = v[j]
        dv = 0.04 * vj * vj + 5.0 * vj + 140.0 - u[j] + coef[7, j] + ie[j] + ii[j]
        du = coef[0, j] * (coef[1, j] * vj - u[j])
        v[j] = vj + dt * dv
        u[j] += dt * du
        ie[j] *= coef[4, j]
        ii[j] *= coef[5, j]
        if v[j] >= coef[6, j]:
            v[j] = coef[2, j]
            u[j] += coef[3, j]
            last[j] = step
            spikes[n_spikes] = j
            n_spikes += 1
    return n_spikes


@njit(cache=True, inline="always")
def _exprel(x):
    if abs(x) < 1e-8:
        return 1.0 + 0.5 * x
    return math.expm1(x) / x


@njit(cache=True, inline="always")
def _exp_euler(x, a, b, dt):
    """One exponential-Euler step of dx/dt = a + b x (b < 0 for the gates and the membrane)."""
    if b == 0.0:
        return x + a * dt
    return -a / b + (x + a / b) * math.exp(b * dt)


@njit(cache=True)
def update_hodgkin_huxley(lo, hi, step, state, coef, spikes, n_spikes, in_e, in_i, dt):
    """Traub-Miles Hodgkin-Huxley by exponential Euler (Brian2 method='exponential_euler'):
    each variable is linear in itself given the others' old values."""
    v = state[0]
    ie = state[1]
    ii = state[2]
    last = state[3]
    m = state[4]
    h = state[5]
    n = state[6]
    for j in range(lo, hi):
        ie[j] += in_e[j]
        ii[j] += in_i[j]
        in_e[j] = 0.0
        in_i[j] = 0.0
        c_m, g_na, g_k, g_l = coef[0, j], coef[1, j], coef[2, j], coef[3, j]
        e_na, e_k, e_l, v_t = coef[4, j], coef[5, j], coef[6, j], coef[7, j]
        vj, mj, hj, nj = v[j], m[j], h[j], n[j]
        alpha_m = 0.32 * 4.0 / _exprel((13.0 - vj + v_t) / 4.0)
        beta_m = 0.28 * 5.0 / _exprel((vj - v_t - 40.0) / 5.0)
        alpha_h = 0.128 * math.exp((17.0 - vj + v_t) / 18.0)
        beta_h = 4.0 / (1.0 + math.exp((40.0 - vj + v_t) / 5.0))
        alpha_n = 0.032 * 5.0 / _exprel((15.0 - vj + v_t) / 5.0)
        beta_n = 0.5 * math.exp((10.0 - vj + v_t) / 40.0)
        g_na_open = g_na * mj * mj * mj * hj
        g_k_open = g_k * nj * nj * nj * nj
        a_v = (g_l * e_l + g_na_open * e_na + g_k_open * e_k + coef[9, j] + ie[j] + ii[j]) / c_m
        b_v = -(g_l + g_na_open + g_k_open) / c_m
        v[j] = _exp_euler(vj, a_v, b_v, dt)
        m[j] = _exp_euler(mj, alpha_m, -(alpha_m + beta_m), dt)
        h[j] = _exp_euler(hj, alpha_h, -(alpha_h + beta_h), dt)
        n[j] = _exp_euler(nj, alpha_n, -(alpha_n + beta_n), dt)
        ie[j] *= coef[10, j]
        ii[j] *= coef[11, j]
        if v[j] > coef[8, j] and vj <= coef[8, j]:
            last[j] = step
            spikes[n_spikes] = j
            n_spikes += 1
    return n_spikes
