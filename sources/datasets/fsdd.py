"""Free Spoken Digit Dataset: `{digit}_{speaker}_{index}.wav`, mono 8 kHz, and its splits.

Standard split (the data set's README): recordings with index 0-4 are the test set, 5-49
the training set. Held-out-speaker split: every recording of `test_speaker` is the test
set, the other speakers' recordings the training set.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError, FormatError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample
from sources.datasets._audio import AudioReplay, load_mono_wav
from sources.datasets._replay import SampleRef

FSDD_RATE_HZ = 8000
FSDD_CLASSES = [str(d) for d in range(10)]
SPLITS = ("train", "test", "all")
SPLIT_KINDS = ("standard", "speaker")
_NAME = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[A-Za-z]+)_(?P<index>[0-9]+)\.wav$")


def recordings_dir(root: str | Path) -> Path:
    """`root` itself or its `recordings/` folder, whichever holds the WAV files."""
    root = Path(root)
    if (root / "recordings").is_dir():
        return root / "recordings"
    if not root.is_dir():
        raise FormatError(f"FSDD: {root} is not a directory")
    return root


def parse_name(name: str) -> tuple[int, str, int] | None:
    """(digit, speaker, index) from a file name, or None when it is not an FSDD name."""
    m = _NAME.match(name)
    if m is None:
        return None
    return int(m["digit"]), m["speaker"], int(m["index"])


def fsdd_listing(root: str | Path, split: str = "train", split_kind: str = "standard",
                 test_speaker: str = "theo") -> list[SampleRef]:
    """The split's recordings sorted by file name; label = digit, meta speaker.

    Files that are not named `{digit}_{speaker}_{index}.wav` are skipped with a warning.
    """
    if split not in SPLITS:
        raise ConfigError(f"fsdd: split must be one of {SPLITS}, got {split!r}")
    if split_kind not in SPLIT_KINDS:
        raise ConfigError(f"fsdd: split_kind must be one of {SPLIT_KINDS}, got {split_kind!r}")
    folder = recordings_dir(root)
    refs, odd = [], []
    speakers = set()
    for path in sorted(folder.glob("*.wav")):
        parsed = parse_name(path.name)
        if parsed is None:
            odd.append(path.name)
            continue
        digit, speaker, index = parsed
        speakers.add(speaker)
        in_test = index <= 4 if split_kind == "standard" else speaker == test_speaker
        if split == "all" or (split == "test") == in_test:
            refs.append(SampleRef(path.stem, digit, str(path), {"speaker": speaker}))
    if odd:
        warnings.warn(f"fsdd: skipped {len(odd)} file(s) in {folder} not named "
                      f"{{digit}}_{{speaker}}_{{index}}.wav, e.g. {odd[:3]}", stacklevel=2)
    if split_kind == "speaker" and speakers and test_speaker not in speakers:
        raise ConfigError(f"fsdd: test_speaker {test_speaker!r} has no recordings in {folder}; "
                          f"speakers: {sorted(speakers)}")
    if not refs and not speakers:
        raise FormatError(f"fsdd: no {{digit}}_{{speaker}}_{{index}}.wav recordings in {folder}")
    return refs


@register_stage("fsdd_replay")
class FSDDReplay(AudioReplay):
    """Replay a split of the Free Spoken Digit Dataset as 8 kHz mono signal chunks, one
    sample after another, with meta sample_id (file stem), label (digit) and speaker.

    Parameters: root (folder holding the WAVs or their `recordings/` folder); split
    ("train", "test", "all"); split_kind ("standard": index 0-4 test; "speaker": all of
    `test_speaker` test); chunk_us (chunk length, µs); shuffle, seed (order); indices
    (positions in the split listing to replay; empty = all); limit (first N, 0 = all);
    on_error ("raise", or "skip" bad files with a counted warning). Pacing is the
    pipeline node option `speed`.
    """

    sample_rate_hz = FSDD_RATE_HZ

    def __init__(self, root: str = "", split: str = "train", split_kind: str = "standard",
                 test_speaker: str = "theo", chunk_us: int = 10_000, shuffle: bool = False, seed: int = 0,
                 indices: list[int] | tuple[int, ...] = (), limit: int = 0, on_error: str = "raise") -> None:
        self.root = root
        self.split = split
        self.split_kind = split_kind
        self.test_speaker = test_speaker
        self.chunk_us = chunk_us
        self.shuffle = shuffle
        self.seed = seed
        self.indices = indices
        self.limit = limit
        self.on_error = on_error

    def refs(self) -> list[SampleRef]:
        return fsdd_listing(self.root, self.split, self.split_kind, self.test_speaker)

    def load(self, ref: SampleRef) -> np.ndarray:
        return load_mono_wav(ref.key, FSDD_RATE_HZ)

    def class_names(self) -> list[str]:
        return list(FSDD_CLASSES)

    @classmethod
    def contract_example(cls) -> ContractExample:
        root = str(Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fsdd")
        params: dict[str, Any] = {"root": root, "split": "test", "indices": [0, 7, 31], "shuffle": True, "seed": 3}
        return ContractExample({**params, "chunk_us": 10_000}, None,
                               variants=[{**params, "chunk_us": 3_333}, {**params, "chunk_us": 10**7}])
