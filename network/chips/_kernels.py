"""Numba step loops of the chip emulators (the plain-numpy twins are in reference.py).

Neurons of all populations share one global index; synapses are CSR by presynaptic neuron
with integer (fixed modes) or float (analog mode) effective weights and delays in steps. A
spike of step k through a synapse of delay d is felt at step k + 1 + d (Lava's Dense process
delivers one step late). Per step and neuron, in order: synaptic input, current update, voltage
update, threshold, reset.

Fixed-point modes (`mode`):
  0 Loihi: u = sgn(u*(D-du-ds)) (|u*(D-du-ds)| >> db) + in, wrapped to state bits;
           v = sgn(v*(D-dv)) (|v*(D-dv)| >> db) + u + bias, clipped; spike v > vth; v = 0
  1 bit-shift (Xylo): y = sat(u + in); u = y - (y >> du); v = sat(v - (v >> dv) + u + bias),
           where a positive state always loses at least 1 in the decay;
           spike v >= vth; v -= vth. The synaptic current decays after this step's input is
           added, as SynSense's xylosim.v2 (the simulator behind Rockpool's XyloSim) does;
           tests/chips/test_xylosim.py checks it bit for bit
  2 TrueNorth: v = sat(v + in); leak v toward 0 by |bias|; spike v >= vth; v = 0
"""

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _decay_mult(x, keep, shift):
    p = x * keep
    if p >= 0:
        return p >> shift
    return -((-p) >> shift)


@njit(cache=True)
def _shift_decay(x, d):
    """x - (x >> d), except that a positive x loses at least 1 (xylosim.v2 does this: a small
    positive state whose shift is 0 still decays, so it cannot stay stuck above zero)."""
    dec = x >> d
    if dec == 0 and x > 0:
        dec = 1
    return x - dec


@njit(cache=True)
def run_fixed(mode, k0, n_steps, first, du, dv, bias, vth, soft, refractory, ds_offset, decay_shift, state_max,
              indptr, post, weight, delay, in_ptr, in_neuron, u, v, ring, last,
              counts, active, rec_step, rec_neuron, trace_u, trace_v):
    """Advance n_steps; neurons below `first` are inputs driven by (in_ptr, in_neuron).
    Returns the number of recorded spikes (rec arrays must hold every spike)."""
    n = u.shape[0]
    depth = ring.shape[0]
    unity = np.int64(1) << decay_shift
    smax = state_max
    n_rec = 0
    trace = trace_u.shape[0] > 0
    for kk in range(n_steps):
        k = k0 + kk
        slot = k % depth
        row = ring[slot]
        # neuron updates
        for j in range(first, n):
            a = row[j]
            row[j] = 0
            if u[j] != 0 or v[j] != 0 or a != 0:
                active[j] += 1
            if mode == 0:
                uj = _decay_mult(u[j], unity - du[j] - ds_offset, decay_shift) + a
                if uj > smax:
                    uj -= 2 * smax
                elif uj <= -smax:
                    uj += 2 * smax
                u[j] = uj
            elif mode == 1:
                uj = min(max(u[j] + a, -smax), smax - 1)
                u[j] = _shift_decay(uj, du[j])
            else:
                u[j] = a
            if refractory[j] > 0 and k - last[j] <= refractory[j]:
                continue
            if mode == 0:
                vj = _decay_mult(v[j], unity - dv[j], decay_shift) + u[j] + bias[j]
                vj = min(max(vj, -smax + 1), smax - 1)
                fire = vj > vth[j]
            elif mode == 1:
                vj = _shift_decay(v[j], dv[j]) + u[j] + bias[j]
                vj = min(max(vj, -smax), smax - 1)
                fire = vj >= vth[j]
            else:
                vj = min(max(v[j] + u[j], -smax), smax - 1)
                leak = abs(bias[j])
                if vj > 0:
                    vj = max(vj - leak, 0)
                elif vj < 0:
                    vj = min(vj + leak, 0)
                fire = vj >= vth[j]
            if fire:
                vj = vj - vth[j] if soft[j] else 0
                last[j] = k
                counts[j] += 1
                rec_step[n_rec] = k
                rec_neuron[n_rec] = j
                n_rec += 1
                _propagate(j, k, depth, indptr, post, weight, delay, ring)
            v[j] = vj
        for e in range(in_ptr[kk], in_ptr[kk + 1]):
            i = in_neuron[e]
            counts[i] += 1
            _propagate(i, k, depth, indptr, post, weight, delay, ring)
        if trace:
            for j in range(n):
                trace_u[kk, j] = u[j]
                trace_v[kk, j] = v[j]
    return n_rec


@njit(cache=True, inline="always")
def _propagate(i, k, depth, indptr, post, weight, delay, ring):
    for s in range(indptr[i], indptr[i + 1]):
        ring[(k + 1 + delay[s]) % depth, post[s]] += weight[s]


@njit(cache=True)
def run_float(k0, n_steps, first, a_exc, a_inh, a_m, bias, vth, v_reset, soft, refractory,
              indptr, post, weight, delay, receptor, in_ptr, in_neuron, i_exc, i_inh, v, ring, last,
              counts, active, rec_step, rec_neuron):
    """Float CUBA LIF with separate excitatory and inhibitory currents (analog chips, and the
    float baseline): i = a i + in; v = a_m v + i_exc + i_inh + bias; spike v > vth; reset."""
    n = v.shape[0]
    depth = ring.shape[0]
    n_rec = 0
    for kk in range(n_steps):
        k = k0 + kk
        slot = k % depth
        for j in range(first, n):
            ae = ring[slot, 0, j]
            ai = ring[slot, 1, j]
            ring[slot, 0, j] = 0.0
            ring[slot, 1, j] = 0.0
            active[j] += 1
            i_exc[j] = a_exc[j] * i_exc[j] + ae
            i_inh[j] = a_inh[j] * i_inh[j] + ai
            if refractory[j] > 0 and k - last[j] <= refractory[j]:
                continue
            vj = a_m[j] * v[j] + i_exc[j] + i_inh[j] + bias[j]
            if vj > vth[j]:
                vj = vj - (vth[j] - v_reset[j]) if soft[j] else v_reset[j]
                last[j] = k
                counts[j] += 1
                rec_step[n_rec] = k
                rec_neuron[n_rec] = j
                n_rec += 1
                for s in range(indptr[j], indptr[j + 1]):
                    ring[(k + 1 + delay[s]) % depth, receptor[s], post[s]] += weight[s]
            v[j] = vj
        for e in range(in_ptr[kk], in_ptr[kk + 1]):
            i = in_neuron[e]
            counts[i] += 1
            for s in range(indptr[i], indptr[i + 1]):
                ring[(k + 1 + delay[s]) % depth, receptor[s], post[s]] += weight[s]
    return n_rec
