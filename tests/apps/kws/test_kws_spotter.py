"""The keyword spotter's parts without a trained model: the endpointer finds tone bursts as
words and recovers from a louder background, the spotter's decisions do not depend on the
chunking, the readout arrays reproduce scikit-learn's probabilities, and models round-trip
through model.npz + model.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apps.kws.model import NONE, KwsConfig, KwsModel, spiking_weights
from apps.kws.readout import fit_readout
from apps.kws.spotter import Endpointer, KeywordSpotter
from pipeline.chunks import Geometry, SignalChunk, sample_time
from pipeline.errors import FormatError

RATE = 16000
CONFIG = KwsConfig(neurons=24, bins=3, hidden=0)


def _bursts(spans_s: list[tuple[float, float]], seconds: float, noise: float = 0.002, seed: int = 0) -> np.ndarray:
    """Noise with 600 Hz tone bursts (amplitude 0.3) over the given spans (s)."""
    rng = np.random.default_rng(seed)
    x = noise * rng.standard_normal(int(seconds * RATE))
    t = np.arange(x.shape[0]) / RATE
    for a, b in spans_s:
        on = (t >= a) & (t < b)
        x[on] += 0.3 * np.sin(2 * np.pi * 600 * t[on])
    return x.astype(np.float32)


def _levels(x: np.ndarray, hop_ms: int = 10) -> np.ndarray:
    hop = RATE * hop_ms // 1000
    n = x.shape[0] // hop
    return 10 * np.log10(np.mean(x[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1) + 1e-12)


def _model(config: KwsConfig, seed: int = 0) -> KwsModel:
    """A model with a random readout: its decisions are arbitrary but deterministic."""
    rng = np.random.default_rng(seed)
    classes = [NONE, "yes", "no"]
    return KwsModel(config=config, classes=classes, keywords=["yes", "no"],
                    w_in=spiking_weights(config, 64), threshold=np.ones(config.neurons),
                    mean=np.zeros(config.features), scale=np.ones(config.features),
                    w_hidden=np.zeros((config.features, 0)), b_hidden=np.zeros(0),
                    w_out=rng.normal(0, 0.3, (config.features, 3)), b_out=np.array([-1.0, 0.0, 0.0]))


def _chunks(x: np.ndarray, size: int):
    g = Geometry(channels=1, sample_rate_hz=RATE)
    for a in range(0, x.shape[0], size):
        piece = np.ascontiguousarray(x[a:a + size, None])
        yield SignalChunk(t_start=int(sample_time(0, a, RATE)), t_end=int(sample_time(0, a + piece.shape[0], RATE)),
                          samples=piece, first_sample=a, geometry=g)


def test_endpointer_finds_bursts_as_words():
    x = _bursts([(0.5, 0.8), (1.6, 2.0)], 3.0)
    words = Endpointer(CONFIG).step(_levels(x), 0)
    assert words.shape == (2, 3)
    np.testing.assert_allclose(words[:, 0] * 10, [500, 1600], atol=10)  # first loud hop, ms
    np.testing.assert_allclose(words[:, 1] * 10, [800, 2000], atol=10)  # end of the last one
    hangover = CONFIG.hops(CONFIG.hangover_ms)
    assert np.array_equal(words[:, 2], words[:, 1] - 1 + hangover)  # decided once the hangover passed


def test_endpointer_bridges_short_gaps_and_ignores_clicks():
    x = _bursts([(0.5, 0.7), (0.74, 0.9), (1.5, 1.53)], 2.5)  # a 40 ms closure; a 30 ms click
    words = Endpointer(CONFIG).step(_levels(x), 0)
    assert words.shape[0] == 1
    assert abs(words[0, 1] * 10 - 900) <= 10


def test_endpointer_ignores_digital_silence_and_recovers_from_louder_noise():
    quiet = np.zeros(RATE, np.float32)  # an idle input before anything plays
    louder = 0.05 * np.random.default_rng(1).standard_normal(3 * RATE).astype(np.float32)
    x = np.concatenate([quiet, _bursts([(0.5, 0.8)], 1.5), louder, _bursts([(0.5, 0.8)], 1.5, noise=0.05)])
    words = Endpointer(CONFIG).step(_levels(x), 0)
    # the noise getting 28 dB louder is no word (too long); the floor follows it and the
    # burst in the louder noise is found
    starts_ms = words[:, 0] * 10
    assert len(starts_ms) == 2
    np.testing.assert_allclose(starts_ms, [1500, 6000], atol=20)


@pytest.mark.parametrize("chunk_ms", [7, 10, 130])
def test_spotter_decisions_do_not_depend_on_chunking(chunk_ms):
    model = _model(CONFIG)
    x = _bursts([(0.3, 0.6), (1.2, 1.45), (2.0, 2.5)], 3.2)
    decisions = {}
    for size in (RATE * chunk_ms // 1000, x.shape[0]):
        spotter = KeywordSpotter(model)
        found, words = [], []
        for chunk in _chunks(x, size):
            found += [d.to_dict() for d in spotter.process(chunk)]
            words += [(w.start, w.end, w.decided, w.probabilities.round(12).tolist()) for w in spotter.words]
        decisions[size] = (found, words)
    whole, chunked = decisions[x.shape[0]], decisions[RATE * chunk_ms // 1000]
    assert len(whole[1]) == 3
    assert chunked == whole


@pytest.mark.parametrize("hidden, n_labels", [(0, 4), (8, 4), (8, 2)])
def test_readout_arrays_reproduce_sklearn_probabilities(hidden, n_labels):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (n_labels, 5))
    y = np.repeat(np.arange(n_labels), 200)
    X = centres[y] + rng.normal(0, 1, (y.shape[0], 5))
    config = KwsConfig(neurons=2, bins=2, hidden=hidden)
    readout = fit_readout(X, y, 5, hidden=hidden, alpha=1e-2, seed=0, epochs=100)
    assert readout.pop("train_accuracy") > 0.9
    model = KwsModel(config=config, classes=[NONE, "a", "b", "c", "d"], keywords=["a", "b", "c"],
                     w_in=np.zeros((4, 2)), threshold=np.ones(2), mean=np.zeros(5), scale=np.ones(5), **readout)
    p = model.probabilities(X)
    reference = (MLPClassifier((hidden,), alpha=1e-2, max_iter=100, batch_size=256, random_state=0) if hidden
                 else LogisticRegression(C=100.0, max_iter=300)).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(p[:, :n_labels], reference, atol=1e-6)
    assert p[:, n_labels:].max() < 1e-9  # classes without examples are never predicted


def test_model_round_trip_and_shape_check(tmp_path):
    model = _model(CONFIG)
    model.save(tmp_path / "m")
    back = KwsModel.load(tmp_path / "m")
    assert back.classes == model.classes and back.keywords == model.keywords and back.config == model.config
    np.testing.assert_array_equal(back.w_out, model.w_out)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["config"]["bins"] = 4
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match="field 'mean' has shape"):
        KwsModel.load(tmp_path / "m")
    with pytest.raises(FormatError, match="lacks model.json"):
        KwsModel.load(tmp_path / "missing")


def test_align_script_follows_inserted_silence():
    from apps.kws.script import ScriptedWord, align_script

    rng = np.random.default_rng(3)
    played = 0.001 * rng.standard_normal(6 * RATE)
    script = []
    for k, at in enumerate((1.0, 2.5, 4.0)):
        a = int(at * RATE)
        played[a:a + 4000] += 0.3 * rng.standard_normal(4000)  # a distinct "word"
        script.append(ScriptedWord(f"w{k}", a, a + 4000, True))
    # heard: 0.3 s later, and a player underrun adds 0.12 s of silence before the last word
    gap = int(0.12 * RATE)
    heard = np.concatenate([np.zeros(int(0.3 * RATE)), played[:int(3.5 * RATE)], np.zeros(gap),
                            played[int(3.5 * RATE):]])
    placed = align_script(heard, played, script)
    shifts = [p.start - s.start for p, s in zip(placed, script)]
    assert shifts == [int(0.3 * RATE), int(0.3 * RATE), int(0.3 * RATE) + gap]
    assert all(p.end - p.start == 4000 for p in placed)
