"""Shared plumbing of the encoder stages: input checks, sample stamps, windows, events.

`SignalEncoder` is the base of sample-synchronous encoders (one output chunk per input
chunk, same span). `WindowEncoder` is the base of window coders (latency, phase, burst,
population): it buffers samples until a window of `window_us` is complete, codes the
window's mean per channel, and completes a partial window at a `sample_end` chunk and at
end of stream; its output chunks still tile time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from pipeline.chunks import Chunk, EventChunk, FrameChunk, Geometry, SignalChunk, sample_time
from pipeline.errors import ChunkError, ConfigError
from pipeline.events import EVENT_DTYPE, empty_events
from pipeline.stage import Stage


def check_samples(samples: np.ndarray, where: str) -> np.ndarray:
    """A float32 [n, channels] array with only finite values, or ChunkError saying why."""
    if not isinstance(samples, np.ndarray):
        raise ChunkError(f"{where}: samples must be a numpy array, got {type(samples).__name__}")
    if samples.ndim != 2:
        raise ChunkError(f"{where}: samples must be 2-D [samples, channels], got shape {samples.shape}")
    if samples.dtype != np.float32:
        raise ChunkError(f"{where}: samples must be float32, got {samples.dtype}")
    if samples.size and not np.isfinite(samples).all():
        bad = np.argwhere(~np.isfinite(samples))[0]
        raise ChunkError(f"{where}: non-finite value {samples[bad[0], bad[1]]} at sample {int(bad[0])}, "
                         f"channel {int(bad[1])}")
    return samples


def as_signal(samples: Any) -> np.ndarray:
    """Offline input ([n] or [n, channels] array-like) as float32 [n, channels], checked."""
    arr = np.asarray(samples)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"samples must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if arr.ndim == 1:
        arr = arr[:, None]
    return check_samples(np.ascontiguousarray(arr), "samples")


def stamps_of(chunk: SignalChunk) -> np.ndarray:
    """Integer-µs stamps of a signal chunk's samples."""
    rate = chunk.geometry.sample_rate_hz
    t0 = chunk.t_start - (chunk.first_sample * 1_000_000) // rate
    return sample_time(t0, np.arange(chunk.first_sample, chunk.first_sample + chunk.samples.shape[0],
                                     dtype=np.int64), rate)


def events_from_counts(counts: np.ndarray, times: np.ndarray, signs: np.ndarray | None = None,
                       width: int = 0) -> np.ndarray:
    """Events from spike counts [n, m] (row i at times[i]); column j -> x = j % width,
    y = j // width when width is given (pixels), else x = j. Sorted by (t, y, x)."""
    flat = np.flatnonzero(counts)
    if flat.size == 0:
        return empty_events()
    reps = np.abs(counts.reshape(-1)[flat]).astype(np.int64)
    m = counts.shape[1]
    rows, cols = np.divmod(flat, m)
    ev = np.empty(int(reps.sum()), dtype=EVENT_DTYPE)
    ev["t"] = np.repeat(times[rows], reps)
    if width:
        ev["x"] = np.repeat(cols % width, reps)
        ev["y"] = np.repeat(cols // width, reps)
    else:
        ev["x"] = np.repeat(cols, reps)
        ev["y"] = 0
    if signs is None:
        ev["p"] = np.repeat(np.sign(counts.reshape(-1)[flat]), reps)
    else:
        ev["p"] = np.repeat(signs.reshape(-1)[flat], reps)
    return ev


def positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def positive_float(name: str, value: Any, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


class SignalEncoder(Stage):
    """Base of encoders of signal chunks: checks kind, rate, channel count and values.

    `sample_rate_hz` (parameter of subclasses) 0 takes the rate of the first chunk; any
    other value is required of every chunk. The channel count is fixed by the first chunk.
    """

    accepts: tuple[str, ...] = ("signal",)
    sample_rate_hz: int = 0

    def reset(self) -> None:
        self._rate = 0
        self._channels = -1

    def _check(self, chunk: Chunk) -> np.ndarray:
        """The chunk's samples after every check; locks rate and channel count."""
        self.check_input(chunk)
        if not hasattr(self, "_rate"):
            self.reset()
        name = getattr(type(self), "registered_name", type(self).__name__)
        where = f"{name}: signal chunk {chunk.stream!r} seq {chunk.seq}"
        if not isinstance(chunk, SignalChunk):
            raise ChunkError(f"{where}: expected a SignalChunk, got {type(chunk).__name__}")
        rate = chunk.geometry.sample_rate_hz
        if not isinstance(rate, (int, np.integer)) or rate <= 0:
            raise ChunkError(f"{where}: geometry.sample_rate_hz must be a positive integer, got {rate!r}")
        want = self.sample_rate_hz or self._rate
        if want and rate != want:
            raise ChunkError(f"{where}: sample rate {rate} Hz, but this stage runs at {want} Hz")
        samples = check_samples(chunk.samples, where)
        if self._channels >= 0 and samples.shape[1] != self._channels:
            raise ChunkError(f"{where}: {samples.shape[1]} channels, but the stream started with {self._channels}")
        if chunk.geometry.channels and samples.shape[1] != chunk.geometry.channels:
            raise ChunkError(f"{where}: {samples.shape[1]} sample columns but geometry says "
                             f"{chunk.geometry.channels} channels")
        self._rate = int(rate)
        self._channels = samples.shape[1]
        return samples


@njit(cache=True)
def window_means(samples, bounds):
    """Mean per channel of samples[bounds[w]:bounds[w+1]] (sequential float64 sums, so the
    result does not depend on how the samples arrived)."""
    nw = bounds.shape[0] - 1
    m = samples.shape[1]
    out = np.zeros((nw, m), dtype=np.float64)
    for w in range(nw):
        a, b = bounds[w], bounds[w + 1]
        for i in range(a, b):
            for j in range(m):
                out[w, j] += samples[i, j]
        if b > a:
            for j in range(m):
                out[w, j] /= b - a
    return out


class WindowEncoder(SignalEncoder):
    """Base of window coders: subclasses set `window_us` and implement `_encode`.

    `_encode(values [nw, channels] float64, starts [nw], ends [nw]) -> events` codes
    complete (or end-of-sample partial) windows; every event of window w must lie in
    [starts[w], ends[w]).
    """

    window_us: int = 10_000

    def reset(self) -> None:
        super().reset()
        self._origin: int | None = None  # start of the current window
        self._buffer = np.zeros((0, 0), np.float32)  # samples of the current window
        self._out_t: int | None = None  # outputs so far cover [.., _out_t)
        self._last_t_end = 0
        self._last_meta: dict = {}

    def _n_outputs(self) -> int:
        return self._channels

    def _validate_params(self) -> None:
        positive_int("window_us", self.window_us)

    def process(self, chunk: Chunk) -> list[Chunk]:
        samples = self._check(chunk)
        self._validate_params()
        assert isinstance(chunk, SignalChunk)
        if self._origin is None:
            self._origin = chunk.t_start
            self._out_t = chunk.t_start
            self._buffer = np.zeros((0, samples.shape[1]), np.float32)
        self._last_t_end = chunk.t_end
        self._last_meta = dict(chunk.meta)
        stamps = stamps_of(chunk)
        buf = np.concatenate([self._buffer, samples]) if self._buffer.shape[0] else samples
        n_old = self._buffer.shape[0]
        # windows that end at or before this chunk's end are complete
        n_complete = (chunk.t_end - self._origin) // self.window_us
        if chunk.meta.get("sample_end"):
            ends = self._origin + self.window_us * np.arange(1, n_complete + 1, dtype=np.int64)
            if chunk.t_end > (ends[-1] if ends.size else self._origin):
                ends = np.append(ends, chunk.t_end)
        else:
            ends = self._origin + self.window_us * np.arange(1, n_complete + 1, dtype=np.int64)
        if ends.size == 0:
            self._buffer = np.array(buf, copy=True)
            if chunk.meta.get("sample_end"):  # the sample ended on a window edge
                return self._emit(empty_events(), chunk.t_end, chunk.meta, next_origin=chunk.t_end)
            return []
        starts = np.concatenate([[self._origin], ends[:-1]])
        all_stamps = stamps if n_old == 0 else np.concatenate(
            [np.full(n_old, self._origin, np.int64), stamps])  # buffered samples are all in the first window
        bounds = np.searchsorted(all_stamps, np.concatenate([[self._origin], ends]), side="left")
        bounds[0] = 0
        values = window_means(np.ascontiguousarray(buf), bounds.astype(np.int64))
        events = self._encode(values, starts, ends, bounds[1:] - bounds[:-1])
        self._buffer = np.array(buf[bounds[-1]:], copy=True)
        return self._emit(events, int(ends[-1]), chunk.meta, next_origin=int(ends[-1]))

    def flush(self) -> list[Chunk]:
        if self._origin is None or not hasattr(self, "_rate"):
            return []
        if self._last_t_end <= self._origin and self._buffer.shape[0] == 0:
            return []
        values = window_means(np.ascontiguousarray(self._buffer), np.array([0, self._buffer.shape[0]], np.int64))
        starts = np.array([self._origin], np.int64)
        ends = np.array([max(self._last_t_end, self._origin + 1)], np.int64)
        events = self._encode(values, starts, ends, np.array([self._buffer.shape[0]]))
        self._buffer = self._buffer[:0]
        out = self._emit(events, int(ends[0]), self._last_meta, next_origin=int(ends[0]))
        return out

    def _emit(self, events: np.ndarray, t_end: int, meta: dict, *, next_origin: int) -> list[Chunk]:
        t_start = self._out_t
        self._out_t = t_end
        self._origin = next_origin
        geometry = Geometry(width=self._n_outputs(), height=1, channels=self._n_outputs())
        return [EventChunk(t_start=t_start, t_end=t_end, events=events, geometry=geometry, meta=dict(meta))]

    def _encode(self, values: np.ndarray, starts: np.ndarray, ends: np.ndarray, counts: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def frame_values(chunk: FrameChunk, where: str) -> np.ndarray:
    """Frames as float32 [n, pixels] in [0, 1] (colour averaged to grey)."""
    frames = chunk.frames
    if frames.ndim == 4:
        frames = frames.mean(axis=3)
    return (frames.reshape(frames.shape[0], -1).astype(np.float32)) * np.float32(1 / 255)


def encode_whole(stage: WindowEncoder | SignalEncoder, samples: Any, sample_rate_hz: int, t0_us: int = 0) -> np.ndarray:
    """Run an encoder stage over a whole signal [n] or [n, channels] as one chunk; events."""
    x = as_signal(samples)
    rate = int(sample_rate_hz)
    if rate <= 0:
        raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz!r}")
    chunk = SignalChunk(t_start=int(t0_us), t_end=int(sample_time(int(t0_us), x.shape[0], rate)), samples=x,
                        geometry=Geometry(channels=x.shape[1], sample_rate_hz=rate))
    out = stage.process(chunk) + stage.flush()
    return np.concatenate([c.events for c in out]) if out else empty_events()


def small_contract_stream(channels: int = 4, seed: int = 3) -> list[SignalChunk]:
    """A short 1 kHz stream of uniform values in [0, 1] cut into four chunks (contract tests)."""
    rng = np.random.default_rng(seed)
    samples = rng.uniform(0, 1, size=(950, channels)).astype(np.float32)
    return [SignalChunk(t_start=a * 1000, t_end=min(a + 250, 950) * 1000, samples=samples[a:a + 250],
                        first_sample=a, geometry=Geometry(channels=channels, sample_rate_hz=1000))
            for a in range(0, 950, 250)]
