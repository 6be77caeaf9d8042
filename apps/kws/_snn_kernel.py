"""Numba kernel of the keyword spotter's spiking layer: cochlear spikes -> LIF neurons."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def lif_layer_run(steps, channels, n_steps, w_in, decay_syn, decay_mem, threshold, state, hop_steps,
                  hop_phase, counts):
    """Advance the layer `n_steps` 1 ms steps; spike counts accumulate per hop.

    steps[k], channels[k]: step (0 .. n_steps-1) and input channel of input spike k (sorted).
    w_in [channels, neurons]; state [2, neurons] = synaptic current, membrane potential.
    hop_phase: steps already into the current hop at entry; counts [n_hops, neurons] gets the
    spikes of hop h = (hop_phase + step) // hop_steps. Current-based LIF, exact exponential
    decay, reset to zero.
    """
    n = w_in.shape[1]
    k = 0
    m = steps.shape[0]
    for s in range(n_steps):
        for j in range(n):
            state[0, j] *= decay_syn
        while k < m and steps[k] == s:
            c = channels[k]
            for j in range(n):
                state[0, j] += w_in[c, j]
            k += 1
        h = (hop_phase + s) // hop_steps
        for j in range(n):
            v = state[1, j] * decay_mem + state[0, j] * (1.0 - decay_mem)
            if v >= threshold[j]:
                v = 0.0
                counts[h, j] += 1
            state[1, j] = v
    return k


@njit(cache=True)
def window_features(counts, hops_per_bin, bins, out):
    """log1p spike counts of the last bins*hops_per_bin hops (ending at each hop), pooled in bins.

    counts [n_hops, neurons] (the first bins*hops_per_bin - 1 rows are history); out
    [n_hops - history, bins * neurons].
    """
    n = counts.shape[1]
    history = bins * hops_per_bin - 1
    for r in range(out.shape[0]):
        end = r + history  # window covers rows end - history .. end
        for b in range(bins):
            first = end - history + b * hops_per_bin
            for j in range(n):
                total = 0.0
                for q in range(hops_per_bin):
                    total += counts[first + q, j]
                out[r, b * n + j] = np.log1p(total)
