"""CartPole controller: the field code, the race of the action neurons, R-STDP credit to the
action taken, learning beats the untrained network, a seed reproduces a run, save/load
repeats it with learning off, the ZeroMQ plant-process loop runs and reports its timing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apps.robot.controller import CartPoleController
from apps.robot.train import run_episodes
from pipeline.errors import ConfigError

pytest.importorskip("gymnasium")


def _pole_policy(ctl: CartPoleController, gain: float = 0.5) -> None:
    """Hand-set weights: push right when theta + 0.3 theta_dot > 0 (a policy that balances)."""
    (_, mu, _), _ = ctl._grids
    lo, hi = np.array([-0.21, -3.0]), np.array([0.21, 3.0])
    theta, theta_dot = lo[0] + (hi[0] - lo[0]) * mu, lo[1] + (hi[1] - lo[1]) * mu
    score = ((theta[:, None] + 0.3 * theta_dot[None, :]) / 0.1).ravel()
    m = score.size
    w = ctl.net.projections[0].weights.reshape(-1, 2)
    w[:m, 1] = np.clip(1 + gain * score, 0, 4)
    w[:m, 0] = np.clip(1 - gain * score, 0, 4)


def test_conjunctive_fields_code_the_state_and_latency_falls_with_activation():
    ctl = CartPoleController(learning=False)
    m, c = ctl.params["pole_fields"], ctl.params["cart_fields"]
    phi = ctl.activations(np.array([0.0, 0.0, 0.2, -2.9]))
    assert phi.shape == (m * m + c * c,) and np.all((phi >= 0) & (phi <= 1))
    row, col = divmod(int(np.argmax(phi[:m * m])), m)  # the (theta, theta_dot) grid
    assert row >= m - 2 and col <= 1
    row, col = divmod(int(np.argmax(ctl.activations(np.array([0.0, 0.0, -0.2, 2.9]))[:m * m])), m)
    assert row <= 1 and col >= m - 2
    row, col = divmod(int(np.argmax(ctl.activations(np.array([2.3, -2.9, 0.0, 0.0]))[m * m:])), c)
    assert row >= c - 2 and col <= 1  # the (x, x_dot) grid
    steps, fields = ctl.input_spikes(phi)  # the actor reads the (theta, theta_dot) grid only
    assert np.all(np.diff(steps) >= 0) and np.all(phi[fields] >= 0.1) and fields.max() < m * m
    assert steps[list(fields).index(int(np.argmax(phi[:m * m])))] == steps.min()


def test_weights_decide_the_action_and_a_hand_set_policy_balances():
    ctl = CartPoleController(learning=False)
    _pole_policy(ctl)
    assert ctl.step(np.array([0, 0, 0.02, -1.0])) == 0
    assert ctl.step(np.array([0, 0, -0.02, 1.0])) == 1
    assert ctl.step(np.array([0, 0, 0.02, -1.0])) == 0  # no carry-over from the last window
    assert run_episodes(ctl, 5, seed=300)["mean_length"] > 400  # the code can hold a balancing policy


def test_only_the_action_taken_is_eligible_and_the_td_error_moves_it():
    for reward in (0.5, -0.5):
        ctl = CartPoleController(noise_rate=0.0)
        _pole_policy(ctl)
        state = np.array([0.0, 0.0, 0.05, 0.5])
        assert ctl.step(state) == 1
        proj = ctl.net.projections[0]
        elig = proj.eligibility.reshape(-1, 2)[:ctl.n_actor].copy()
        _, fields = ctl.input_spikes(ctl.activations(state))
        eligible = elig[:, 1] > 0  # fields that spiked before the action neuron did
        assert np.all(elig[:, 0] == 0)  # the rival never fired
        assert eligible.sum() >= 3 and set(np.flatnonzero(eligible)) <= set(fields)
        before = ctl.weights()
        ctl.step(state, reward)  # critic still 0: delta = reward, delivered at this window's start
        change = ctl.weights() - before
        assert ctl.last_delta == reward
        np.testing.assert_array_equal(change[:, 0], 0.0)
        np.testing.assert_array_equal(change[~eligible, 1], 0.0)
        assert np.all(np.sign(change[eligible, 1]) == np.sign(reward))


def test_learning_beats_the_untrained_controller():
    untrained = run_episodes(CartPoleController(seed=1, learning=False), 20, seed=100)["mean_length"]
    ctl = CartPoleController(seed=1)
    curve = run_episodes(ctl, 120, seed=0)
    ctl.learning = False
    ctl.start_episode()
    learned = run_episodes(ctl, 20, seed=100)["mean_length"]
    assert np.mean(curve["lengths"][-30:]) > 3 * np.mean(curve["lengths"][:30])
    assert learned > 250 and learned > 5 * untrained, (learned, untrained)


def test_a_seed_reproduces_a_learning_run():
    a, b = CartPoleController(seed=4), CartPoleController(seed=4)
    assert run_episodes(a, 20, seed=0)["lengths"] == run_episodes(b, 20, seed=0)["lengths"]
    np.testing.assert_array_equal(a.weights(), b.weights())
    np.testing.assert_array_equal(a.critic, b.critic)


def test_save_load_repeats_with_learning_off(tmp_path):
    ctl = CartPoleController(seed=2)
    run_episodes(ctl, 40, seed=0)
    path = ctl.save(tmp_path / "cp.json")
    doc = json.loads(path.read_text())
    assert doc["kind"] == "cartpole_rstdp" and doc["episodes"] == 40
    a, b = CartPoleController.load(path), CartPoleController.load(path)
    assert not a.learning
    np.testing.assert_array_equal(a.weights(), ctl.weights())
    ctl.learning = False
    ctl.start_episode()
    runs = [run_episodes(x, 5, seed=50)["lengths"] for x in (a, b, ctl)]
    assert runs[0] == runs[1] == runs[2]
    np.testing.assert_array_equal(a.weights(), ctl.weights())  # learning off: weights unchanged


def test_load_and_parameters_reject_bad_input(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"kind": "other"}')
    with pytest.raises(ConfigError, match="not a saved CartPole controller"):
        CartPoleController.load(p)
    with pytest.raises(ConfigError, match="t_max_us"):
        CartPoleController(t_max_us=10_000, dt_us=250, window_steps=40)
    with pytest.raises(ConfigError, match="pole_fields"):
        CartPoleController(pole_fields=2)
    with pytest.raises(ConfigError, match="gamma"):
        CartPoleController(gamma=1.5)


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
