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
"""

from numba import njit

RULE_NONE = 0


@njit(cache=True)
def apply_plasticity(rule_id, params, dt_ms, indptr, indices, post_indptr, post_synapses, weights,
                     pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, pre_traces, post_traces,
                     eligibility, modulator, teacher_spikes, n_teacher_spikes):
    if rule_id == RULE_NONE:
        return
