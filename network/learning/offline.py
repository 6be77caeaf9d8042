"""Run a learning rule on given spike rasters, without a network: the same kernel calls as
the engine's step loop, for tests, rule plots (STDP windows) and teaching examples."""

from __future__ import annotations

import numpy as np

from network.learning._kernels import replay_rasters
from network.learning.rules import Rule, make_rule
from pipeline.errors import ConfigError


def csr_from_mask(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, post_indptr, post_synapses) of the synapses where mask[pre, post] is True."""
    mask = np.asarray(mask, dtype=bool)
    pre, post = np.nonzero(mask)  # row-major: grouped by pre, synapse id = position
    indptr = np.zeros(mask.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(pre, minlength=mask.shape[0]), out=indptr[1:])
    post_synapses = np.argsort(post, kind="stable").astype(np.int64)
    post_indptr = np.zeros(mask.shape[1] + 1, np.int64)
    np.cumsum(np.bincount(post, minlength=mask.shape[1]), out=post_indptr[1:])
    return indptr, post.astype(np.int64), post_indptr, post_synapses


def plasticity_from_rasters(rule: Rule | dict | str, weights: np.ndarray, pre_raster: np.ndarray,
                            post_raster: np.ndarray, *, dt_ms: float = 1.0, teacher_raster: np.ndarray | None = None,
                            modulator: np.ndarray | float = 0.0, mask: np.ndarray | None = None) -> np.ndarray:
    """Weights [n_pre, n_post] after applying `rule` to spike rasters [steps, n_pre] / [steps, n_post].

    teacher_raster [steps, n_post] (ReSuMe) and modulator (scalar or [steps], R-STDP) are
    optional; mask selects the synapses present (default: all). Returns a new dense array
    (absent synapses keep their input value).
    """
    rule = make_rule(rule)
    weights = np.asarray(weights, dtype=np.float64)
    pre_raster = np.asarray(pre_raster, dtype=bool)
    post_raster = np.asarray(post_raster, dtype=bool)
    n_steps = pre_raster.shape[0]
    if weights.ndim != 2 or pre_raster.ndim != 2 or post_raster.ndim != 2:
        raise ConfigError("weights, pre_raster and post_raster must be 2-D")
    if pre_raster.shape[1] != weights.shape[0] or post_raster.shape[1] != weights.shape[1]:
        raise ConfigError(f"rasters {pre_raster.shape} / {post_raster.shape} do not match weights {weights.shape}")
    if post_raster.shape[0] != n_steps:
        raise ConfigError(f"pre raster has {n_steps} steps, post raster {post_raster.shape[0]}")
    teacher = np.zeros((n_steps, 0), bool) if teacher_raster is None else np.asarray(teacher_raster, bool)
    if teacher.shape[1] and teacher.shape != post_raster.shape:
        raise ConfigError(f"teacher raster {teacher.shape} must match the post raster {post_raster.shape}")
    mod = np.broadcast_to(np.asarray(modulator, np.float64), (n_steps,)).copy()
    mask = np.ones(weights.shape, bool) if mask is None else np.asarray(mask, bool)
    indptr, indices, post_indptr, post_synapses = csr_from_mask(mask)
    w = weights[mask].copy()
    pre_traces = np.zeros((weights.shape[0], 2))
    post_traces = np.zeros((weights.shape[1], 3))
    eligibility = np.zeros(w.shape[0])
    replay_rasters(rule.rule_id, rule.kernel_params(), float(dt_ms), indptr, indices, post_indptr, post_synapses,
                   w, pre_raster, post_raster, teacher, mod, pre_traces, post_traces, eligibility)
    out = weights.copy()
    out[mask] = w
    return out


def stdp_window(rule: Rule | dict | str, delays_ms: np.ndarray, *, dt_ms: float = 0.1,
                w0: float | None = None) -> np.ndarray:
    """Weight change of one synapse for one pre/post pair at each Δt = t_post - t_pre (ms)."""
    rule = make_rule(rule)
    delays = np.asarray(delays_ms, dtype=np.float64)
    start = w0 if w0 is not None else 0.5 * (rule.w_min + rule.w_max)
    out = np.empty(delays.shape[0])
    lead = 1 + int(np.ceil(np.abs(delays).max() / dt_ms)) if delays.size else 1
    for k, d in enumerate(delays):
        steps = int(round(d / dt_ms))
        pre = np.zeros((2 * lead + 1, 1), bool)
        post = np.zeros_like(pre)
        pre[lead, 0] = True
        post[lead + steps, 0] = True
        out[k] = plasticity_from_rasters(rule, [[start]], pre, post, dt_ms=dt_ms)[0, 0] - start
    return out
