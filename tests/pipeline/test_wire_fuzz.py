"""Fuzzing the wire decoder: >= 100,000 generated messages (mutated valid frames of every
kind, hostile headers, truncated and padded buffers); each is rejected with a WireError or
decoded into a chunk that validates. The open-ended atheris target is benchmarks/fuzz_wire.py."""

import json
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.chunks import EndOfStream, EventChunk, FrameChunk, Geometry, SignalChunk, ValueChunk
from pipeline.errors import WireError
from pipeline.events import make_events
from pipeline.wire import DEFAULT_LIMITS, decode, encode

N_MESSAGES = 100_000

HOSTILE = [None, True, -1, 0, 2**63, -(2**63) - 1, 1.5, float("nan"), "", "x" * 300, [], {}, [1] * 3,
           {"a": 1}, [[[]]], "<f4", "|u1", [10**12, 1], [-1, 3], [3, 1]]


def _good_messages():
    n = 40
    events = make_events(np.arange(1000, 1000 + n, dtype=np.int64), np.arange(n) % 8, np.zeros(n), np.arange(n) % 2)
    chunks = [
        EventChunk(t_start=1000, t_end=2000, stream="dvs", seq=3, geometry=Geometry(8, 1), events=events,
                   meta={"sample_id": "a", "label": 1}),
        SignalChunk(t_start=0, t_end=1000, samples=np.ones((8, 2), np.float32), first_sample=8,
                    geometry=Geometry(channels=2, sample_rate_hz=8000), stream="mic"),
        FrameChunk(t_start=0, t_end=2000, frames=np.zeros((2, 4, 4), np.uint8), times=np.array([0, 1000]),
                   geometry=Geometry(4, 4), stream="cam"),
        ValueChunk(t_start=0, t_end=10, values=np.ones((2, 3), np.float32), times=np.array([0, 5]),
                   names=("a", "b", "c"), stream="out"),
        EndOfStream(t_start=5, t_end=5, stream="s", seq=9),
    ]
    return [[bytes(f) for f in encode(c)] for c in chunks]


def _mutate(rng, frames):
    """One hostile variant of a good message (cheap: a few numpy draws)."""
    op = rng.integers(0, 6)
    head, bufs = frames[0], list(frames[1:])
    if op == 0:  # flip bytes of the header
        b = bytearray(head)
        for i in rng.integers(0, len(b), rng.integers(1, 5)):
            b[i] = rng.integers(0, 256)
        return [bytes(b), *bufs]
    if op == 1:  # replace a header field (or an array spec field) with a hostile value
        header = json.loads(head)
        value = HOSTILE[rng.integers(0, len(HOSTILE))]
        if header["arrays"] and rng.integers(0, 2):
            spec = header["arrays"][rng.integers(0, len(header["arrays"]))]
            spec[("name", "dtype", "shape")[rng.integers(0, 3)]] = value
        else:
            keys = sorted(header)
            header[keys[rng.integers(0, len(keys))]] = value
        return [json.dumps(header).encode(), *bufs]
    if op == 2 and bufs:  # truncate or pad a buffer
        i = rng.integers(0, len(bufs))
        cut = int(rng.integers(0, len(bufs[i]) + 8))
        bufs[i] = bufs[i][:cut] + bytes(max(0, cut - len(bufs[i])))
        return [head, *bufs]
    if op == 3:  # drop or duplicate frames
        out = list(frames)
        if rng.integers(0, 2) and len(out) > 1:
            out.pop(int(rng.integers(0, len(out))))
        else:
            out.insert(int(rng.integers(0, len(out) + 1)), out[int(rng.integers(0, len(out)))])
        return out
    if op == 4:  # truncate the header itself
        return [head[: int(rng.integers(0, len(head)))], *bufs]
    return [rng.bytes(int(rng.integers(0, 64))) for _ in range(int(rng.integers(0, 4)))]  # random frames


@settings(max_examples=1, deadline=None, database=None)
@given(st.integers(0, 2**32 - 1))
def test_decoder_survives_100k_generated_messages(seed):
    rng = np.random.default_rng(seed)
    good = _good_messages()
    accepted = rejected = 0
    t0 = time.perf_counter()
    for i in range(N_MESSAGES):
        message = _mutate(rng, good[i % len(good)])
        try:
            chunk, _ = decode(message)
        except WireError as exc:
            assert str(exc)  # a clear error, never an empty one
            rejected += 1
            continue
        if not isinstance(chunk, EndOfStream):
            chunk.validate()
        for array in chunk.arrays().values():  # views of the frames: nothing allocated beyond them
            assert array.nbytes <= DEFAULT_LIMITS.max_array_bytes
        accepted += 1
    assert accepted + rejected == N_MESSAGES
    assert rejected > N_MESSAGES // 2 and accepted > 0  # the mutations really do break messages
    assert time.perf_counter() - t0 < 60


def test_hostile_json_headers_rejected_cleanly():
    for head in [b"[" * 60_000, b'{"v":' + b"9" * 5000 + b"}", b"\xff\xfe", b'{"v":1e999}', b"null"]:
        try:
            decode([head])
        except WireError as exc:
            assert str(exc)
        else:
            raise AssertionError(f"accepted {head[:20]!r}")
