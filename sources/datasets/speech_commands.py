"""Google Speech Commands v0.02 layout: one folder per word of 16 kHz mono 1 s WAVs,
`validation_list.txt` / `testing_list.txt` naming the files of those splits (paths
relative to the root, e.g. `right/bb05582b_nohash_0.wav`), every other file training,
and `_background_noise_/` holding long noise recordings.

Tasks: "words" (every word folder is a class: the 35-word task on v0.02) and "12class"
(the ten keywords, `_silence_` clips cut from the background noise and `_unknown_`: a
sample of the other words), as in the data set's paper and TensorFlow's recipe.
Background mixing follows that recipe too: on the mixed splits, with probability
`background_frequency` a random 1 s stretch of a random noise file, scaled by a volume
drawn from [0, background_volume], is added. All randomness is drawn from (seed,
sample id), so a sample sounds the same whatever the order or the shard it is replayed in.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError, FormatError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample
from sources.datasets._audio import AudioReplay, load_mono_wav
from sources.datasets._replay import SampleRef

GSC_RATE_HZ = 16_000
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE, UNKNOWN = "_silence_", "_unknown_"
NOISE_DIR = "_background_noise_"
SPLITS = ("train", "validation", "test")
TASKS = ("words", "12class")


def _read_list(root: Path, name: str) -> set[str]:
    path = root / name
    if not path.is_file():
        raise FormatError(f"speech commands: {path} missing (the split list file {name!r} of the v0.02 layout)")
    return {line.strip().replace("\\", "/") for line in path.read_text().splitlines() if line.strip()}


def word_folders(root: str | Path) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        raise FormatError(f"speech commands: {root} is not a directory")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))


def split_of(relative: str, validation: set[str], testing: set[str]) -> str:
    """The split a file belongs to: named in a list file, else training."""
    if relative in testing:
        return "test"
    if relative in validation:
        return "validation"
    return "train"


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(key.encode())])


def speech_commands_listing(root: str | Path, split: str = "train", task: str = "words",
                            silence_fraction: float = 0.1, unknown_fraction: float = 0.1,
                            seed: int = 0) -> tuple[list[SampleRef], list[str]]:
    """The split's samples (sorted by path; for "12class" the unknown subsample and the
    silence clips appended) and the class names, label i = class_names[i]."""
    if split not in SPLITS:
        raise ConfigError(f"speech commands: split must be one of {SPLITS}, got {split!r}")
    if task not in TASKS:
        raise ConfigError(f"speech commands: task must be one of {TASKS}, got {task!r}")
    root = Path(root)
    words = word_folders(root)
    if not words:
        raise FormatError(f"speech commands: no word folders in {root}")
    validation, testing = _read_list(root, "validation_list.txt"), _read_list(root, "testing_list.txt")
    files = []
    for word in words:
        for path in sorted((root / word).glob("*.wav")):
            relative = f"{word}/{path.name}"
            if split_of(relative, validation, testing) == split:
                files.append((word, relative, path))
    if task == "words":
        index = {w: i for i, w in enumerate(words)}
        return [SampleRef(rel, index[w], str(p)) for w, rel, p in files], words
    classes = [SILENCE, UNKNOWN, *KEYWORDS]
    index = {w: i for i, w in enumerate(classes)}
    refs = [SampleRef(rel, index[w], str(p)) for w, rel, p in files if w in KEYWORDS]
    n_keywords = len(refs)
    others = [(rel, p) for w, rel, p in files if w not in KEYWORDS]
    n_unknown = min(len(others), int(round(unknown_fraction * n_keywords)))
    if n_unknown:
        pick = np.sort(_rng(seed, f"unknown/{split}").choice(len(others), n_unknown, replace=False))
        refs += [SampleRef(others[i][0], index[UNKNOWN], str(others[i][1])) for i in pick.tolist()]
    n_silence = int(round(silence_fraction * n_keywords))
    refs += [SampleRef(f"{SILENCE}/{split}_{i}", index[SILENCE], None) for i in range(n_silence)]
    return refs, classes


def load_noise(root: str | Path) -> list[tuple[str, np.ndarray]]:
    """The background noise recordings (16 kHz mono), sorted by name."""
    folder = Path(root) / NOISE_DIR
    if not folder.is_dir():
        return []
    return [(p.name, load_mono_wav(p, GSC_RATE_HZ)[:, 0]) for p in sorted(folder.glob("*.wav"))]


def noise_snippet(noise: list[tuple[str, np.ndarray]], n: int, rng: np.random.Generator) -> np.ndarray:
    """A random stretch of n samples from a random noise recording (tiled if shorter)."""
    _, clip = noise[int(rng.integers(len(noise)))]
    if clip.shape[0] < n:
        clip = np.tile(clip, -(-n // clip.shape[0]))
    start = int(rng.integers(clip.shape[0] - n + 1))
    return clip[start:start + n]


def fit_length(samples: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad at the end or cut to n samples (0 keeps the length)."""
    if n <= 0 or samples.shape[0] == n:
        return samples
    if samples.shape[0] > n:
        return samples[:n]
    return np.concatenate([samples, np.zeros((n - samples.shape[0], samples.shape[1]), samples.dtype)])


@register_stage("speech_commands_replay")
class SpeechCommandsReplay(AudioReplay):
    """Replay a split of a Speech Commands v0.02-layout folder as 16 kHz mono signal
    chunks with meta sample_id (path relative to the root) and label.

    Parameters: root; split ("train", "validation", "test"); task ("words": every word
    folder a class; "12class": 10 keywords + _unknown_ + _silence_); clip_samples (pad
    or cut every clip to this many samples, 0 keeps each length); background_frequency,
    background_volume (noise mixing, applied on `background_splits`); silence_fraction,
    unknown_fraction (12class: share of silence clips and unknown words, relative to the
    keyword samples); chunk_us; shuffle, seed; indices; limit; on_error ("raise"/"skip").
    """

    sample_rate_hz = GSC_RATE_HZ

    def __init__(self, root: str = "", split: str = "train", task: str = "words", clip_samples: int = GSC_RATE_HZ,
                 background_frequency: float = 0.8, background_volume: float = 0.1,
                 background_splits: list[str] | tuple[str, ...] = ("train",), silence_fraction: float = 0.1,
                 unknown_fraction: float = 0.1, chunk_us: int = 10_000, shuffle: bool = False, seed: int = 0,
                 indices: list[int] | tuple[int, ...] = (), limit: int = 0, on_error: str = "raise") -> None:
        self.root = root
        self.split = split
        self.task = task
        self.clip_samples = clip_samples
        self.background_frequency = background_frequency
        self.background_volume = background_volume
        self.background_splits = background_splits
        self.silence_fraction = silence_fraction
        self.unknown_fraction = unknown_fraction
        self.chunk_us = chunk_us
        self.shuffle = shuffle
        self.seed = seed
        self.indices = indices
        self.limit = limit
        self.on_error = on_error

    def _listing(self) -> tuple[list[SampleRef], list[str]]:
        if not hasattr(self, "_cached_listing"):
            self._cached_listing = speech_commands_listing(self.root, self.split, self.task, self.silence_fraction,
                                                           self.unknown_fraction, self.seed)
        return self._cached_listing

    def refs(self) -> list[SampleRef]:
        return self._listing()[0]

    def class_names(self) -> list[str]:
        return list(self._listing()[1])

    def _noise(self) -> list[tuple[str, np.ndarray]]:
        if not hasattr(self, "_noise_clips"):
            self._noise_clips = load_noise(self.root)
        return self._noise_clips

    def load(self, ref: SampleRef) -> np.ndarray:
        rng = _rng(self.seed, ref.sample_id)
        n = self.clip_samples if self.clip_samples > 0 else GSC_RATE_HZ
        if ref.key is None:  # a silence clip: background noise only, at a random volume
            noise = self._noise()
            if not noise:
                raise FormatError(f"speech commands: {Path(self.root) / NOISE_DIR} has no noise WAVs to cut "
                                  f"silence clips from (set silence_fraction = 0)")
            return (noise_snippet(noise, n, rng) * rng.uniform(0.0, 1.0)).astype(np.float32)[:, None]
        samples = fit_length(load_mono_wav(ref.key, GSC_RATE_HZ), self.clip_samples)
        if self.split in self.background_splits and self._noise() and rng.uniform() < self.background_frequency:
            volume = rng.uniform(0.0, self.background_volume)
            mixed = samples[:, 0] + volume * noise_snippet(self._noise(), samples.shape[0], rng)
            samples = np.clip(mixed, -1.0, 1.0).astype(np.float32)[:, None]
        return samples

    @classmethod
    def contract_example(cls) -> ContractExample:
        from sources.datasets.synth_keywords import contract_tree

        root = str(contract_tree())
        params: dict[str, Any] = {"root": root, "split": "train", "task": "12class", "silence_fraction": 0.5,
                                  "unknown_fraction": 1.0, "limit": 4, "shuffle": True, "seed": 1}
        return ContractExample({**params, "chunk_us": 10_000}, None,
                               variants=[{**params, "chunk_us": 7_777}, {**params, "chunk_us": 10**7}])
