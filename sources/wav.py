"""WAV files: a reader with clear errors and a chunked, paced source stage."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pipeline.chunks import Chunk, Geometry, SignalChunk, sample_time
from pipeline.errors import FormatError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Source

_PCM = {1: ("u1", 128.0, 128.0), 2: ("<i2", 0.0, 32768.0), 4: ("<i4", 0.0, 2147483648.0)}


def read_wav(path: str | Path, *, sample_rate_hz: int | None = None, channels: int | None = None
             ) -> tuple[np.ndarray, int]:
    """Read a PCM WAV file as float32 [samples, channels] in [-1, 1) and its sample rate.

    `sample_rate_hz`/`channels`, when given, are required: a file that differs raises
    FormatError naming the file and the field.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            n_channels, width, rate, n_frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n_frames)
    except FileNotFoundError:
        raise
    except (wave.Error, EOFError) as exc:
        raise FormatError(f"{path}: not a readable PCM WAV file ({exc})") from None
    if width not in _PCM:
        raise FormatError(f"{path}: sample width {8 * width} bits not supported (8, 16, 32-bit PCM)")
    if sample_rate_hz is not None and rate != sample_rate_hz:
        raise FormatError(f"{path}: sample rate {rate} Hz, expected {sample_rate_hz} Hz (field 'framerate')")
    if channels is not None and n_channels != channels:
        raise FormatError(f"{path}: {n_channels} channels, expected {channels} (field 'nchannels')")
    whole = len(raw) // (width * n_channels)
    if whole < n_frames:
        raise FormatError(f"{path}: truncated: header declares {n_frames} frames, data holds {whole} "
                          f"(data ends at byte {44 + len(raw)})")
    dtype, offset, scale = _PCM[width]
    samples = (np.frombuffer(raw[: whole * width * n_channels], dtype=dtype).astype(np.float32) - offset) / scale
    return samples.reshape(-1, n_channels), rate


def write_wav(path: str | Path, samples: np.ndarray, sample_rate_hz: int) -> None:
    """Write float samples in [-1, 1] ([n] or [n, channels]) as 16-bit PCM."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[:, None]
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate_hz))
        w.writeframes(pcm.tobytes())


@register_stage("wav_source")
class WavSource(Source):
    """Stream a WAV file as signal chunks of `chunk_us` µs (the last one may be shorter).

    Parameters: path; chunk_us (chunk length, µs); sample_rate_hz (required rate, or 0 for
    the file's); mono (average channels); label (sample label put in chunk metadata);
    t0_us (stamp of the first sample).
    """

    def __init__(self, path: str = "", chunk_us: int = 10_000, sample_rate_hz: int = 0, mono: bool = True,
                 label: int = -1, t0_us: int = 0) -> None:
        self.path = path
        self.chunk_us = chunk_us
        self.sample_rate_hz = sample_rate_hz
        self.mono = mono
        self.label = label
        self.t0_us = t0_us

    def chunks(self) -> Iterator[Chunk]:
        if self.chunk_us <= 0:
            raise FormatError(f"wav_source: chunk_us must be > 0, got {self.chunk_us}")
        samples, rate = read_wav(self.path, sample_rate_hz=self.sample_rate_hz or None)
        if self.mono and samples.shape[1] > 1:
            samples = samples.mean(axis=1, keepdims=True)
        geometry = Geometry(channels=samples.shape[1], sample_rate_hz=rate)
        n = samples.shape[0]
        # chunk edges at the first sample stamped at or after each multiple of chunk_us
        edges = np.arange(0, sample_time(0, n, rate) + self.chunk_us, self.chunk_us, dtype=np.int64)
        first = np.unique(np.minimum(-((-edges * rate) // 1_000_000), n))
        bounds = [int(i) for i in first if i < n] + [n]
        meta = {"sample_id": Path(self.path).stem, "label": int(self.label)}
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            chunk_meta = dict(meta)
            if i == 0:
                chunk_meta["sample_start"] = True
            if b == n:
                chunk_meta["sample_end"] = True
            yield SignalChunk(t_start=int(sample_time(self.t0_us, a, rate)), t_end=int(sample_time(self.t0_us, b, rate)),
                              samples=np.ascontiguousarray(samples[a:b]), first_sample=a, geometry=geometry,
                              meta=chunk_meta)

    @classmethod
    def contract_example(cls) -> ContractExample:
        path = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fsdd" / "recordings" / "3_theo_7.wav"
        return ContractExample({"path": str(path), "chunk_us": 10_000}, None,
                               variants=[{"path": str(path), "chunk_us": 3_333}, {"path": str(path), "chunk_us": 10**7}])
