"""Connectivity builders: each returns a Projection (CSR by pre) between two named populations.

Weights are a scalar, optionally with a Gaussian spread (`weight_std`); delays are
integer time steps, a scalar or a (low, high) range drawn uniformly per synapse. Every
random choice comes from `np.random.default_rng(seed)`, so a seed reproduces the network.
"""

from __future__ import annotations

import numpy as np

from network._connectivity_kernels import drop_diagonal, row_duplicates, sort_rows
from network.projections import Projection
from pipeline.errors import ConfigError


def _weights(rng: np.random.Generator, n: int, weight: float, weight_std: float) -> np.ndarray:
    w = np.full(n, float(weight))
    if weight_std > 0:
        w += rng.normal(0.0, weight_std, n)
    return w


def _delays(rng: np.random.Generator, n: int, delay: int | tuple[int, int]) -> int | np.ndarray:
    if isinstance(delay, (tuple, list)):
        low, high = int(delay[0]), int(delay[1])
        if not 0 <= low <= high:
            raise ConfigError(f"delay range must satisfy 0 <= low <= high, got {delay}")
        drawn = rng.integers(low, high + 1, n)
        # int16 is what the projection keeps; a range beyond it stays int64 for its error
        return drawn.astype(np.int16) if high <= np.iinfo(np.int16).max else drawn
    return int(delay)


def _from_pairs(pre: str, post: str, n_pre: int, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray,
                delays: int | np.ndarray, receptor: str, name: str) -> Projection:
    order = np.lexsort((cols, rows))
    rows, cols, weights = rows[order], cols[order], weights[order]
    if not isinstance(delays, int):
        delays = delays[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_pre))])
    return Projection(pre, post, indptr, cols, weights, delays, receptor, name)


def one_to_one(pre: str, post: str, n: int, weight: float = 1.0, delay: int = 0, receptor: str = "exc",
               name: str = "") -> Projection:
    """Neuron i -> neuron i."""
    idx = np.arange(n)
    return Projection(pre, post, np.arange(n + 1), idx, np.full(n, float(weight)), delay, receptor, name)


def all_to_all(pre: str, post: str, n_pre: int, n_post: int, weight: float = 1.0, weight_std: float = 0.0,
               delay: int | tuple[int, int] = 0, receptor: str = "exc", seed: int = 0, name: str = "",
               weights: np.ndarray | None = None) -> Projection:
    """Every pre to every post (dense); `weights` [n_pre, n_post] overrides weight/weight_std."""
    rng = np.random.default_rng(seed)
    n_syn = n_pre * n_post
    if weights is not None:
        w = np.asarray(weights, np.float64)
        if w.shape != (n_pre, n_post):
            raise ConfigError(f"all_to_all {pre}->{post}: weights shape {w.shape}, expected {(n_pre, n_post)}")
        w = w.ravel()
    else:
        w = _weights(rng, n_syn, weight, weight_std)
    indices = np.tile(np.arange(n_post), n_pre)
    return Projection(pre, post, np.arange(n_pre + 1) * n_post, indices, w, _delays(rng, n_syn, delay),
                      receptor, name)


def fixed_probability(pre: str, post: str, n_pre: int, n_post: int, p: float, weight: float = 1.0,
                      weight_std: float = 0.0, delay: int | tuple[int, int] = 0, receptor: str = "exc",
                      seed: int = 0, allow_self: bool = True, name: str = "") -> Projection:
    """Each pair connected independently with probability p (Bernoulli); `allow_self=False`
    skips i -> i (for recurrent projections of a population onto itself)."""
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"fixed_probability {pre}->{post}: p must be in [0, 1], got {p}")
    rng = np.random.default_rng(seed)
    indptr = np.concatenate([[0], np.cumsum(rng.binomial(n_post, p, n_pre))]).astype(np.int64)
    cols = _distinct_targets(rng, indptr, n_post)
    if not allow_self:
        indptr = drop_diagonal(indptr, cols)
        cols = cols[:indptr[-1]].copy()
    return _sorted_rows(pre, post, indptr, cols, rng, weight, weight_std, delay, receptor, name)


def fixed_fanout(pre: str, post: str, n_pre: int, n_post: int, fanout: int, weight: float = 1.0,
                 weight_std: float = 0.0, delay: int | tuple[int, int] = 0, receptor: str = "exc",
                 seed: int = 0, name: str = "") -> Projection:
    """Each pre neuron to exactly `fanout` distinct post neurons drawn at random."""
    if not 0 <= fanout <= n_post:
        raise ConfigError(f"fixed_fanout {pre}->{post}: fanout must be in 0..{n_post}, got {fanout}")
    rng = np.random.default_rng(seed)
    indptr = np.arange(n_pre + 1, dtype=np.int64) * fanout
    cols = _distinct_targets(rng, indptr, n_post)
    return _sorted_rows(pre, post, indptr, cols, rng, weight, weight_std, delay, receptor, name)


def _distinct_targets(rng: np.random.Generator, indptr: np.ndarray, n_post: int) -> np.ndarray:
    """A uniformly drawn post index (int32) per synapse of CSR rows `indptr`, redrawn until
    no row repeats a target (every row holds at most n_post synapses). The redraws go to the
    repeats in (row, column, position) order, as a global np.lexsort would list them."""
    cols = rng.integers(0, n_post, int(indptr[-1])).astype(np.int32)
    while cols.shape[0]:
        again = row_duplicates(indptr, cols)
        if not again.shape[0]:
            break
        cols[again] = rng.integers(0, n_post, again.shape[0])
    return cols


def _sorted_rows(pre: str, post: str, indptr: np.ndarray, cols: np.ndarray, rng: np.random.Generator,
                 weight: float, weight_std: float, delay: int | tuple[int, int], receptor: str,
                 name: str) -> Projection:
    """_from_pairs for synapses already grouped by row: weights and delays drawn, then each
    row sorted by column in place (the same order as _from_pairs' stable lexsort)."""
    n_syn = cols.shape[0]
    weights = _weights(rng, n_syn, weight, weight_std)
    delays = _delays(rng, n_syn, delay)
    sort_rows(indptr, cols, weights, np.zeros(0, np.int16) if isinstance(delays, int) else delays)
    return Projection(pre, post, indptr, cols, weights, delays, receptor, name)


def conv2d(pre: str, post: str, in_shape: tuple[int, int, int], kernels: np.ndarray, stride: int = 1,
           padding: int = 0, delay: int = 0, receptor: str = "exc", name: str = "") -> tuple[Projection, tuple]:
    """2-D convolution over a sensor grid (DVS input).

    in_shape = (channels, height, width) of the pre population (InputPopulation shape is
    (polarities, height, width)); kernels [out_channels, channels, kh, kw]. Post neuron
    (o, i, j) of an output map (out_channels, out_h, out_w) sums pre (c, i*stride + a -
    padding, j*stride + b - padding) weighted by kernels[o, c, a, b]. Returns the
    projection and the output shape; zero kernel entries are kept out of the synapses.
    """
    k = np.asarray(kernels, np.float64)
    if k.ndim != 4 or k.shape[1] != in_shape[0]:
        raise ConfigError(f"conv2d {pre}->{post}: kernels must be [out, {in_shape[0]}, kh, kw], got {k.shape}")
    c_in, h, w = in_shape
    n_out, _, kh, kw = k.shape
    out_h = (h + 2 * padding - kh) // stride + 1
    out_w = (w + 2 * padding - kw) // stride + 1
    if out_h <= 0 or out_w <= 0:
        raise ConfigError(f"conv2d {pre}->{post}: kernel {kh}x{kw} larger than the padded input {h}x{w}")
    o, c, a, b, i, j = np.meshgrid(np.arange(n_out), np.arange(c_in), np.arange(kh), np.arange(kw),
                                   np.arange(out_h), np.arange(out_w), indexing="ij")
    y = i * stride + a - padding
    x = j * stride + b - padding
    wv = k[o, c, a, b]
    keep = (y >= 0) & (y < h) & (x >= 0) & (x < w) & (wv != 0)
    rows = ((c * h + y) * w + x)[keep].astype(np.int64)
    cols = ((o * out_h + i) * out_w + j)[keep].astype(np.int64)
    proj = _from_pairs(pre, post, c_in * h * w, rows, cols, wv[keep], int(delay), receptor, name)
    return proj, (n_out, out_h, out_w)


def lateral_inhibition(pop: str, n: int, weight: float = -1.0, delay: int = 0, groups: int = 1,
                       name: str = "") -> Projection:
    """Winner-take-all: every neuron inhibits every other neuron of its group (the population
    split into `groups` equal consecutive blocks) through the inhibitory receptor."""
    if weight > 0:
        raise ConfigError(f"lateral_inhibition on {pop!r}: weight must be <= 0 (it inhibits), got {weight}")
    if groups <= 0 or n % groups:
        raise ConfigError(f"lateral_inhibition on {pop!r}: {n} neurons do not split into {groups} groups")
    size = n // groups
    idx = np.arange(n)
    rows = np.repeat(idx, size - 1)
    block = (idx // size) * size
    offsets = np.tile(np.arange(1, size), n)
    cols = block.repeat(size - 1) + (rows - block.repeat(size - 1) + offsets) % size
    return _from_pairs(pop, pop, n, rows, cols, np.full(rows.shape[0], float(weight)), int(delay), "inh",
                       name or f"{pop}-wta")
