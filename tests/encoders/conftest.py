"""Shared helpers for encoder tests: real speech from FSDD and signal chunking."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.chunks import Geometry, SignalChunk, sample_time

FSDD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fsdd" / "recordings"


def read_fsdd(name: str) -> np.ndarray:
    """A 16-bit FSDD recording (8 kHz mono) as float32 [n] in [-1, 1)."""
    path = FSDD / name
    if not path.exists():
        pytest.skip(f"FSDD recording {path} not available")
    with wave.open(str(path), "rb") as w:
        raw = w.readframes(w.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def signal_chunks(samples: np.ndarray, rate: int, cuts: list[int], t0: int = 0, meta: dict | None = None
                  ) -> list[SignalChunk]:
    """Signal chunks of `samples` [n, ch] cut before the given sample indices."""
    samples = samples if samples.ndim == 2 else samples[:, None]
    edges = [0, *sorted(set(cuts)), samples.shape[0]]
    return [SignalChunk(t_start=int(sample_time(t0, a, rate)), t_end=int(sample_time(t0, b, rate)),
                        samples=np.ascontiguousarray(samples[a:b], dtype=np.float32), first_sample=a,
                        geometry=Geometry(channels=samples.shape[1], sample_rate_hz=rate), meta=dict(meta or {}))
            for a, b in zip(edges[:-1], edges[1:])]


def random_cuts(n: int, k: int, seed: int) -> list[int]:
    return sorted(np.random.default_rng(seed).integers(1, n, size=k).tolist())
