"""Flattening a Network for the kernel: every population and projection concatenated into
the arrays network/_kernels.py's run_steps takes (layout in that module's docstring).
Population state and projection weights / learning state become views into these arrays,
so both stay in sync."""

from __future__ import annotations

from typing import Any

import numpy as np

from network import _pending
from network.populations import MODEL_LINEAR, N_COEF, N_STATE
from network.projections import RECEPTORS
from pipeline.errors import ConfigError


def flatten(net: Any) -> dict[str, Any]:
    """The kernel's arrays for Network `net` (no input in flight)."""
    pops = list(net.populations.values())
    names = list(net.populations)
    if not pops:
        raise ConfigError("network: no populations")
    sizes = np.array([p.n for p in pops], np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    n = int(sizes.sum())
    state = np.zeros((N_STATE, n), np.float64)
    coef = np.zeros((N_COEF, n), np.float64)
    for p, lo in zip(pops, offsets):
        state[:, lo:lo + p.n] = p.state
        coef[:, lo:lo + p.n] = p.coefficients(net.dt_ms)
        p.state = state[:, lo:lo + p.n]
    index = {name: i for i, name in enumerate(names)}
    projs = net.projections
    depth = 1 + max([p.max_delay for p in projs], default=0)
    models = np.array([p.model_id for p in pops], np.int64)
    # linear populations whose constants are the same for every neuron run the scalar path
    uniform = np.array([m == MODEL_LINEAR and bool(np.all(coef[:, lo:lo + p.n] == coef[:, lo:lo + 1]))
                        for m, p, lo in zip(models, pops, offsets)], np.bool_)
    pop_coef = np.ascontiguousarray(np.stack([coef[:, lo] for lo in offsets]))
    f: dict[str, Any] = dict(pop_offset=offsets, pop_size=sizes, pop_model=models, pop_uniform=uniform,
                             pop_coef=pop_coef, state=state, coef=coef, use_ring=any(p.delay != 0 for p in projs),
                             **_pending.make(depth, n, any(p.delay != 0 for p in projs)))
    for p in projs:
        if p.rule_id != 0 and p.post_indptr.shape[0] != net.populations[p.post].n + 1:
            p.set_plasticity(p.rule_id, p.rule_params, net.populations[p.post].n)
    f["pj_pre"] = np.array([index[p.pre] for p in projs], np.int64)
    f["pj_post"] = np.array([index[p.post] for p in projs], np.int64)
    f["pj_receptor"] = np.array([RECEPTORS[p.receptor] for p in projs], np.int64)
    f["pj_delay"] = np.array([p.delay for p in projs], np.int64)
    f["pj_rule"] = np.array([p.rule_id for p in projs], np.int64)
    f["pj_indptr_off"] = _offsets([p.n_pre + 1 for p in projs])[:-1]
    f["pj_syn_off"] = _offsets([p.n_synapses for p in projs])[:-1]
    f["pj_delay_off"] = _offsets([p.delays.shape[0] for p in projs])[:-1]
    f["pj_params_off"] = _offsets([p.rule_params.shape[0] for p in projs])
    plastic = [p.rule_id != 0 for p in projs]
    f["pj_plastic_off"] = _offsets([p.n_synapses if pl else 0 for p, pl in zip(projs, plastic)])[:-1]
    f["pj_post_indptr_off"] = _offsets([p.post_indptr.shape[0] for p in projs])[:-1]
    f["pj_pre_trace_off"] = _offsets([p.pre_traces.shape[0] for p in projs])[:-1]
    f["pj_post_trace_off"] = _offsets([p.post_traces.shape[0] for p in projs])[:-1]
    # the synapse arrays of every projection become views into one array each, so a synapse
    # is stored once (indices 4 + weights 8 + per-synapse delay 2 bytes) and the copies of
    # each projection are freed as soon as they are copied
    f["indptr"] = _adopt(projs, "indptr", np.int64)
    f["indices"] = _adopt(projs, "indices", np.int32)
    f["weights"] = _adopt(projs, "weights", np.float64)
    f["delays"] = _adopt(projs, "delays", np.int16)
    f["rule_params"] = _cat([p.rule_params for p in projs], np.float64)
    f["post_indptr"] = _cat([p.post_indptr for p in projs], np.int64)
    f["post_synapses"] = _cat([p.post_synapses for p, pl in zip(projs, plastic) if pl], np.int64)
    f["eligibility"] = _cat([p.eligibility for p, pl in zip(projs, plastic) if pl], np.float64)
    f["pre_traces"] = _cat([p.pre_traces for p in projs], np.float64).reshape(-1, 2)
    f["post_traces"] = _cat([p.post_traces for p in projs], np.float64).reshape(-1, 3)
    for j, (p, pl) in enumerate(zip(projs, plastic)):
        ps = f["pj_plastic_off"][j]
        if pl:
            p.eligibility = f["eligibility"][ps:ps + p.n_synapses]
            a = f["pj_pre_trace_off"][j]
            p.pre_traces = f["pre_traces"][a:a + p.pre_traces.shape[0]]
            b = f["pj_post_trace_off"][j]
            p.post_traces = f["post_traces"][b:b + p.post_traces.shape[0]]
    rec = np.zeros(n, np.bool_)
    for name in set(net.outputs) | {m.population for m in net.spike_monitors}:
        i = index[name]
        rec[offsets[i]:offsets[i] + sizes[i]] = True
    f["rec_flag"] = rec
    f["n_rec_max"] = int(rec.sum())
    mon_neuron, mon_var = [], []
    for m in net.state_monitors:
        i = index[m.population]
        mon_neuron.append(offsets[i] + m.neurons)
        mon_var.append(np.full(m.neurons.shape[0], pops[i].variable(m.variable), np.int64))
    f["mon_neuron"] = _cat(mon_neuron, np.int64)
    f["mon_var"] = _cat(mon_var, np.int64)
    everies = {m.every for m in net.state_monitors}
    if len(everies) > 1:
        raise ConfigError(f"network: state monitors must share one sampling interval, got {sorted(everies)}")
    f["mon_every"] = everies.pop() if everies else 1
    f["index"] = index
    return f


def _offsets(sizes: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(sizes, np.int64))]).astype(np.int64)


def _cat(arrays: list[np.ndarray], dtype: Any) -> np.ndarray:
    if not arrays:
        return np.zeros(0, dtype)
    return np.ascontiguousarray(np.concatenate([np.asarray(a, dtype).ravel() for a in arrays]), dtype=dtype)


def _adopt(projs: list[Any], attr: str, dtype: Any) -> np.ndarray:
    """One array holding attribute `attr` of every projection in turn; each projection's
    attribute becomes its view into it."""
    flat = np.empty(sum(getattr(p, attr).shape[0] for p in projs), dtype)
    at = 0
    for p in projs:
        size = getattr(p, attr).shape[0]
        flat[at:at + size] = getattr(p, attr)
        setattr(p, attr, flat[at:at + size])
        at += size
    return flat
