"""Training the keyword spotter's readout on a Speech-Commands-layout folder.

Training clips are strung into streams with noise between them and run through the very
front end and endpointer the live spotter uses, so the readout learns from words cut the
way it will see them. A found word that covers most of a clip's word takes that word's
class (keywords and every other word have their own class; non-keywords count as "no
keyword" when listening); what the endpointer finds in pure noise, and pieces of a word
cut apart by a pause, are examples of NONE.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from apps.kws.model import NONE, KwsConfig, KwsModel, spiking_weights
from apps.kws.readout import fit_readout
from apps.kws.spotter import Endpointer, SpikingFrontEnd, word_feature_row
from pipeline.chunks import Geometry, SignalChunk, sample_time
from pipeline.errors import ConfigError

# words the default set adds as "unknown" (none of them is a keyword)
UNKNOWN_WORDS = ("cat", "dog", "bird", "house", "tree", "happy", "wow", "bed", "marvin", "learn")
DEFAULT_SPEAKERS = 160  # speakers of the generated set; detection on new voices grows with their number
STREAM_CLIPS = 48  # clips per training stream (one front-end pass each)


def default_model_dir() -> Path:
    return Path.home() / ".cache" / "spikestream" / "kws" / "default"


def default_data_dir() -> Path:
    return Path.home() / ".cache" / "spikestream" / "datasets"


def ensure_default_keywords(progress: bool = False, speakers: int = DEFAULT_SPEAKERS) -> Path:
    """The generated keyword set the default model trains on (espeak-ng, cached)."""
    from sources.datasets.speech_commands import KEYWORDS
    from sources.datasets.synth_keywords import ensure_keywords

    return ensure_keywords(default_data_dir(), words=KEYWORDS + UNKNOWN_WORDS, speakers=speakers, repeats=2, seed=0,
                           validation_percentage=15.0, testing_percentage=20.0, progress=progress)


def word_bounds(x: np.ndarray, rate: int, max_gap_ms: int = 150) -> tuple[int, int]:
    """First and last sample of the word in a clip: the run of 10 ms frames above
    max(peak - 25 dB, noise floor + 8 dB) around the loudest frame, bridging quieter gaps
    up to max_gap_ms (stop closures). Loud frames beyond a longer gap are the clip's own
    background noise, not the word: counting them put word ends up to 0.7 s late."""
    frame = rate // 100
    n = x.shape[0] // frame
    energy = 10 * np.log10(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    threshold = max(energy.max() - 25.0, np.percentile(energy, 10) + 8.0)
    loud = np.flatnonzero(energy > threshold)
    peak = int(np.argmax(energy))
    gaps = np.flatnonzero(np.diff(loud) > max_gap_ms // 10 + 1)  # loud[g] and loud[g + 1] are apart
    run = np.searchsorted(loud[gaps], peak)  # which run between the gaps holds the peak
    first = loud[gaps[run - 1] + 1] if run > 0 else loud[0]
    last = loud[gaps[run]] if run < gaps.size else loud[-1]
    return int(first * frame), int((last + 1) * frame)


def run_front_end(front: SpikingFrontEnd, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hop spike counts [hops, neurons] and hop levels (dBFS) of a whole mono signal."""
    rate = front.config.sample_rate_hz
    chunk = SignalChunk(t_start=0, t_end=int(sample_time(0, audio.shape[0], rate)), samples=audio[:, None],
                        geometry=Geometry(channels=1, sample_rate_hz=rate))
    return front.process(chunk)


def stream_words(audio: np.ndarray, config: KwsConfig, w_in: np.ndarray, threshold: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The words the spotter's endpointer finds in `audio`: spans [n, 2] in samples and
    readout inputs [n, features]."""
    front = SpikingFrontEnd(config, w_in, threshold)
    counts, levels = run_front_end(front, audio.astype(np.float32))
    words = Endpointer(config).step(levels, 0)
    feats = np.array([word_feature_row(counts, 0, a, b, config) for a, b, _ in words.tolist()])
    hop = config.hop_ms * config.sample_rate_hz // 1000
    return words[:, :2] * hop, feats.reshape(-1, config.features)


class StreamBuilder:
    """Strings clips into a training stream over a continuous background noise whose level
    changes between blocks of clips heard alike: trimmed to the word and normalised in quiet
    noise (as a scripted sequence plays them), or whole, scaled so that their own noise is
    about as loud as the background (as a microphone in a noisy room hears them). Sometimes
    a keyword is cut in two by a pause (both pieces are NONE)."""

    BLOCK = 8  # clips per listening condition

    def __init__(self, noise: np.ndarray, rate: int, rng: np.random.Generator, hp_hz: float = 150.0) -> None:
        from scipy.signal import butter

        self.noise, self.rate, self.rng = noise, rate, rng
        # levels are matched as the endpointer hears them: above hp_hz
        self.sos = butter(2, hp_hz, "highpass", fs=rate, output="sos")
        self.noise_rms = float(np.sqrt(np.mean(self._band(noise) ** 2)))
        self.pieces: list[np.ndarray] = []
        self.spans: list[tuple[int, int, int]] = []  # (first sample, end sample, label; -1: cut in two)
        self.blocks: list[tuple[int, float]] = []  # (first sample, background rms above hp_hz)
        self.length = 0
        self.clips = 0
        self.trimmed = True
        self.gap_rms = 0.0

    def _band(self, x: np.ndarray) -> np.ndarray:
        from scipy.signal import sosfilt

        return sosfilt(self.sos, x)

    def _append(self, x: np.ndarray) -> None:
        self.pieces.append(x)
        self.length += x.shape[0]

    def _condition(self, trimmed: bool | None = None) -> None:
        rng = self.rng
        self.trimmed = bool(rng.uniform() < 0.5) if trimmed is None else trimmed
        # a scripted sequence plays in quiet noise; a room may be louder
        gap_rms = 10 ** (rng.uniform(-3.7, -2.7) if self.trimmed else rng.uniform(-3.7, -2.0))
        if gap_rms > 2 * self.gap_rms:  # let the noise floor settle on a louder background
            self.blocks.append((self.length, gap_rms))
            self._append(np.zeros(2 * self.rate))
        else:
            self.blocks.append((self.length, gap_rms))
        self.gap_rms = gap_rms

    def add(self, x: np.ndarray, label: int, cut: bool = False) -> None:
        rng, rate = self.rng, self.rate
        if self.clips % self.BLOCK == 0:
            self._condition()
        self.clips += 1
        a, b = word_bounds(x, rate)
        if self.trimmed:
            x = x[max(a - rate // 50, 0):b + rate // 50]
            a, b = min(a, rate // 50), min(a, rate // 50) + (b - a)
            gain = rng.uniform(0.1, 0.9) / max(float(np.abs(x).max()), 1e-6)
        else:
            band = self._band(x)
            outside = np.concatenate([band[:max(a - rate // 20, 0)], band[b + rate // 20:]])
            if outside.shape[0] < rate // 10:  # the word fills the clip: its quietest frames
                frames = band[: x.shape[0] // (rate // 100) * (rate // 100)].reshape(-1, rate // 100)
                outside = frames[np.argsort(np.mean(frames**2, axis=1))[: frames.shape[0] // 5]]
            own_noise = float(np.sqrt(np.mean(outside**2)))
            gain = min(self.gap_rms / max(own_noise, 1e-9) * rng.uniform(0.5, 1.4),
                       0.95 / max(float(np.abs(x).max()), 1e-6))
        x = x * gain
        if cut:  # a pause longer than the hangover inside the word
            at = a + int(rng.uniform(0.3, 0.7) * (b - a))
            pause = np.zeros(int(rng.uniform(0.15, 0.3) * rate))
            x = np.concatenate([x[:at], pause, x[at:]])
            b += pause.shape[0]
            label = -1
        self._append(np.zeros(int(rng.uniform(0.35, 0.9) * rate)))
        self.spans.append((self.length + a, self.length + b, label))
        self._append(x)

    def add_noise_bursts(self, seconds: float) -> None:
        """Noise bursts over the background: what the endpointer finds there is NONE."""
        self._condition(trimmed=False)
        end = self.length + int(seconds * self.rate)
        while self.length < end:
            n = int(self.rng.uniform(0.05, 1.2) * self.rate)
            if self.rng.uniform() < 0.5:
                start = int(self.rng.integers(0, self.noise.shape[0] - n))
                level = self.gap_rms * 10 ** self.rng.uniform(0.6, 2.0) / self.noise_rms
                self._append(self.noise[start:start + n] * level)
            else:
                self._append(np.zeros(n))

    def audio(self) -> np.ndarray:
        """The stream: the pieces, one second of background after them, the background under it all."""
        self._append(np.zeros(self.rate))
        x = np.concatenate(self.pieces)
        background = np.resize(np.roll(self.noise, -int(self.rng.integers(self.noise.shape[0]))), x.shape[0])
        edges = [start for start, _ in self.blocks[1:]] + [x.shape[0]]
        for (start, rms), end in zip(self.blocks, edges):
            x[start:end] += background[start:end] * (rms / self.noise_rms)
        return x.astype(np.float32)


def background_noise(recordings: list[np.ndarray], config: KwsConfig) -> np.ndarray:
    """The noise recordings end to end, each high-passed at level_hp_hz and scaled to unit
    RMS: below the voice's range they hold nothing of use (and brown noise holds nearly all
    its power there), and one level then means the same loudness in each."""
    from scipy.signal import butter, sosfilt

    sos = butter(2, config.level_hp_hz, "highpass", fs=config.sample_rate_hz, output="sos")
    parts = [sosfilt(sos, np.asarray(r, np.float64)) for r in recordings]
    return np.concatenate([p / max(float(np.sqrt(np.mean(p**2))), 1e-12) for p in parts])


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """x played `factor` times faster (linear interpolation; > 1: shorter and higher)."""
    t = np.arange(0.0, x.shape[0] - 1, factor)
    return np.interp(t, np.arange(x.shape[0]), x)


def label_words(found: np.ndarray, spans: list[tuple[int, int, int]], audio: np.ndarray) -> np.ndarray:
    """Class of each found word [n, 2] (samples): that of the clip word whose energy it holds
    >= 70% of; NONE (0) if it holds <= 30% of every clip word's energy or any of a word cut
    in two; -1 (not used) in between. Energy, not duration: the loud bounds of a clip in
    strong noise reach far into the noise."""
    energy = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
    labels = np.zeros(found.shape[0], np.int64)
    for i, (a, b) in enumerate(found.tolist()):
        for s, e, label in spans:
            inside = energy[max(min(b, e), max(a, s))] - energy[max(a, s)]
            cover = inside / max(energy[e] - energy[s], 1e-12)
            if cover >= 0.7 and label >= 0:
                labels[i] = label
                break
            if cover > 0.3 and label >= 0:
                labels[i] = -1
    return labels


def train_model(root: str | Path, *, config: KwsConfig | None = None, max_per_class: int = 0, alpha: float = 0.3,
                cut_fraction: float = 0.1, augment: int = 2, speed_range: float = 0.12, progress: bool = False,
                seed: int = 0) -> KwsModel:
    """Train a KwsModel on the train split of a Speech-Commands-layout folder; alpha is the
    readout's L2 penalty; each clip is heard once more per `augment`, sped up or slowed
    down by up to `speed_range` (which scales tempo, pitch and formants together, like a
    shorter or longer vocal tract)."""
    from sources.datasets.speech_commands import KEYWORDS, load_noise, speech_commands_listing
    from sources.wav import read_wav

    t_begin = time.perf_counter()
    config = config or KwsConfig()
    config.check()
    refs, words = speech_commands_listing(root, split="train", task="words")
    keywords = [w for w in words if w in KEYWORDS]
    if not keywords:
        raise ConfigError(f"kws train: {root} has none of the keyword folders {KEYWORDS}")
    classes = [NONE, *keywords, *sorted(w for w in words if w not in keywords)]
    label_of = [classes.index(w) for w in words]
    rng = np.random.default_rng(seed)
    if max_per_class:
        by_word: dict[int, list] = {}
        for ref in refs:
            by_word.setdefault(ref.label, []).append(ref)
        refs = [r for group in by_word.values() for r in group[:max_per_class]]
    refs = [refs[i] for i in rng.permutation(len(refs))]
    noise = load_noise(root)
    noise_audio = background_noise([n for _, n in noise] or [rng.standard_normal(10 * config.sample_rate_hz)],
                                   config)
    rate = config.sample_rate_hz
    w_in = spiking_weights(config, int(config.cochlea.get("channels", 64)))
    threshold = np.full(config.neurons, 1.0)
    batches = [refs[i:i + STREAM_CLIPS] for i in range(0, len(refs), STREAM_CLIPS)]
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc="kws features", unit="stream")
    feats, labels, found_words, clip_words = [], [], 0, 0
    for batch in batches:
        builder = StreamBuilder(noise_audio, rate, rng, config.level_hp_hz)
        for ref in batch:
            x = read_wav(ref.key, sample_rate_hz=rate)[0][:, 0].astype(np.float64)
            label = label_of[ref.label]
            builder.add(x, label, cut=words[ref.label] in keywords and rng.uniform() < cut_fraction)
            for _ in range(augment):
                builder.add(change_speed(x, 1.0 + rng.uniform(-speed_range, speed_range)), label)
        builder.add_noise_bursts(0.1 * len(batch))
        audio = builder.audio()
        spans, f = stream_words(audio, config, w_in, threshold)
        y = label_words(spans, builder.spans, audio)
        found_words += int(np.sum(y > 0))
        clip_words += sum(1 for s in builder.spans if s[2] >= 0)
        feats.append(f[y >= 0])
        labels.append(y[y >= 0])
    X, y = np.concatenate(feats), np.concatenate(labels)
    mean, scale = X.mean(axis=0), X.std(axis=0) + 0.1
    readout = fit_readout((X - mean) / scale, y, len(classes), hidden=config.hidden, alpha=alpha, seed=seed)
    info: dict[str, Any] = {"data": str(root), "clips": len(refs), "words": int(X.shape[0]),
                            "none_words": int(np.sum(y == 0)),
                            "endpointed_fraction": round(found_words / max(clip_words, 1), 4),
                            "train_word_accuracy": readout.pop("train_accuracy"),
                            "train_seconds": round(time.perf_counter() - t_begin, 1)}
    return KwsModel(config=config, classes=classes, keywords=keywords, w_in=w_in, threshold=threshold, mean=mean,
                    scale=scale, info=info, **readout)
