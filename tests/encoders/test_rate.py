import numpy as np
import pytest

from encoders.delta import DeltaEncoder
from encoders.rate import RateEncoder, rate_decode, rate_encode
from pipeline.chunks import FrameChunk, Geometry
from pipeline.errors import ChunkError, ConfigError
from pipeline.testing import assert_same_payload, assert_tiles, run_stage

from .conftest import random_cuts, signal_chunks

RATE = 8000
VALUES = np.array([0.0, 0.05, 0.3, 0.7, 1.0])


def _const(seconds: float = 5.0) -> np.ndarray:
    return np.tile(VALUES.astype(np.float32), (int(seconds * RATE), 1))


@pytest.mark.parametrize("mode", ["bernoulli", "poisson"])
def test_stochastic_rate_counts_within_five_sigma(mode):
    x = _const()
    ev = rate_encode(x, RATE, mode=mode, max_rate_hz=400.0, seed=11)
    counts = np.bincount(ev["x"], minlength=VALUES.size)
    p = VALUES * 400.0 / RATE
    mean = x.shape[0] * p
    var = x.shape[0] * (p * (1 - p) if mode == "bernoulli" else p)
    assert counts[0] == 0
    assert np.all(np.abs(counts[1:] - mean[1:]) < 5 * np.sqrt(var[1:]))
    # and not trivially regular: the ISIs of a Poisson/Bernoulli train vary
    isi = np.diff(ev["t"][ev["x"] == 3])
    assert isi.std() > 0.5 * isi.mean()


def test_deterministic_rate_is_exact_and_regular():
    x = _const(2.0)
    ev = rate_encode(x, RATE, mode="deterministic", max_rate_hz=400.0)
    counts = np.bincount(ev["x"], minlength=VALUES.size)
    # float32 inputs (0.7 is 0.69999999) may lose the last spike of the run
    assert np.all(np.abs(counts - VALUES * 400.0 * 2.0) <= 1)
    isi = np.diff(ev["t"][ev["x"] == 4])
    assert isi.min() == isi.max() == 2500
    np.testing.assert_allclose(rate_decode(ev, VALUES.size, 2_000_000, max_rate_hz=400.0), VALUES, atol=1 / 800)


def test_seed_changes_spikes_and_same_seed_repeats():
    x = _const(0.5)
    a = rate_encode(x, RATE, seed=1, max_rate_hz=800.0)
    b = rate_encode(x, RATE, seed=1, max_rate_hz=800.0)
    c = rate_encode(x, RATE, seed=2, max_rate_hz=800.0)
    np.testing.assert_array_equal(a, b)
    assert a.size != c.size or not np.array_equal(a, c)


@pytest.mark.parametrize("mode", ["bernoulli", "poisson", "deterministic"])
def test_rate_chunking_invariance(mode):
    x = np.abs(np.random.default_rng(0).normal(0.4, 0.3, (3000, 3))).astype(np.float32)
    params = dict(mode=mode, max_rate_hz=1500.0, seed=3, signed=True)
    whole = run_stage(RateEncoder(**params), signal_chunks(x, RATE, []))
    out = run_stage(RateEncoder(**params), signal_chunks(x, RATE, random_cuts(3000, 30, 1)))
    assert_tiles(out)
    assert_same_payload(whole, out)
    assert whole[0].events.size > 100


def test_signed_polarity():
    x = np.full((8000, 1), -0.5, np.float32)
    ev = rate_encode(x, RATE, signed=True, max_rate_hz=1000.0)
    assert ev.size > 300 and np.all(ev["p"] == -1)
    assert rate_encode(x, RATE, max_rate_hz=1000.0).size == 0


def _frames(n: int = 12) -> list[FrameChunk]:
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (n, 6, 5), dtype=np.uint8)
    times = np.arange(n, dtype=np.int64) * 33_333
    return [FrameChunk(t_start=int(times[a]), t_end=int(times[a + 4]) if a + 4 < n else int(times[-1]) + 33_333,
                       frames=frames[a:a + 4], times=times[a:a + 4], geometry=Geometry(width=5, height=6))
            for a in range(0, n, 4)]


@pytest.mark.parametrize("stage", [lambda: RateEncoder(mode="bernoulli", seed=4, gain=0.8),
                                   lambda: DeltaEncoder(threshold=0.3)])
def test_frame_encoders_are_chunking_invariant(stage):
    chunks = _frames()
    from pipeline.rechunk import join, split_at
    whole = run_stage(stage(), [join(chunks)])
    single = run_stage(stage(), split_at(join(chunks), [1, 40_000, 200_000, 299_999]))
    assert_tiles(single)
    assert_same_payload(whole, single)
    ev = whole[0].events
    assert ev.size > 0 and ev["x"].max() < 5 and ev["y"].max() < 6


def test_rate_bad_input():
    stage = RateEncoder(sample_rate_hz=RATE)
    [ok] = signal_chunks(np.zeros((10, 2), np.float32), RATE, [])
    assert stage.process(ok)[0].events.size == 0
    [empty] = signal_chunks(np.zeros((0, 2), np.float32), RATE, [], t0=ok.t_end)
    assert stage.process(empty)[0].events.size == 0
    with pytest.raises(ChunkError, match="non-finite"):
        RateEncoder().process(ok.replace(samples=np.array([[0.1, np.nan]] * 10, np.float32)))
    with pytest.raises(ChunkError, match="16000 Hz"):
        stage.process(ok.replace(geometry=Geometry(channels=2, sample_rate_hz=16000)))
    with pytest.raises(ChunkError, match="3 channels"):
        stage.process(ok.replace(samples=np.zeros((10, 3), np.float32), geometry=Geometry(channels=3,
                                                                                         sample_rate_hz=RATE)))
    with pytest.raises(ChunkError, match="float32"):
        RateEncoder().process(ok.replace(samples=np.zeros((10, 2), np.float64)))
    with pytest.raises(ConfigError, match="bernoulli"):
        RateEncoder(max_rate_hz=20_000.0).process(ok)
    with pytest.raises(ConfigError, match="mode"):
        RateEncoder(mode="gaussian").process(ok)
