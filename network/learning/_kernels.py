"""Plasticity kernels called by the network engine once per time step per plastic projection.

Contract between the engine (network/, which owns the step loop) and the learning rules
(network/learning/, which own this file). The engine calls, inside its Numba step loop:

    apply_plasticity(rule_id, params, dt_ms,
                     indptr, indices, post_indptr, post_synapses, weights,
                     pre_spikes, n_pre_spikes, post_spikes, n_post_spikes,
                     pre_traces, post_traces, eligibility,
                     modulator, teacher_spikes, n_teacher_spikes)

- rule_id: int64, one of the RULE_* constants; params: float64[:] (rule-specific layout,
  documented by the rule's module).
- indptr (int64[n_pre+1]), indices (int32/int64[n_syn], post index): the projection in CSR
  by presynaptic neuron; post_indptr (int64[n_post+1]) and post_synapses (int64[n_syn],
  synapse ids): the same synapses grouped by postsynaptic neuron. weights: float64[n_syn],
  updated in place (bounds are the rule's job).
- pre_spikes/post_spikes: int64 arrays whose first n_* entries are the neurons that spiked
  in this step. pre_traces (float64[n_pre, 2]), post_traces (float64[n_post, 3]) and
  eligibility (float64[n_syn]) are owned by the projection and persist between steps and
  chunks (so learning is chunking-invariant).
- modulator: float64, the current reward/dopamine signal (R-STDP); teacher_spikes: the
  output neurons the teacher makes spike in this step (ReSuMe).

Rules (ids below; parameter layouts in the rule modules, built by network.learning.rules):
RULE_STDP (_stdp.py: pair STDP, additive/multiplicative, all-to-all/nearest), RULE_TRIPLET
(_triplet.py), RULE_RSTDP (_rstdp.py), RULE_RESUME (_resume.py), RULE_BCM (_bcm.py),
RULE_NORMALIZE (homeostatic weight normalisation only). Every rule shares the params header
of _common.py (weight bounds, normalisation target, learning-rate scale: 0 switches learning
off at inference while traces keep running). Post-spike weight normalisation runs after any
rule whose header asks for it.
"""

import numpy as np
from numba import njit

from network.learning._bcm import bcm
from network.learning._common import normalize_spiking
from network.learning._resume import resume
from network.learning._rstdp import reward_stdp
from network.learning._stdp import pair_stdp
from network.learning._triplet import triplet_stdp

RULE_NONE = 0
RULE_STDP = 1
RULE_TRIPLET = 2
RULE_RSTDP = 3
RULE_RESUME = 4
RULE_BCM = 5
RULE_NORMALIZE = 6


@njit(cache=True)
def apply_plasticity(rule_id, params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
                     pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces, post_traces,
                     eligibility, modulator, teacher_spikes, n_teacher_spikes):
    if rule_id == RULE_NONE:
        return
    if rule_id == RULE_STDP:
        pair_stdp(params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
                  pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces, post_traces)
    elif rule_id == RULE_TRIPLET:
        triplet_stdp(params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
                     pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces, post_traces)
    elif rule_id == RULE_RSTDP:
        reward_stdp(params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
                    pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces, post_traces,
                    eligibility, modulator)
    elif rule_id == RULE_RESUME:
        resume(params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
               pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces,
               teacher_spikes, n_teacher_spikes)
    elif rule_id == RULE_BCM:
        bcm(params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
            pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces, post_traces)
    normalize_spiking(params, post_spikes, n_post_spikes, post_indptr, post_synapses, weights)


@njit(cache=True)
def replay_rasters(rule_id, params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
                   pre_raster, post_raster, teacher_raster, modulator, pre_traces, post_traces, eligibility):
    """Drive apply_plasticity from boolean spike rasters [steps, n] without a network (the
    same call sequence as the engine's step loop): used by tests and the STDP evaluations."""
    n_steps = pre_raster.shape[0]
    pre_spikes = np.empty(pre_raster.shape[1], np.int64)
    post_spikes = np.empty(post_raster.shape[1], np.int64)
    teacher_spikes = np.empty(teacher_raster.shape[1], np.int64)
    for t in range(n_steps):
        n_pre = 0
        for i in range(pre_raster.shape[1]):
            if pre_raster[t, i]:
                pre_spikes[n_pre] = i
                n_pre += 1
        n_post = 0
        for j in range(post_raster.shape[1]):
            if post_raster[t, j]:
                post_spikes[n_post] = j
                n_post += 1
        n_teacher = 0
        for j in range(teacher_raster.shape[1]):
            if teacher_raster[t, j]:
                teacher_spikes[n_teacher] = j
                n_teacher += 1
        apply_plasticity(rule_id, params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
                         pre_spikes, n_pre, post_spikes, n_post, pre_traces, post_traces,
                         eligibility, modulator[t], teacher_spikes, n_teacher)
