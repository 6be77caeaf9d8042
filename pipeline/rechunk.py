"""Split and join chunks of one stream; used by tests of chunking invariance and by stages
that re-window a stream."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.chunks import Chunk, EndOfStream, EventChunk, FrameChunk, SignalChunk, ValueChunk, sample_time
from pipeline.errors import ChunkError


def join(chunks: Sequence[Chunk]) -> Chunk:
    """One chunk covering a tiled run of chunks of the same kind (end markers ignored)."""
    chunks = [c for c in chunks if not isinstance(c, EndOfStream)]
    if not chunks:
        raise ChunkError("join: no chunks")
    first, last = chunks[0], chunks[-1]
    kind = type(first)
    if any(type(c) is not kind for c in chunks):
        raise ChunkError("join: chunks of different kinds")
    common = dict(t_start=first.t_start, t_end=last.t_end, stream=first.stream, seq=first.seq,
                  geometry=first.geometry, meta=dict(first.meta))
    if kind is EventChunk:
        return EventChunk(events=np.concatenate([c.events for c in chunks]), **common)
    if kind is SignalChunk:
        return SignalChunk(samples=np.concatenate([c.samples for c in chunks]), first_sample=first.first_sample,
                           **common)
    if kind is FrameChunk:
        return FrameChunk(frames=np.concatenate([c.frames for c in chunks]),
                          times=np.concatenate([c.times for c in chunks]), **common)
    if kind is ValueChunk:
        return ValueChunk(values=np.concatenate([c.values for c in chunks]),
                          times=np.concatenate([c.times for c in chunks]), names=first.names, **common)
    raise ChunkError(f"join: cannot join {kind.__name__}")


def split_at(chunk: Chunk, boundaries: Sequence[int]) -> list[Chunk]:
    """Split a chunk at the given times (µs, inside its span) into chunks that tile its span.

    Signal chunks split at the first sample stamped at or after each boundary, so their
    spans stay on sample stamps. Sequence numbers count up from the chunk's seq.
    """
    cuts = sorted({int(b) for b in boundaries if chunk.t_start < b < chunk.t_end})
    return _mark_sample_edges(chunk, _split(chunk, cuts))


def _mark_sample_edges(whole: Chunk, pieces: list[Chunk]) -> list[Chunk]:
    """Only the first piece keeps `sample_start` and only the last keeps `sample_end`."""
    for i, piece in enumerate(pieces):
        meta = dict(whole.meta)
        if i > 0:
            meta.pop("sample_start", None)
        if i < len(pieces) - 1:
            meta.pop("sample_end", None)
        piece.meta = meta
    return pieces


def _split(chunk: Chunk, cuts: list[int]) -> list[Chunk]:
    if isinstance(chunk, SignalChunk):
        rate = chunk.geometry.sample_rate_hz
        t0 = chunk.t_start - (chunk.first_sample * 1_000_000) // rate
        stamps = sample_time(t0, np.arange(chunk.first_sample, chunk.first_sample + chunk.samples.shape[0]), rate)
        idx = np.searchsorted(stamps, cuts, side="left")
        edges = [0, *idx.tolist(), chunk.samples.shape[0]]
        out = []
        for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
            t_a = chunk.t_start if a == 0 else int(sample_time(t0, chunk.first_sample + a, rate))
            t_b = chunk.t_end if b == chunk.samples.shape[0] else int(sample_time(t0, chunk.first_sample + b, rate))
            out.append(chunk.replace(samples=chunk.samples[a:b], first_sample=chunk.first_sample + a,
                                     t_start=t_a, t_end=t_b, seq=chunk.seq + i))
        return out
    times = chunk.events["t"] if isinstance(chunk, EventChunk) else getattr(chunk, "times", None)
    spans = list(zip([chunk.t_start, *cuts], [*cuts, chunk.t_end]))
    out = []
    for i, (a, b) in enumerate(spans):
        changes: dict = dict(t_start=a, t_end=b, seq=chunk.seq + i)
        if times is not None:
            lo, hi = np.searchsorted(times, [a, b], side="left")
            for name in chunk.array_specs:
                changes[name] = getattr(chunk, name)[lo:hi]
        out.append(chunk.replace(**changes))
    return out
