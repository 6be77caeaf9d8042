"""Numba kernels of the keyword spotter: the spiking layer (cochlear spikes -> LIF neurons),
word endpointing over hop levels and the per-word spike-rate features."""

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
def endpoint_run(levels, first_hop, params, state, out):
    """Energy endpointing over hop levels; returns how many words ended (rows of out).

    levels [n] (dBFS) of hops first_hop, first_hop + 1, ...; params = (speech_db,
    hangover hops, min hops, max hops, floor rise and fall coefficients per hop, silence_db);
    state [6] = (noise floor dB, floor known, in a word, first loud hop, last loud hop,
    quietest level since the first loud hop), carried across calls; out [n, 3] gets
    (first hop, end hop (exclusive), hop at whose end the word was declared over).
    """
    speech_db, hangover, min_hops, max_hops = params[0], params[1], params[2], params[3]
    rise, fall, silence_db = params[4], params[5], params[6]
    k = 0
    for i in range(levels.shape[0]):
        hop = first_hop + i
        level = levels[i]
        if level > silence_db:  # digital silence (a muted or idle input) says nothing about the room
            if state[1] == 0.0:
                state[0] = level
                state[1] = 1.0
            elif level < state[0]:
                state[0] += fall * (level - state[0])
            else:
                state[0] += rise * (level - state[0])
        if state[2] == 1.0:
            state[5] = min(state[5], level)
        if state[1] == 1.0 and level > state[0] + speech_db:
            if state[2] == 0.0:
                state[2] = 1.0
                state[3] = hop
                state[5] = level
            state[4] = hop
            if hop - state[3] + 1 > max_hops:
                # too long for a word: the noise got louder; its quietest hop is the new floor
                state[0] = state[5]
                state[2] = 0.0
        elif state[2] == 1.0 and hop - state[4] >= hangover:
            state[2] = 0.0
            if state[4] + 1 - state[3] >= min_hops:
                out[k, 0] = state[3]
                out[k, 1] = state[4] + 1
                out[k, 2] = hop
                k += 1
    return k


@njit(cache=True)
def word_features(counts, start, end, bins, rate_scale, out):
    """log1p(spike rate * rate_scale) of each neuron in `bins` equal parts of rows
    [start, end) of counts [hops, neurons] (spikes per hop); a row straddling two parts
    counts in each by its overlap, so the features vary smoothly with the word's span.
    out [bins * neurons], bin-major."""
    n = counts.shape[1]
    width = (end - start) / bins
    for b in range(bins):
        lo = start + b * width
        hi = lo + width
        acc = np.zeros(n)
        r = int(np.floor(lo))
        while r < hi:
            w = min(hi, r + 1.0) - max(lo, float(r))
            if w > 0.0:
                for j in range(n):
                    acc[j] += w * counts[r, j]
            r += 1
        for j in range(n):
            out[b * n + j] = np.log1p(acc[j] / width * rate_scale)
