"""Base of the audio data-set replay sources (FSDD, Speech Commands): list a split, load
each sample, emit it as signal chunks back to back on one 1-channel stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pipeline.chunks import Chunk
from pipeline.errors import FormatError
from pipeline.stage import Source
from sources.datasets._replay import (
    SampleRef,
    SkipLog,
    check_chunk_us,
    check_on_error,
    sample_meta,
    select_samples,
    signal_sample_chunks,
)
from sources.wav import read_wav


def load_mono_wav(path: str | Path, rate: int) -> np.ndarray:
    """A mono WAV at exactly `rate` Hz as float32 [n, 1]; FormatError naming the file and
    the field for another rate, two channels, a truncated or an empty file."""
    samples, _ = read_wav(path, sample_rate_hz=rate, channels=1)
    if samples.shape[0] == 0:
        raise FormatError(f"{path}: empty: no audio frames (field 'nframes' is 0)")
    return samples


class AudioReplay(Source):
    """Subclasses set `sample_rate_hz`, and implement `refs()` (the split listing, in a
    fixed order) and `load(ref)` (float32 [n, 1])."""

    sample_rate_hz: ClassVar[int] = 0

    def refs(self) -> list[SampleRef]:
        raise NotImplementedError

    def load(self, ref: SampleRef) -> np.ndarray:
        raise NotImplementedError

    def class_names(self) -> list[str]:
        raise NotImplementedError

    def _where(self) -> str:
        return getattr(self, "registered_name", type(self).__name__)

    def reset(self) -> None:
        self._skips = SkipLog(self._where())
        self._emitted = 0
        self._audio_s = 0.0

    def chunks(self) -> Iterator[Chunk]:
        where = self._where()
        check_chunk_us(self.chunk_us, where)
        check_on_error(self.on_error, where)
        self.reset()
        chosen = select_samples(self.refs(), indices=self.indices, shuffle=self.shuffle, seed=self.seed,
                                limit=self.limit, where=where)
        k = 0
        for ref in chosen:
            try:
                samples = self.load(ref)
            except FormatError as exc:
                if self.on_error == "raise":
                    raise
                self._skips.skip(str(exc))
                continue
            yield from signal_sample_chunks(samples, self.sample_rate_hz, k, self.chunk_us, sample_meta(ref))
            k += samples.shape[0]
            self._emitted += 1
            self._audio_s += samples.shape[0] / self.sample_rate_hz

    def result(self) -> dict[str, Any]:
        if not hasattr(self, "_skips"):
            return {}
        return {"samples": self._emitted, "audio_s": round(self._audio_s, 3), **self._skips.to_dict()}
