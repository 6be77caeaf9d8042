"""Liquid-state machine: the recurrent reservoir carries memory a readout can use."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score

from network.readouts.model import make_readout
from network.reservoir import SpikingReservoir, liquid_state_machine
from pipeline.events import make_events

DURATION_US = 80_000


def _order_task(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Group A fires then group B (label 0), or B then A (label 1): the same neurons at the
    same rates, so spike counts of the input alone cannot tell the classes apart."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = []
    for label in y:
        a, b = np.arange(0, 10), np.arange(10, 20)
        ts, xs = [], []
        for group, t0 in (((a, 0), (b, 30_000)) if label == 0 else ((b, 0), (a, 30_000))):
            for x in group:
                k = rng.poisson(3)
                ts.append(t0 + rng.integers(0, 30_000, k))
                xs.append(np.full(k, x))
        t, x = np.concatenate(ts), np.concatenate(xs)
        order = np.argsort(t, kind="stable")
        X.append(make_events(t[order].astype(np.int64), x[order]))
    return X, y


def test_recurrent_reservoir_remembers_order_that_counts_cannot_see():
    X, y = _order_task(200)
    lsm = liquid_state_machine(20, 200, duration_us=DURATION_US).fit(X[:150], y[:150])
    with_memory = lsm.score(X[150:], y[150:])
    flat = liquid_state_machine(20, 200, reservoir={"recurrent_p": 0.0}, duration_us=DURATION_US)
    without = flat.fit(X[:150], y[:150]).score(X[150:], y[150:])
    inputs_only = make_readout("counts", n_neurons=20, duration_us=DURATION_US).fit(X[:150], y[:150])
    assert with_memory >= 0.9, with_memory
    assert without <= 0.8 and inputs_only.score(X[150:], y[150:]) <= 0.75
    assert cross_val_score(liquid_state_machine(20, 200, duration_us=DURATION_US), X[:100], y[:100], cv=2).mean() > 0.85


def test_samples_are_independent_and_reproducible():
    X, _ = _order_task(4, seed=3)
    res = SpikingReservoir(20, 100, seed=5).fit(X)
    together = res.transform(X)
    alone = [res.transform([x])[0] for x in reversed(X)][::-1]
    again = SpikingReservoir(20, 100, seed=5).fit(X).transform(X)
    for a, b, c in zip(together, alone, again):
        assert a.shape[0] > 0
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        assert a["x"].max() < 100 and a["t"].max() < 30_000 + 30_000 + 20_000  # last input + tail


def test_dale_law_and_bad_input():
    res = SpikingReservoir(20, 100, inhibitory_fraction=0.25).fit([])
    projections = {p.name: p for p in res.network_.projections}
    exc, inh = projections["reservoir-exc"], projections["reservoir-inh"]
    assert np.all(exc.weights > 0) and np.all(inh.weights < 0)
    pre_inh = np.unique(np.repeat(np.arange(100), np.diff(inh.indptr))[:inh.weights.shape[0]])
    pre_exc = np.unique(np.repeat(np.arange(100), np.diff(exc.indptr)))
    assert 20 <= pre_inh.size <= 25 and not set(pre_inh) & set(pre_exc)
    with pytest.raises(ValueError, match="sample 0 has an input x >= n_inputs=20"):
        res.transform([make_events(np.array([5]), np.array([20]))])
