"""CartPole controller: learning beats the untrained network, save/load reproduces, the fast
path matches the stages, the ZeroMQ plant-process loop runs and reports its timing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apps.robot.controller import CartPoleController
from apps.robot.train import run_episodes
from pipeline.errors import ConfigError

pytest.importorskip("gymnasium")


def test_fields_code_the_state_and_latency_falls_with_activation():
    ctl = CartPoleController(learning=False)
    phi = ctl.activations(np.array([0.0, 0.0, 0.2, -2.9]))
    n = ctl.params["neurons"]
    assert phi.shape == (4 * n,)
    low = ctl.activations(np.array([0.0, 0.0, -0.2, 2.9]))
    assert np.argmax(phi[2 * n:3 * n]) >= n - 2 and np.argmax(low[2 * n:3 * n]) <= 1
    assert np.argmax(phi[3 * n:]) <= 1 and np.argmax(low[3 * n:]) >= n - 2
    steps, fields = ctl.input_spikes(phi)
    assert np.all(np.diff(steps) >= 0)
    strongest = int(np.argmax(phi))
    assert steps[list(fields).index(strongest)] == steps.min()


def test_weights_decide_the_action():
    """A hand-set policy (push the way theta_dot points) is what the SNN does."""
    ctl = CartPoleController(learning=False)
    n, mu = ctl.params["neurons"], ctl._mu
    w = ctl.net.projections[0].weights.reshape(-1, 2)
    w[3 * n:4 * n, 1] = 1 + (mu - 0.5) * 2
    w[3 * n:4 * n, 0] = 1 - (mu - 0.5) * 2
    assert ctl.step(np.array([0, 0, 0, -1.5])) == 0
    assert ctl.step(np.array([0, 0, 0, 1.5])) == 1
    assert ctl.step(np.array([0, 0, 0, -1.5])) == 0  # no carry-over from the last window


def test_learning_beats_the_untrained_controller():
    untrained = run_episodes(CartPoleController(seed=1, learning=False), 60, seed=100)["mean_length"]
    ctl = CartPoleController(seed=1)
    run_episodes(ctl, 150, seed=0)
    ctl.learning = False
    ctl.start_episode()
    learned = run_episodes(ctl, 60, seed=100)["mean_length"]
    assert learned > untrained + 15, (learned, untrained)


def test_save_load_reproduces(tmp_path):
    ctl = CartPoleController(seed=2)
    run_episodes(ctl, 30, seed=0)
    path = ctl.save(tmp_path / "cp.json")
    doc = json.loads(path.read_text())
    assert doc["kind"] == "cartpole_rstdp" and doc["episodes"] == 30
    a = CartPoleController.load(path)
    b = CartPoleController.load(path)
    assert not a.learning
    np.testing.assert_array_equal(a.weights(), ctl.weights())
    ra, rb = run_episodes(a, 5, seed=50), run_episodes(b, 5, seed=50)
    assert ra["lengths"] == rb["lengths"]
    np.testing.assert_array_equal(a.weights(), ctl.weights())  # learning off: weights unchanged


def test_load_rejects_foreign_json(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"kind": "other"}')
    with pytest.raises(ConfigError, match="not a saved CartPole controller"):
        CartPoleController.load(p)
    with pytest.raises(ConfigError, match="t_max_us"):
        CartPoleController(t_max_us=10_000, dt_us=250, window_steps=40)


def test_zeromq_plant_process_loop_reports_timing():
    from apps.robot.loop import run_loop

    ctl = CartPoleController(seed=3, learning=False)
    stats = run_loop(ctl, n_steps=400, rate_hz=500)
    assert stats["steps"] == 400 and stats["stamps_in_order"]
    assert 0 < stats["latency_us"]["p50"] < 20_000
    assert stats["compute_us"]["p50"] > 0
    assert 0 <= stats["missed_deadlines"] <= 400
    assert sum(stats["episodes"]) + len(stats["episodes"]) <= 400
    assert len(stats["episodes"]) >= 1
