"""Rule kernels driven directly (no network): STDP window, triplet frequency dependence,
R-STDP, ReSuMe, BCM, normalisation, bounds, learning switch."""

import numpy as np
import pytest

from network.learning.offline import csr_from_mask, plasticity_from_rasters, stdp_window
from network.learning.rules import BCM, STDP, ReSuMe, RewardSTDP, TripletSTDP, WeightNormalization, make_rule
from pipeline.errors import ConfigError

DELAYS = np.array([-80, -40, -20, -10, -5, -1, 1, 5, 10, 20, 40, 80], np.float64)


def test_stdp_window_matches_configured_amplitudes_and_time_constants():
    rule = STDP(a_plus=0.008, a_minus=0.0095, tau_plus_ms=16.8, tau_minus_ms=33.7, w_min=-1.0, w_max=1.0)
    dw = stdp_window(rule, DELAYS, dt_ms=0.1)
    expected = np.where(DELAYS > 0, 0.008 * np.exp(-DELAYS / 16.8), -0.0095 * np.exp(DELAYS / 33.7))
    np.testing.assert_allclose(dw, expected, rtol=0.02)
    # fit the window back: log-linear slopes give the time constants, intercepts the amplitudes
    pos, neg = DELAYS > 0, DELAYS < 0
    slope_p, icpt_p = np.polyfit(DELAYS[pos], np.log(dw[pos]), 1)
    slope_n, icpt_n = np.polyfit(DELAYS[neg], np.log(-dw[neg]), 1)
    assert abs(-1 / slope_p - 16.8) / 16.8 < 0.02 and abs(1 / slope_n - 33.7) / 33.7 < 0.02
    assert abs(np.exp(icpt_p) - 0.008) / 0.008 < 0.02 and abs(np.exp(icpt_n) - 0.0095) / 0.0095 < 0.02


def test_multiplicative_stdp_scales_with_distance_to_bounds():
    rule = STDP(a_plus=0.01, a_minus=0.01, tau_plus_ms=20, tau_minus_ms=20, mu=1.0, w_min=0.0, w_max=1.0)
    for w0 in (0.2, 0.8):
        dw = stdp_window(rule, np.array([-10.0, 10.0]), dt_ms=0.1, w0=w0)
        np.testing.assert_allclose(dw[1], 0.01 * np.exp(-0.5) * (1 - w0), rtol=1e-6)
        np.testing.assert_allclose(dw[0], -0.01 * np.exp(-0.5) * w0, rtol=1e-6)


def test_nearest_spike_counts_only_the_latest_pre_spike():
    pre = np.zeros((60, 1), bool)
    post = np.zeros((60, 1), bool)
    pre[[10, 20, 30], 0] = True
    post[40, 0] = True
    kw = dict(a_plus=0.01, a_minus=0.0, tau_plus_ms=20, tau_minus_ms=20, w_min=0, w_max=1)
    all_to_all = plasticity_from_rasters(STDP(**kw), [[0.5]], pre, post)[0, 0] - 0.5
    nearest = plasticity_from_rasters(STDP(nearest=True, **kw), [[0.5]], pre, post)[0, 0] - 0.5
    np.testing.assert_allclose(nearest, 0.01 * np.exp(-10 / 20), rtol=1e-9)
    np.testing.assert_allclose(all_to_all, 0.01 * sum(np.exp(-d / 20) for d in (10, 20, 30)), rtol=1e-9)


def _pairing(rule, freq_hz, delta_ms, pairs=60, dt_ms=0.1):
    period = int(round(1000.0 / freq_hz / dt_ms))
    lag = int(round(delta_ms / dt_ms))
    steps = period * pairs + abs(lag) + 2000
    pre = np.zeros((steps, 1), bool)
    post = np.zeros((steps, 1), bool)
    base = 1000 + np.arange(pairs) * period
    pre[base, 0] = True
    post[base + lag, 0] = True
    return plasticity_from_rasters(rule, [[0.5]], pre, post, dt_ms=dt_ms)[0, 0] - 0.5


def test_triplet_rule_gives_ltp_at_high_pairing_frequency():
    rule = TripletSTDP()
    low_pre_post, low_post_pre = _pairing(rule, 1.0, 10.0), _pairing(rule, 1.0, -10.0)
    high_pre_post, high_post_pre = _pairing(rule, 50.0, 10.0), _pairing(rule, 50.0, -10.0)
    assert low_post_pre < 0  # LTD at low frequency for post-before-pre
    assert high_pre_post > 0 and high_post_pre > 0  # LTP at 50 Hz whatever the order (Sjöström 2001)
    assert high_pre_post > 10 * abs(low_pre_post)
    # the pair rule with the same pair terms cannot do that: its post-pre change is frequency-blind
    pair = STDP(a_plus=5e-10, a_minus=7e-3, tau_plus_ms=16.8, tau_minus_ms=33.7)
    assert _pairing(pair, 50.0, -10.0) < 0


def test_rstdp_moves_weights_only_with_reward_and_in_its_sign():
    pre = np.zeros((200, 1), bool)
    post = np.zeros((200, 1), bool)
    pre[10, 0] = True
    post[15, 0] = True  # causal pair: positive eligibility
    rule = RewardSTDP(a_plus=1.0, a_minus=1.0, tau_eligibility_ms=100.0, learning_rate=0.01, w_min=-5, w_max=5)
    reward = np.zeros(200)
    assert plasticity_from_rasters(rule, [[0.0]], pre, post, modulator=reward)[0, 0] == 0.0
    reward[100] = 1.0
    up = plasticity_from_rasters(rule, [[0.0]], pre, post, modulator=reward)[0, 0]
    np.testing.assert_allclose(up, 0.01 * np.exp(-5 / 20) * np.exp(-85 / 100), rtol=1e-9)
    down = plasticity_from_rasters(rule, [[0.0]], pre, post, modulator=-reward)[0, 0]
    assert down == pytest.approx(-up)


def test_resume_teacher_potentiates_output_depresses():
    steps = 50
    pre = np.zeros((steps, 2), bool)
    pre[10, 0] = True
    teacher = np.zeros((steps, 1), bool)
    teacher[15, 0] = True
    post = np.zeros((steps, 1), bool)
    rule = ReSuMe(a=0.1, a_window=1.0, tau_ms=5.0, learning_rate=0.5, w_min=-2, w_max=2)
    w = plasticity_from_rasters(rule, [[0.0], [0.0]], pre, post, teacher_raster=teacher)
    np.testing.assert_allclose(w[:, 0], [0.5 * (0.1 + np.exp(-1.0)), 0.5 * 0.1], rtol=1e-9)
    # output firing exactly on target: no change
    assert np.all(plasticity_from_rasters(rule, [[0.3], [0.3]], pre, teacher, teacher_raster=teacher) == 0.3)


def test_bcm_depresses_below_threshold_and_potentiates_above():
    rng = np.random.default_rng(0)
    steps = 20000
    pre = rng.random((steps, 1)) < 0.02  # 20 Hz at 1 ms
    rule = BCM(learning_rate=1e-5, tau_theta_ms=1e9, target_rate_hz=10.0, w_min=-10, w_max=10)
    # θ frozen near 0 (huge tau_theta): any post activity potentiates
    post = rng.random((steps, 1)) < 0.02
    assert plasticity_from_rasters(rule, [[0.0]], pre, post)[0, 0] > 0
    # θ tracking ȳ² / 10 Hz with ȳ ≈ 50 Hz gives θ ≈ 250 Hz > y: depression
    fast = BCM(learning_rate=1e-5, tau_theta_ms=200.0, target_rate_hz=10.0, w_min=-10, w_max=10)
    post = rng.random((steps, 1)) < 0.05
    assert plasticity_from_rasters(fast, [[0.0]], pre, post)[0, 0] < 0


def test_normalisation_bounds_and_learning_switch():
    rng = np.random.default_rng(1)
    w0 = rng.random((8, 3))
    pre = rng.random((300, 8)) < 0.05
    post = rng.random((300, 3)) < 0.05
    post[-1, :] = True
    norm = plasticity_from_rasters(WeightNormalization(normalize_to=2.0, w_max=10.0), w0, pre, post)
    np.testing.assert_allclose(norm.sum(axis=0), 2.0, rtol=1e-12)
    rule = STDP(a_plus=0.5, a_minus=0.5, w_min=0.1, w_max=0.9, normalize_to=0.0)
    w = plasticity_from_rasters(rule, w0.clip(0.1, 0.9), pre, post)
    assert w.min() >= 0.1 and w.max() <= 0.9 and not np.allclose(w, w0.clip(0.1, 0.9))
    frozen = STDP(a_plus=0.5, a_minus=0.5, learning=False)
    assert np.array_equal(plasticity_from_rasters(frozen, w0, pre, post), w0)


def test_sparse_mask_leaves_absent_synapses_alone():
    mask = np.array([[True, False], [False, True], [True, True]])
    indptr, indices, post_indptr, post_synapses = csr_from_mask(mask)
    assert indptr.tolist() == [0, 1, 2, 4] and indices.tolist() == [0, 1, 0, 1]
    assert post_indptr.tolist() == [0, 2, 4] and post_synapses.tolist() == [0, 2, 1, 3]
    pre = np.ones((5, 3), bool)
    post = np.ones((5, 2), bool)
    w = plasticity_from_rasters(STDP(a_plus=0.1, a_minus=0.0), np.full((3, 2), 0.5), pre, post, mask=mask)
    assert w[0, 1] == 0.5 and w[1, 0] == 0.5 and w[0, 0] > 0.5


def test_make_rule_from_table_and_errors():
    rule = make_rule({"rule": "stdp", "a_plus": 0.02, "nearest": True})
    assert isinstance(rule, STDP) and rule.a_plus == 0.02 and make_rule(rule.to_dict()) == rule
    with pytest.raises(ConfigError, match="unknown learning rule"):
        make_rule("hebb")
    with pytest.raises(ConfigError, match="unknown parameter"):
        make_rule({"rule": "stdp", "tau": 3})
    with pytest.raises(ConfigError, match="tau_plus_ms"):
        make_rule({"rule": "stdp", "tau_plus_ms": -1})
