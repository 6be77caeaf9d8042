"""Readouts: feature values, scikit-learn API (check_estimator, Pipeline, GridSearchCV),
saved models, and the streaming / per-sample readout stages against the offline model."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

from network.readouts import (
    FilteredTraces,
    FirstSpikeTimes,
    LabelAssignmentReadout,
    MaxMembraneReadout,
    OnlineSoftmaxReadout,
    ReadoutModel,
    SpikeCounts,
    load_readout,
    make_readout,
    samples_from_chunks,
)
from network.readouts.stages import SampleReadout, StreamingReadout
from pipeline.chunks import EventChunk
from pipeline.events import make_events
from pipeline.testing import check_stage, payload, run_stage


def timing_task(n=120, seed=0):
    """Two classes with identical spike counts: class 0 fires neurons 0-3 early and 4-7 late,
    class 1 the other way round. Counts cannot tell them apart, timing can."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        c = i % 2
        early = np.arange(4) + 4 * c
        late = np.arange(4) + 4 * (1 - c)
        t = np.concatenate([rng.integers(0, 20_000, 4), rng.integers(60_000, 100_000, 4)])
        x = np.concatenate([early, late])
        order = np.argsort(t, kind="stable")
        X.append(make_events(t[order], x[order]))
        y.append(c)
    return X, np.array(y)


def test_feature_values():
    X = [make_events([0, 500, 900, 2_000], [1, 1, 0, 2]), make_events([], 0)]
    np.testing.assert_array_equal(SpikeCounts(n_neurons=3).fit_transform(X), [[1, 2, 1], [0, 0, 0]])
    np.testing.assert_array_equal(SpikeCounts(n_neurons=3, duration_us=1_000).fit_transform(X), [[1, 2, 0], [0, 0, 0]])
    first = FirstSpikeTimes(n_neurons=3, duration_us=1_000).fit_transform(X)
    np.testing.assert_allclose(first, [[0.1, 1.0, 0.0], [0, 0, 0]])
    # traces: compare the exact bin means with a fine numerical integration
    tr = FilteredTraces(n_neurons=3, duration_us=4_000, tau_ms=1.0, n_bins=4).fit_transform(X)
    grid = np.arange(0, 4_000, 0.5)
    for neuron in range(3):
        spikes = X[0]["t"][X[0]["x"] == neuron]
        trace = sum(np.where(grid >= s, np.exp(-(grid - s) / 1000.0), 0.0) for s in spikes)
        np.testing.assert_allclose(tr[0, neuron::3], trace.reshape(4, -1).mean(axis=1), rtol=2e-3, atol=1e-6)
    assert tr.shape == (2, 12) and not tr[1].any()
    with pytest.raises(ValueError, match="neuron 2"):
        SpikeCounts(n_neurons=2).fit(X)
    with pytest.raises(ValueError, match="sequence of per-sample event arrays"):
        SpikeCounts().fit(np.zeros((3, 4)))


@pytest.mark.parametrize("estimator", [LabelAssignmentReadout(), MaxMembraneReadout(random_state=0),
                                       OnlineSoftmaxReadout(random_state=0)],
                         ids=lambda e: type(e).__name__)
def test_check_estimator(estimator):
    failures = [r for r in check_estimator(estimator, on_fail=None) if r["status"] == "failed"]
    assert not failures, [(r["check_name"], str(r["exception"])[:200]) for r in failures]


def test_timing_needs_a_timing_readout_and_grid_search_works():
    X, y = timing_task()
    counts = cross_val_score(make_readout("counts", n_neurons=8), X, y, cv=3).mean()
    first = cross_val_score(make_readout("first_spike", n_neurons=8, duration_us=100_000), X, y, cv=3).mean()
    assert counts < 0.7 and first > 0.95
    search = GridSearchCV(make_readout("traces", n_neurons=8, duration_us=100_000),
                          {"features__n_bins": [1, 4], "features__tau_ms": [5.0, 20.0]}, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 4 and search.best_score_ > 0.95



def test_max_membrane_readout_learns_which_neurons_burst_whenever_they_do():
    rng = np.random.default_rng(4)
    X, y = [], np.arange(90) % 3
    for c in y:  # class c: a burst of neurons 3c..3c+2 at a random time, plus background
        onset = rng.integers(0, 80_000)
        t = np.concatenate([onset + rng.integers(0, 5_000, 6), rng.integers(0, 100_000, 6)])
        x = np.concatenate([3 * c + rng.integers(0, 3, 6), rng.integers(0, 9, 6)])
        order = np.argsort(t, kind="stable")
        X.append(make_events(t[order], x[order]))
    mm = make_pipeline(FilteredTraces(n_neurons=9, duration_us=100_000, tau_ms=5.0, n_bins=20),
                       MaxMembraneReadout(n_bins=20, random_state=0))
    assert cross_val_score(mm, X, y, cv=3).mean() > 0.9


def test_label_assignment_follows_diehl_and_cook():
    X = np.array([[5, 0, 1, 0], [4, 1, 0, 0], [0, 6, 2, 0], [1, 5, 3, 0]], float)
    y = np.array([7, 7, 9, 9])
    r = LabelAssignmentReadout().fit(X, y)
    assert r.assignments_.tolist() == [0, 1, 1, -1]  # silent neuron 3 unassigned
    np.testing.assert_allclose(r.class_scores([[2, 2, 4, 9]]), [[2.0, 3.0]])
    assert r.predict([[2, 2, 4, 9], [9, 0, 0, 0]]).tolist() == [9, 7]


def test_saved_model_round_trip_without_pickle(tmp_path):
    X, y = timing_task(60)
    for pipe in (make_readout("first_spike", n_neurons=8, duration_us=100_000),
                 make_pipeline(SpikeCounts(n_neurons=8), LabelAssignmentReadout()),
                 make_pipeline(FilteredTraces(n_neurons=8, duration_us=100_000, n_bins=3),
                               MaxMembraneReadout(n_bins=3, max_iter=50, random_state=0))):
        pipe.fit(X, y)
        path = ReadoutModel.from_estimator(pipe).save(tmp_path / "r.npz")
        model = load_readout(str(path))
        np.testing.assert_allclose(model.predict_proba(X), pipe.predict_proba(X), rtol=1e-9, atol=1e-12)
        assert model.predict(X).tolist() == pipe.predict(X).tolist()
        assert load_readout(model.to_spec()).predict(X).tolist() == pipe.predict(X).tolist()


def _replayed(X, y, span_us=100_000, gap_us=20_000, chunk_us=30_000):
    """Samples back to back on one stream with markers (the replay convention)."""
    chunks, t0 = [], 0
    for i, (ev, label) in enumerate(zip(X, y)):
        total = span_us + gap_us
        edges = list(range(0, total, chunk_us)) + [total]
        for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
            part = ev[(ev["t"] >= a) & (ev["t"] < b)].copy()
            part["t"] += t0
            meta = {"sample_id": str(i), "label": int(label)}
            if k == 0:
                meta["sample_start"] = True
            if b == total:
                meta["sample_end"] = True
            chunks.append(EventChunk(t_start=t0 + a, t_end=t0 + b, events=part, meta=meta))
        t0 += total
    return chunks


def test_sample_readout_stage_matches_the_offline_readout():
    X, y = timing_task(40, seed=1)
    pipe = make_readout("first_spike", n_neurons=8, duration_us=100_000).fit(*timing_task(80))
    chunks = _replayed(X, y)
    Xs, ys, ids = samples_from_chunks(chunks)
    assert ys.tolist() == y.tolist() and ids[3] == "3" and all(np.array_equal(a, b) for a, b in zip(Xs, X))
    stage = SampleReadout(model=ReadoutModel.from_estimator(pipe).to_spec())
    out = run_stage(stage, chunks)
    rows = payload(out)["values.values"]
    assert rows.shape == (40, 5) and len(out) == len(chunks)
    assert rows[:, 2].astype(int).tolist() == pipe.predict(X).tolist()
    np.testing.assert_allclose(rows[:, :2], pipe.predict_proba(X), rtol=1e-5)
    assert stage.result()["accuracy"] == pytest.approx(np.mean(pipe.predict(X) == y))
    assert all(bool(c.meta.get("sample_end")) == (c.values.shape[0] == 1) for c in out)


def test_streaming_readout_decides_any_time_and_is_chunking_invariant():
    X, y = timing_task(20, seed=2)
    pipe = make_readout("counts", n_neurons=8).fit(*timing_task(40))
    spec = ReadoutModel.from_estimator(pipe).to_spec()
    chunks = _replayed(X, y, gap_us=0)
    whole = check_stage(lambda: StreamingReadout(model=spec, window_us=50_000, period_us=10_000), chunks)
    p = payload(whole)
    assert p["values.times"].tolist() == list(range(10_000, 2_000_000, 10_000))
    # the decision at τ is the offline model applied to the spikes of [τ - 50 ms, τ)
    allev = np.concatenate([c.events for c in chunks])
    for k in (3, 57, 150):
        tau = int(p["values.times"][k])
        w = allev[(allev["t"] >= tau - 50_000) & (allev["t"] < tau)].copy()
        w["t"] -= tau - 50_000
        np.testing.assert_allclose(p["values.values"][k, :2], pipe.predict_proba([w])[0], rtol=1e-5)
    confident = StreamingReadout(model=spec, window_us=50_000, period_us=10_000, threshold=0.999)
    rows = payload(run_stage(confident, chunks))["values.values"]
    assert (rows[:, 2] == -1).any() and np.all((rows[:, 2] == -1) == (rows[:, 3] < 0.999))
