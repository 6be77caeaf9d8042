"""Numba kernels of the readout features."""

import numpy as np
from numba import njit


@njit(cache=True)
def trace_bins(sample, t, x, n_neurons, duration_us, tau_us, n_bins, out):
    """Mean over each of n_bins equal time bins of [0, duration_us) of every neuron's
    exponentially filtered spike train (a jump of 1 per spike decaying with tau_us),
    computed exactly: out[sample, bin * n_neurons + neuron] += ∫ over the bin / bin width."""
    width = duration_us / n_bins
    for k in range(t.shape[0]):
        ts = float(t[k])
        if ts < 0.0 or ts >= duration_us:
            continue
        first = int(ts / width)
        if first >= n_bins:
            first = n_bins - 1
        for b in range(first, n_bins):
            a = b * width
            e = a + width
            lo = ts if ts > a else a
            area = tau_us * (np.exp(-(lo - ts) / tau_us) - np.exp(-(e - ts) / tau_us))
            out[sample[k], b * n_neurons + x[k]] += area / width
            if (e - ts) > 40.0 * tau_us:
                break
