"""Checks every stage must pass (the scikit-learn `check_estimator` idea).

`check_stage` runs a stage over a stream whole and in random chunkings (including empty
chunks) and asserts identical output; it also checks end-of-stream flushing, empty-chunk
handling and that a chunk of the wrong kind raises a ValueError with a message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from pipeline.chunks import Chunk, EndOfStream, EventChunk, FrameChunk, Geometry, SignalChunk, ValueChunk
from pipeline.events import empty_events
from pipeline.rechunk import join, split_at
from pipeline.stage import Source, Stage


def run_stage(stage: Stage, chunks: Sequence[Chunk]) -> list[Chunk]:
    """Feed chunks through a stage and flush it; return every output chunk."""
    out: list[Chunk] = []
    for chunk in chunks:
        for array in chunk.arrays().values():
            array.flags.writeable = False
        out.extend(stage.process(chunk))
    out.extend(stage.flush())
    return [c for c in out if not isinstance(c, EndOfStream)]


def run_source(source: Source) -> list[Chunk]:
    return [c for c in source.chunks() if not isinstance(c, EndOfStream)]


def payload(chunks: Sequence[Chunk]) -> dict[str, np.ndarray]:
    """The concatenated arrays of a run of output chunks, per kind and array name."""
    result: dict[str, list[np.ndarray]] = {}
    for c in chunks:
        for name, array in c.arrays().items():
            result.setdefault(f"{c.kind}.{name}", []).append(array)
    return {k: np.concatenate(v) for k, v in result.items()}


def assert_same_payload(a: Sequence[Chunk], b: Sequence[Chunk], what: str = "") -> None:
    pa, pb = payload(a), payload(b)
    assert pa.keys() == pb.keys(), f"{what}: output kinds differ: {sorted(pa)} vs {sorted(pb)}"
    for k in pa:
        assert pa[k].shape == pb[k].shape, f"{what}: {k} shape {pa[k].shape} vs {pb[k].shape}"
        assert np.array_equal(pa[k], pb[k]), f"{what}: {k} differs at {np.flatnonzero(pa[k] != pb[k])[:5]}"


def assert_tiles(chunks: Sequence[Chunk], what: str = "") -> None:
    """Output chunks of one stream must tile time: each starts where the previous ended."""
    by_stream: dict[str, list[Chunk]] = {}
    for c in chunks:
        c.validate()
        by_stream.setdefault(c.stream, []).append(c)
    for stream, cs in by_stream.items():
        for prev, nxt in zip(cs[:-1], cs[1:]):
            assert nxt.t_start == prev.t_end, (
                f"{what}: stream {stream!r} has a gap or overlap: {prev.t_end} then {nxt.t_start}"
            )


def random_rechunk(chunks: Sequence[Chunk], rng: np.random.Generator, n_cuts: int) -> list[Chunk]:
    """The same stream re-cut at random times, with some empty chunks."""
    whole = join(chunks)
    span = whole.t_end - whole.t_start
    cuts = rng.integers(whole.t_start + 1, whole.t_end, size=n_cuts) if span > 1 else []
    pieces = split_at(whole, cuts)
    if isinstance(whole, SignalChunk):
        return pieces
    out = []
    for piece in pieces:  # an empty chunk right at the start of a piece's span
        out.append(piece.replace(t_end=piece.t_start, **{n: a[:0] for n, a in piece.arrays().items()}))
        out.append(piece)
    return out


def check_stage(make_stage: Callable[[], Stage], chunks: Sequence[Chunk], *, seed: int = 0,
                chunkings: int = 3, wrong_input: Chunk | None = None) -> list[Chunk]:
    """Run the shared stage contract; returns the whole-stream output for further checks."""
    name = type(make_stage()).__name__
    whole = run_stage(make_stage(), [join(chunks)])
    assert_tiles(whole, f"{name} whole")
    rng = np.random.default_rng(seed)
    for i in range(chunkings):
        pieces = random_rechunk(chunks, rng, n_cuts=int(rng.integers(3, 40)))
        out = run_stage(make_stage(), pieces)
        assert_tiles(out, f"{name} chunking {i}")
        assert_same_payload(whole, out, f"{name} chunking {i} vs whole")
    stage = make_stage()
    first = join(chunks)
    empty = first.replace(t_end=first.t_start, **{n: a[:0] for n, a in first.arrays().items()})
    stage.process(empty)  # must not raise
    if wrong_input is None:
        wrong_input = _wrong_kind(stage, first.t_start)
    if wrong_input is not None:
        try:
            make_stage().process(wrong_input)
        except ValueError as exc:
            assert str(exc), f"{name}: ValueError without a message"
        else:
            raise AssertionError(f"{name} accepted a {wrong_input.kind} chunk without complaint")
    return whole


def _wrong_kind(stage: Stage, t: int) -> Chunk | None:
    """An empty chunk of a kind the stage does not accept (None if it accepts them all)."""
    candidates = [
        EventChunk(t_start=t, t_end=t + 1, events=empty_events()),
        ValueChunk(t_start=t, t_end=t + 1, values=np.zeros((0, 1), np.float32), times=np.zeros(0, np.int64)),
        FrameChunk(t_start=t, t_end=t + 1, frames=np.zeros((0, 2, 2), np.uint8), times=np.zeros(0, np.int64)),
        SignalChunk(t_start=t, t_end=t + 1, samples=np.zeros((0, 1), np.float32),
                    geometry=Geometry(channels=1, sample_rate_hz=1000)),
    ]
    return next((c for c in candidates if c.kind not in stage.accepts), None)
