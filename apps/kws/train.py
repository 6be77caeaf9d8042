"""Training the keyword spotter's readout on a Speech-Commands-layout folder.

Every clip runs through the same streaming front end the live spotter uses (cochlea ->
LIF layer), padded with background noise before and after. Windows ending just after a
keyword's end are examples of that keyword; windows of unknown words, of noise, and of a
keyword not yet begun or long past are examples of "no keyword".
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from apps.kws._snn_kernel import window_features
from apps.kws.model import NONE, KwsConfig, KwsModel, spiking_weights
from apps.kws.spotter import SpikingFrontEnd
from pipeline.chunks import Geometry, SignalChunk, sample_time
from pipeline.errors import ConfigError

# words the default set adds as "unknown" (none of them is a keyword)
UNKNOWN_WORDS = ("cat", "dog", "bird", "house", "tree", "happy", "wow", "bed", "marvin", "learn")


def default_model_dir() -> Path:
    return Path.home() / ".cache" / "spikestream" / "kws" / "default"


def default_data_dir() -> Path:
    return Path.home() / ".cache" / "spikestream" / "datasets"


def ensure_default_keywords(progress: bool = False, speakers: int = 24) -> Path:
    """The generated keyword set the default model trains on (espeak-ng, cached)."""
    from sources.datasets.speech_commands import KEYWORDS
    from sources.datasets.synth_keywords import ensure_keywords

    return ensure_keywords(default_data_dir(), words=KEYWORDS + UNKNOWN_WORDS, speakers=speakers, repeats=2, seed=0,
                           validation_percentage=15.0, testing_percentage=20.0, progress=progress)


def word_bounds(x: np.ndarray, rate: int) -> tuple[int, int]:
    """First and last sample of the loudest stretch (10 ms frames above max(peak - 25 dB,
    noise floor + 8 dB))."""
    frame = rate // 100
    n = x.shape[0] // frame
    energy = 10 * np.log10(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    threshold = max(energy.max() - 25.0, np.percentile(energy, 10) + 8.0)
    loud = np.flatnonzero(energy > threshold)
    return int(loud[0] * frame), int((loud[-1] + 1) * frame)


def run_front_end(front: SpikingFrontEnd, audio: np.ndarray) -> np.ndarray:
    """Hop spike counts of a whole clip, plus the window history rows of zeros in front."""
    cfg = front.config
    rate = cfg.sample_rate_hz
    chunk = SignalChunk(t_start=0, t_end=int(sample_time(0, audio.shape[0], rate)), samples=audio[:, None],
                        geometry=Geometry(channels=1, sample_rate_hz=rate))
    counts, _ = front.process(chunk)
    return counts


def clip_examples(model_like: dict[str, Any], audio: np.ndarray, label: int, pad_before: int,
                  rng: np.random.Generator, max_none: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Window features and labels from one padded clip (label 0 = unknown word / noise)."""
    cfg: KwsConfig = model_like["config"]
    front = SpikingFrontEnd(cfg, model_like["w_in"], model_like["threshold"])
    counts = run_front_end(front, audio)
    history = cfg.bins * cfg.hops_per_bin - 1
    rows = np.concatenate([np.zeros((history, counts.shape[1])), counts])
    feats = np.empty((counts.shape[0], cfg.bins * cfg.neurons))
    window_features(rows, cfg.hops_per_bin, cfg.bins, feats)
    hop = cfg.hop_ms * cfg.sample_rate_hz // 1000
    hop_end = (np.arange(counts.shape[0]) + 1) * hop  # sample index where each hop ends
    if label > 0:
        start, end = word_bounds(audio[pad_before:pad_before + model_like["clip_len"]], cfg.sample_rate_hz)
        start, end = start + pad_before, end + pad_before
        positive = np.flatnonzero((hop_end >= end - 2 * hop) & (hop_end <= end + 8 * hop))
        # "no keyword yet": nothing or only part of the word heard; "no keyword any more": long past
        negative = np.flatnonzero((hop_end < end - 6 * hop) | (hop_end > end + 25 * hop))
        negative = rng.choice(negative, min(max_none, negative.size), replace=False)
        index = np.concatenate([positive, negative])
        labels = np.concatenate([np.full(positive.size, label), np.zeros(negative.size, np.int64)])
    else:
        index = rng.choice(counts.shape[0], min(2 * max_none, counts.shape[0]), replace=False)
        labels = np.zeros(index.size, np.int64)
    return feats[index], labels


def train_model(root: str | Path, *, config: KwsConfig | None = None, max_per_class: int = 0, C: float = 0.02,
                progress: bool = False, seed: int = 0) -> KwsModel:
    """Train a KwsModel on the train split of a Speech-Commands-layout folder."""
    from sklearn.linear_model import LogisticRegression

    from sources.datasets.speech_commands import KEYWORDS, load_noise, speech_commands_listing
    from sources.wav import read_wav

    t_begin = time.perf_counter()
    config = config or KwsConfig()
    config.check()
    refs, words = speech_commands_listing(root, split="train", task="words")
    keywords = [w for w in words if w in KEYWORDS]
    if not keywords:
        raise ConfigError(f"kws train: {root} has none of the keyword folders {KEYWORDS}")
    classes = [NONE, *keywords]
    label_of = {w: (classes.index(w) if w in keywords else 0) for w in words}
    rng = np.random.default_rng(seed)
    if max_per_class:
        by_word: dict[int, list] = {}
        for ref in refs:
            by_word.setdefault(ref.label, []).append(ref)
        refs = [r for group in by_word.values() for r in group[:max_per_class]]
    noise = load_noise(root)
    noise_audio = np.concatenate([n for _, n in noise]) if noise else np.zeros(16000, np.float32)
    rate = config.sample_rate_hz
    w_in = spiking_weights(config, int(config.cochlea.get("channels", 64)))
    model_like = {"config": config, "w_in": w_in, "threshold": np.full(config.neurons, 1.0), "clip_len": rate}
    pad = int(0.9 * rate)

    def padded(x: np.ndarray) -> np.ndarray:
        level = rng.uniform(0.002, 0.02)
        before = noise_audio[rng.integers(0, noise_audio.shape[0] - pad, 2)[:, None] + np.arange(pad)]
        return np.concatenate([before[0] * level, x, before[1] * level]).astype(np.float32)

    feats, labels = [], []
    iterator = refs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(refs, desc="kws features", unit="clip")
    for ref in iterator:
        x, r = read_wav(ref.key, sample_rate_hz=rate)
        f, y = clip_examples(model_like, padded(x[:, 0]), label_of[words[ref.label]], pad, rng)
        feats.append(f)
        labels.append(y)
    for _ in range(max(20, len(refs) // 10)):  # pure background noise at several levels
        start = rng.integers(0, noise_audio.shape[0] - 2 * rate)
        clip = noise_audio[start:start + 2 * rate] * rng.uniform(0.005, 0.3)
        f, y = clip_examples(model_like, clip.astype(np.float32), 0, 0, rng)
        feats.append(f)
        labels.append(y)
    X, y = np.concatenate(feats), np.concatenate(labels)
    mean, scale = X.mean(axis=0), X.std(axis=0) + 0.1
    from threadpoolctl import threadpool_limits

    classifier = LogisticRegression(C=C, max_iter=300)
    with threadpool_limits(1):  # threaded BLAS on a small busy machine is many times slower
        classifier.fit((X - mean) / scale, y)
    coef = np.zeros((len(classes), X.shape[1]))
    intercept = np.full(len(classes), -30.0)  # a class with no examples is never predicted
    coef[classifier.classes_] = classifier.coef_
    intercept[classifier.classes_] = classifier.intercept_
    info = {"data": str(root), "clips": len(refs), "windows": int(X.shape[0]),
            "train_window_accuracy": round(float(classifier.score((X - mean) / scale, y)), 4),
            "train_seconds": round(time.perf_counter() - t_begin, 1)}
    return KwsModel(config=config, classes=classes, w_in=w_in, threshold=model_like["threshold"], mean=mean,
                    scale=scale, coef=coef, intercept=intercept, info=info)
