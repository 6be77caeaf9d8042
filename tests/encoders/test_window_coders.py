"""Latency, phase, burst, population and delta coders: defining property, round trips,
chunking invariance (incl. partial windows at end of stream and at sample_end), bad input."""

import numpy as np
import pytest

from encoders.burst import BurstEncoder, burst_decode, burst_encode
from encoders.delta import DeltaEncoder, delta_decode, delta_encode
from encoders.latency import LatencyEncoder, latency_decode, latency_encode
from encoders.phase import PhaseEncoder, phase_decode, phase_encode
from encoders.population import PopulationEncoder, population_decode, population_encode
from pipeline.chunks import Geometry
from pipeline.errors import ChunkError, ConfigError
from pipeline.testing import assert_same_payload, assert_tiles, run_stage

from .conftest import random_cuts, signal_chunks

RATE = 1000  # 1 kHz: a 10 ms window holds 10 samples
WINDOW = 10_000


def _windows(n_windows: int = 40, channels: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Values [n_windows, channels] in [0, 1] and a 1 kHz signal holding each for a window."""
    v = np.random.default_rng(seed).uniform(0, 1, (n_windows, channels))
    return v, np.repeat(v, WINDOW * RATE // 1_000_000, axis=0).astype(np.float32)


def test_latency_linear_times_are_exact_and_monotone():
    v, x = _windows()
    ev = latency_encode(x, RATE, window_us=WINDOW, t_max_us=9_000)
    assert ev.size == v.size  # one spike per input per window
    w = ev["t"] // WINDOW
    expected = w * WINDOW + np.rint((1 - v.astype(np.float32).astype(np.float64)[w, ev["x"]]) * 9_000)
    np.testing.assert_array_equal(ev["t"], expected.astype(np.int64))
    # monotone: within every window a larger value fires no later
    for k in range(v.shape[0]):
        sel = w == k
        order = np.argsort(-v[k, ev["x"][sel]])
        assert np.all(np.diff(ev["t"][sel][order]) >= 0)
    d = latency_decode(ev, 4, v.shape[0], window_us=WINDOW, t_max_us=9_000)
    assert np.abs(d - v).max() < 1e-4


def test_latency_log_and_rank_round_trip():
    v, x = _windows()
    ev = latency_encode(x, RATE, window_us=WINDOW, mapping="log", threshold=0.2, tau_us=3_000.0)
    d = latency_decode(ev, 4, v.shape[0], window_us=WINDOW, mapping="log", threshold=0.2, tau_us=3_000.0)
    fired = ~np.isnan(d)
    assert np.all(fired[v > 0.25]) and not np.any(fired[v <= 0.2])
    assert np.abs(d - v)[fired].max() < 0.01  # µs rounding on the steep part of the log curve
    ev = latency_encode(x, RATE, window_us=WINDOW, mapping="rank")
    ranks = latency_decode(ev, 4, v.shape[0], window_us=WINDOW, mapping="rank")
    np.testing.assert_array_equal(ranks, np.argsort(np.argsort(-v, axis=1), axis=1))


def test_phase_round_trip_within_half_an_lsb():
    v, x = _windows()
    ev = phase_encode(x, RATE, window_us=WINDOW, bits=8)
    d = phase_decode(ev, 4, v.shape[0], window_us=WINDOW, bits=8)
    assert np.abs(d - np.minimum(v, 1 - 2**-8)).max() <= 2**-9 + 1e-7
    # spikes sit on the phase grid of the oscillator
    assert np.all(((ev["t"] % WINDOW) % (WINDOW // 8)) == 0)


def test_burst_round_trip_and_shape():
    v, x = _windows()
    ev = burst_encode(x, RATE, window_us=WINDOW, max_spikes=5, isi_min_us=200, isi_max_us=2_000)
    d = burst_decode(ev, 4, v.shape[0], window_us=WINDOW, max_spikes=5, isi_min_us=200, isi_max_us=2_000)
    err = np.abs(d - v)
    assert err[v > 0.2].max() < 1 / 1_800 + 1e-6  # two or more spikes: the ISI carries the value
    assert err.max() <= 0.1 + 1e-9  # one spike: half of 1 / max_spikes
    counts = np.bincount((ev["t"] // WINDOW) * 4 + ev["x"], minlength=v.size).reshape(v.shape)
    np.testing.assert_array_equal(counts, np.ceil(v.astype(np.float32).astype(np.float64) * 5))


def test_population_round_trip():
    v, x = _windows(channels=3)
    ev = population_encode(x, RATE, window_us=WINDOW, neurons=8, v_min=0.0, v_max=1.0)
    assert ev["x"].max() < 24
    d = population_decode(ev, 3, v.shape[0], window_us=WINDOW, neurons=8)
    assert np.abs(d - v).max() < 1e-3
    # each value drives only the units whose fields are near it
    assert np.bincount(ev["t"] // WINDOW).max() < 24


def test_delta_tracks_within_one_threshold_with_polarity():
    t = np.arange(3000) / RATE
    x = np.stack([np.sin(2 * np.pi * t), 0.3 * np.cos(5 * t)], 1).astype(np.float32)
    ev = delta_encode(x, RATE, threshold=0.05)
    r = delta_decode(ev, x.shape[0], 2, RATE, threshold=0.05, initial=x[0])
    assert np.abs(r - x).max() < 0.05 + 1e-6
    assert set(np.unique(ev["p"])) == {-1, 1}
    ev = delta_encode(x, RATE, mode="sigma_delta", threshold=0.5)
    r = delta_decode(ev, x.shape[0], 2, RATE, threshold=0.5)
    assert np.abs(r - np.cumsum(x.astype(np.float64), axis=0)).max() < 0.5 + 1e-4


STAGES = {
    "latency": lambda: LatencyEncoder(window_us=WINDOW, mapping="log", threshold=0.1),
    "rank": lambda: LatencyEncoder(window_us=7_000, mapping="rank"),
    "phase": lambda: PhaseEncoder(window_us=WINDOW, bits=5),
    "burst": lambda: BurstEncoder(window_us=WINDOW),
    "population": lambda: PopulationEncoder(window_us=6_000, neurons=5),
    "delta": lambda: DeltaEncoder(threshold=0.1),
    "sigma_delta": lambda: DeltaEncoder(mode="sigma_delta", threshold=0.7),
}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_chunking_invariance_with_partial_last_window(name):
    _, x = _windows(n_windows=13)
    x = x[:-3]  # the stream ends inside a window
    whole = run_stage(STAGES[name](), signal_chunks(x, RATE, []))
    assert sum(c.events.size for c in whole) > 0
    for seed in range(3):
        out = run_stage(STAGES[name](), signal_chunks(x, RATE, random_cuts(x.shape[0], 20, seed)))
        assert_tiles(out)
        assert_same_payload(whole, out)
    assert whole[-1].t_end == signal_chunks(x, RATE, [])[-1].t_end


def test_window_completes_at_sample_end():
    _, x = _windows(n_windows=4, channels=2)
    first = signal_chunks(x[:25], RATE, [12], meta={"sample_id": "a"})
    first[-1].meta["sample_end"] = True
    second = [c.replace(t_start=c.t_start + 25_000, t_end=c.t_end + 25_000) for c in signal_chunks(x[25:], RATE, [5],
                                                                                               meta={"sample_id": "b"})]
    out = run_stage(LatencyEncoder(window_us=WINDOW), first + second)
    assert_tiles(out)
    ends = [c.t_end for c in out]
    # sample a: window ending at 10 ms, then (chunk 12..25 ms) the window ending at 20 ms and
    # its partial window, closed at the sample's end; sample b's windows restart at 25 ms
    assert ends == [10_000, 25_000, 35_000, 40_000]
    assert out[1].meta.get("sample_end") and out[1].meta["sample_id"] == "a"
    assert out[2].meta["sample_id"] == "b"
    # the partial window of sample a holds its own spikes (5 samples, 20..25 ms)
    assert np.any(out[1].events["t"] >= 20_000)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_window_coders_bad_input(name):
    stage = STAGES[name]()
    stage.sample_rate_hz = RATE
    [ok] = signal_chunks(np.full((5, 2), 0.5, np.float32), RATE, [])
    stage.process(ok)
    [empty] = signal_chunks(np.zeros((0, 2), np.float32), RATE, [], t0=ok.t_end)
    stage.process(empty)  # valid, no error
    with pytest.raises(ChunkError, match="non-finite"):
        STAGES[name]().process(ok.replace(samples=np.full((5, 2), np.inf, np.float32)))
    with pytest.raises(ChunkError, match="2000 Hz"):
        stage.process(ok.replace(geometry=Geometry(channels=2, sample_rate_hz=2000)))
    with pytest.raises(ChunkError, match="2-D"):
        STAGES[name]().process(ok.replace(samples=np.zeros(5, np.float32)))


def test_bad_parameters_are_named():
    [ok] = signal_chunks(np.zeros((5, 1), np.float32), RATE, [])
    with pytest.raises(ConfigError, match="does not fit"):
        BurstEncoder(window_us=5_000, max_spikes=5, isi_max_us=2_000).process(ok)
    with pytest.raises(ConfigError, match="mapping"):
        LatencyEncoder(mapping="cubic").process(ok)
    with pytest.raises(ConfigError, match="threshold"):
        LatencyEncoder(mapping="log", threshold=0.0).process(ok.replace(samples=np.ones((5, 1), np.float32)))
    with pytest.raises(ConfigError, match="neurons"):
        PopulationEncoder(neurons=2).process(ok)
