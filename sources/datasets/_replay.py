"""Shared machinery of the data-set replay sources: which samples, in what order, and how
one sample becomes chunks on the stream's timeline.

Samples sit back to back on one stream (events: optionally with a gap); chunk edges fall
at multiples of `chunk_us` of stream time and at every sample boundary, so no chunk
straddles two samples and the payload does not depend on `chunk_us`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.chunks import EventChunk, Geometry, SignalChunk, sample_time
from pipeline.errors import ConfigError


@dataclass(frozen=True)
class SampleRef:
    """One sample of a split: its id, integer label (-1 unknown), where to load it from,
    and extra JSON-able metadata (speaker, ...)."""

    sample_id: str
    label: int
    key: Any
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def select_samples(refs: Sequence[SampleRef], *, indices: Sequence[int] = (), shuffle: bool = False,
                   seed: int = 0, limit: int = 0, where: str = "replay") -> list[SampleRef]:
    """The samples to replay: `indices` (positions in the split listing; all when empty),
    shuffled with `seed` if asked, then cut to the first `limit` (0 = all)."""
    n = len(refs)
    if indices:
        bad = [int(i) for i in indices if not 0 <= int(i) < n]
        if bad:
            raise ConfigError(f"{where}: indices {bad[:5]} outside the split's {n} samples")
        order = [int(i) for i in indices]
    else:
        order = list(range(n))
    if shuffle:
        perm = np.random.default_rng(seed).permutation(len(order))
        order = [order[i] for i in perm]
    if limit and limit > 0:
        order = order[:limit]
    return [refs[i] for i in order]


def check_chunk_us(chunk_us: int, where: str) -> None:
    if not isinstance(chunk_us, int) or chunk_us <= 0:
        raise ConfigError(f"{where}: chunk_us must be a positive integer (µs), got {chunk_us!r}")


def sample_meta(ref: SampleRef) -> dict[str, Any]:
    return {"sample_id": ref.sample_id, "label": int(ref.label), **ref.extra}


def _with_bounds(meta: dict[str, Any], first: bool, last: bool) -> dict[str, Any]:
    out = dict(meta)
    if first:
        out["sample_start"] = True
    if last:
        out["sample_end"] = True
    return out


def signal_sample_chunks(samples: np.ndarray, rate: int, k0: int, chunk_us: int, meta: dict[str, Any]
                         ) -> Iterator[SignalChunk]:
    """Chunks of one audio sample whose first sample is sample `k0` of the stream (stream
    sample k is stamped k * 1e6 // rate). `samples` is float32 [n, channels], n > 0."""
    n = samples.shape[0]
    t_a, t_b = sample_time(0, k0, rate), sample_time(0, k0 + n, rate)
    edges = np.arange((t_a // chunk_us + 1) * chunk_us, t_b, chunk_us, dtype=np.int64)
    # first stream sample stamped at or after each edge: ceil(edge * rate / 1e6)
    ks = -((-edges * rate) // 1_000_000)
    bounds = np.unique(np.concatenate([[k0], np.clip(ks, k0, k0 + n), [k0 + n]]))
    geometry = Geometry(channels=samples.shape[1], sample_rate_hz=rate)
    last = len(bounds) - 2
    for i, (a, b) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
        yield SignalChunk(t_start=int(sample_time(0, a, rate)), t_end=int(sample_time(0, b, rate)),
                          samples=np.ascontiguousarray(samples[a - k0:b - k0]), first_sample=a,
                          geometry=geometry, meta=_with_bounds(meta, i == 0, i == last))


def event_sample_chunks(events: np.ndarray, t0: int, span_us: int, chunk_us: int, geometry: Geometry,
                        meta: dict[str, Any]) -> Iterator[EventChunk]:
    """Chunks of one event sample placed at stream time t0 and covering [t0, t0 + span_us).

    `events` are EVENT_DTYPE with times already absolute (t0 added) and sorted."""
    t_b = t0 + span_us
    edges = np.arange((t0 // chunk_us + 1) * chunk_us, t_b, chunk_us, dtype=np.int64)
    cuts = np.concatenate([[t0], edges, [t_b]])
    idx = np.searchsorted(events["t"], cuts, side="left")
    last = len(cuts) - 2
    for i in range(len(cuts) - 1):
        yield EventChunk(t_start=int(cuts[i]), t_end=int(cuts[i + 1]), geometry=geometry,
                         events=np.ascontiguousarray(events[idx[i]:idx[i + 1]]),
                         meta=_with_bounds(meta, i == 0, i == last))


class SkipLog:
    """Counts samples skipped for bad input, warns once per sample, keeps the first reasons."""

    def __init__(self, where: str, keep: int = 20) -> None:
        self.where = where
        self.keep = keep
        self.count = 0
        self.reasons: list[str] = []

    def skip(self, reason: str) -> None:
        self.count += 1
        if len(self.reasons) < self.keep:
            self.reasons.append(reason)
        warnings.warn(f"{self.where}: skipped a sample: {reason}", stacklevel=3)

    def to_dict(self) -> dict[str, Any]:
        return {"skipped": self.count, "skip_reasons": list(self.reasons)}


def check_on_error(on_error: str, where: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ConfigError(f"{where}: on_error must be 'raise' or 'skip', got {on_error!r}")
