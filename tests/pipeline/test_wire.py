"""The wire decoder rejects every malformed message with a WireError and accepts good ones."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.chunks import EndOfStream, EventChunk, FrameChunk, Geometry, SignalChunk, ValueChunk
from pipeline.errors import WireError
from pipeline.events import make_events
from pipeline.wire import WireLimits, decode, encode


def _event_chunk(n=100):
    return EventChunk(t_start=1000, t_end=2000, stream="dvs", seq=7, geometry=Geometry(64, 48),
                      events=make_events(np.linspace(1000, 1999, n).astype(np.int64), np.arange(n) % 64,
                                         np.arange(n) % 48, np.arange(n) % 2),
                      meta={"sample_id": "a", "label": 3})


def _frames(chunk):
    return [bytes(f) for f in encode(chunk)]


def _with_header(frames, **changes):
    header = json.loads(frames[0])
    for key, value in changes.items():
        if value is ...:
            header.pop(key)
        else:
            header[key] = value
    return [json.dumps(header).encode(), *frames[1:]]


@pytest.mark.parametrize("chunk", [
    _event_chunk(),
    SignalChunk(t_start=0, t_end=1000, samples=np.arange(16, dtype=np.float32).reshape(8, 2), first_sample=40,
                geometry=Geometry(channels=2, sample_rate_hz=8000), stream="mic"),
    FrameChunk(t_start=0, t_end=100, frames=np.zeros((2, 4, 5), np.uint8), times=np.array([0, 50])),
    ValueChunk(t_start=0, t_end=100, values=np.ones((1, 3), np.float32), times=np.array([99]), names=("a", "b", "c")),
    EndOfStream(t_start=5, t_end=5, stream="x", seq=3),
])
def test_round_trip_every_kind(chunk):
    back, _ = decode(_frames(chunk))
    assert type(back) is type(chunk)
    assert (back.t_start, back.t_end, back.stream, back.seq, back.geometry, back.meta) == (
        chunk.t_start, chunk.t_end, chunk.stream, chunk.seq, chunk.geometry, chunk.meta)
    for name, array in chunk.arrays().items():
        assert np.array_equal(getattr(back, name), array)
        assert not getattr(back, name).flags.writeable
    assert back.extra_header() == chunk.extra_header()


BAD_HEADERS = {
    "wrong version": dict(v=2),
    "unknown kind": dict(kind="pickle"),
    "missing seq": dict(seq=...),
    "float seq": dict(seq=1.5),
    "negative seq": dict(seq=-1),
    "bool span": dict(t_start=True),
    "span backwards": dict(t_start=5000),
    "huge int": dict(t_end=2**70),
    "geometry missing key": dict(geometry={"width": 1}),
    "geometry negative": dict(geometry={"width": -1, "height": 0, "channels": 0, "sample_rate_hz": 0}),
    "meta not object": dict(meta=[1, 2]),
    "stream not string": dict(stream=5),
    "arrays not list": dict(arrays={"events": 1}),
    "wrong array name": dict(arrays=[{"name": "samples", "dtype": "<f4", "shape": [100]}]),
    "object dtype": dict(arrays=[{"name": "events", "dtype": "|O", "shape": [100]}]),
    "big-endian dtype": dict(arrays=[{"name": "events", "dtype": [["t", ">i8"], ["x", ">u2"], ["y", ">u2"],
                                                                     ["p", "|i1"]], "shape": [100]}]),
    "huge declared shape": dict(arrays=[{"name": "events", "dtype": [["t", "<i8"], ["x", "<u2"], ["y", "<u2"],
                                                                        ["p", "|i1"]], "shape": [2**39]}]),
    "shape vs buffer": dict(arrays=[{"name": "events", "dtype": [["t", "<i8"], ["x", "<u2"], ["y", "<u2"],
                                                                     ["p", "|i1"]], "shape": [99]}]),
    "negative shape": dict(arrays=[{"name": "events", "dtype": [["t", "<i8"], ["x", "<u2"], ["y", "<u2"],
                                                                   ["p", "|i1"]], "shape": [-100]}]),
    "geometry too small for x": dict(geometry={"width": 2, "height": 48, "channels": 0, "sample_rate_hz": 0}),
    "span excludes events": dict(t_end=1500),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_malformed_header_rejected(case):
    frames = _with_header(_frames(_event_chunk()), **BAD_HEADERS[case])
    with pytest.raises(WireError) as info:
        decode(frames)
    assert str(info.value)


def test_short_and_extra_buffers_rejected():
    frames = _frames(_event_chunk())
    with pytest.raises(WireError, match="buffer has"):
        decode([frames[0], frames[1][:-3]])
    with pytest.raises(WireError, match="buffers follow"):
        decode([*frames, b"x"])
    with pytest.raises(WireError, match="buffers follow"):
        decode(frames[:1])
    with pytest.raises(WireError, match="empty"):
        decode([])


def test_unsorted_events_rejected():
    chunk = _event_chunk()
    events = chunk.events.copy()
    events["t"][[10, 11]] = events["t"][[11, 10]]
    bad = [_frames(chunk)[0], events.tobytes()]
    if events["t"][10] != events["t"][11]:
        with pytest.raises(WireError, match="not sorted"):
            decode(bad)


def test_limits_enforced_before_allocation():
    frames = _frames(_event_chunk(1000))
    with pytest.raises(WireError, match="exceeds limit"):
        decode(frames, WireLimits(max_array_bytes=1000))
    with pytest.raises(WireError, match="header is"):
        decode(frames, WireLimits(max_header_bytes=10))
    with pytest.raises(WireError, match="meta"):
        decode(frames, WireLimits(max_meta_bytes=5))


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=0, max_size=4))
def test_random_bytes_never_crash(frames):
    try:
        decode(frames)
    except WireError:
        pass


@settings(max_examples=1000, deadline=None)
@given(st.data())
def test_mutated_good_messages_never_crash(data):
    frames = _frames(_event_chunk(20))
    header = bytearray(frames[0])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(header) - 1))
        header[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frames[1])))
    try:
        chunk, _ = decode([bytes(header), frames[1][:cut]])
    except WireError:
        return
    chunk.validate()  # anything accepted is a valid chunk
