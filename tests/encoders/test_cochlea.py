import numpy as np
import pytest

from encoders.cochlea import Cochlea, centre_frequencies, cochlea_encode, gammatone_filterbank
from pipeline.chunks import Geometry, SignalChunk
from pipeline.errors import ChunkError, ConfigError
from pipeline.testing import assert_same_payload, assert_tiles, run_stage

from .conftest import random_cuts, read_fsdd, signal_chunks


@pytest.mark.parametrize("channels", [16, 64])
def test_gammatone_matches_slaney_filterbank_on_speech(channels):
    filters = pytest.importorskip("gammatone.filters")
    x = np.concatenate([read_fsdd("3_theo_7.wav"), read_fsdd("7_jackson_12.wav")])
    fs = 8000
    cf_peer = filters.centre_freqs(fs, channels, 100)  # highest first
    ours_cf = centre_frequencies(channels, 100, fs / 2)
    np.testing.assert_allclose(ours_cf, cf_peer[::-1], rtol=1e-12)
    peer = filters.erb_filterbank(x.astype(np.float64), filters.make_erb_filters(fs, cf_peer))
    ours = gammatone_filterbank(x, fs, cf_peer)
    corr = [np.corrcoef(peer[c], ours[:, c])[0, 1] for c in range(channels)]
    assert min(corr) > 0.99
    # same gain too, not only the same shape
    np.testing.assert_allclose(ours.T, peer, atol=1e-4 * np.abs(peer).max())


@pytest.mark.parametrize("preset,channels", [("live", 32), ("shd", 700)])
def test_cochlea_is_chunking_invariant_on_speech(preset, channels):
    x = read_fsdd("5_nicolas_3.wav")[:4000]
    whole = run_stage(Cochlea(preset=preset, channels=channels), signal_chunks(x, 8000, []))
    assert whole[0].events.size > 0
    for seed in range(2):
        pieces = signal_chunks(x, 8000, random_cuts(x.size, 25, seed))
        out = run_stage(Cochlea(preset=preset, channels=channels), pieces)
        assert_tiles(out)
        assert_same_payload(whole, out)


def test_cochlea_spikes_follow_the_tone_channel():
    fs = 16000
    t = np.arange(fs // 2) / fs
    ev = cochlea_encode(0.3 * np.sin(2 * np.pi * 1000 * t), fs, preset="live")
    cf = Cochlea(preset="live").centre_freqs_hz(fs)
    counts = np.bincount(ev["x"], minlength=cf.size)
    best = int(np.argmax(counts))
    assert abs(cf[best] - 1000) / 1000 < 0.1
    assert counts[np.abs(cf - 1000) > 400].sum() < 0.2 * counts.sum()
    assert np.all(ev["y"] == 0) and np.all(np.diff(ev["t"]) >= 0)


def test_shd_preset_gives_speech_like_rates():
    x = read_fsdd("0_george_0.wav")
    ev = cochlea_encode(x, 8000, preset="shd")
    rate_hz = ev.size / (x.size / 8000) / 700
    assert 2 < rate_hz < 100
    assert np.unique(ev["x"]).size > 300  # spread over the channels, not a few hot ones


def test_cochlea_bad_input():
    stage = Cochlea(preset="live", sample_rate_hz=8000)
    ok = SignalChunk(t_start=0, t_end=1000, samples=np.zeros((8, 1), np.float32),
                     geometry=Geometry(channels=1, sample_rate_hz=8000))
    empty = SignalChunk(t_start=1000, t_end=1000, samples=np.zeros((0, 1), np.float32),
                        geometry=Geometry(channels=1, sample_rate_hz=8000), first_sample=8)
    assert stage.process(ok)[0].events.size == 0
    assert stage.process(empty)[0].events.size == 0
    nan = ok.replace(samples=np.full((8, 1), np.nan, np.float32))
    with pytest.raises(ChunkError, match="non-finite"):
        stage.process(nan)
    with pytest.raises(ChunkError, match="16000 Hz"):
        stage.process(ok.replace(geometry=Geometry(channels=1, sample_rate_hz=16000)))
    with pytest.raises(ChunkError, match="mono"):
        Cochlea().process(ok.replace(samples=np.zeros((8, 2), np.float32), geometry=Geometry(channels=2,
                                                                                              sample_rate_hz=8000)))
    with pytest.raises(ChunkError, match="2-D"):
        Cochlea().process(ok.replace(samples=np.zeros(8, np.float32)))
    with pytest.raises(ConfigError, match="Nyquist"):
        Cochlea(f_hi_hz=6000.0).process(ok)
    with pytest.raises(ConfigError, match="preset"):
        Cochlea(preset="nope").process(ok)
