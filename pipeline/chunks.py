"""Chunk types: one stream's data over a time span [t_start, t_end) in integer µs.

Chunks of one stream tile time without gaps or overlap. A chunk's payload arrays are
plain numpy; the header fields are plain Python values, so the wire format can carry
them as JSON without pickle.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from pipeline.errors import ChunkError
from pipeline.events import EVENT_DTYPE


@dataclass(frozen=True)
class Geometry:
    """Sensor geometry: pixel grid, channel count and sample rate (0 where not applicable)."""

    width: int = 0
    height: int = 0
    channels: int = 0
    sample_rate_hz: int = 0

    def to_dict(self) -> dict[str, int]:
        # spelled out: dataclasses.asdict deep-copies, a third of encoding a small chunk
        return {"width": self.width, "height": self.height, "channels": self.channels,
                "sample_rate_hz": self.sample_rate_hz}


@dataclass(kw_only=True, eq=False)
class Chunk:
    """Header shared by every chunk kind; subclasses add the payload arrays."""

    kind: ClassVar[str] = ""
    # name -> (allowed dtype, ndim); used by validate() and by the wire decoder.
    array_specs: ClassVar[dict[str, tuple[np.dtype, tuple[int, ...]]]] = {}

    t_start: int
    t_end: int
    stream: str = ""
    seq: int = 0
    geometry: Geometry = Geometry()
    meta: dict[str, Any] = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.array_specs}

    def extra_header(self) -> dict[str, Any]:
        """Kind-specific header fields beyond the common ones (JSON-able)."""
        return {}

    def replace(self, **changes: Any) -> Chunk:
        return dataclasses.replace(self, **changes)

    @property
    def n_items(self) -> int:
        """Events, samples, frames or value rows carried (for metrics)."""
        arrays = self.arrays()
        return int(next(iter(arrays.values())).shape[0]) if arrays else 0

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.arrays().values())

    def validate(self) -> None:
        """Raise ChunkError if dtypes, shapes or the span are inconsistent."""
        where = f"{self.kind} chunk {self.stream!r} seq {self.seq}"
        if not (isinstance(self.t_start, int) and isinstance(self.t_end, int)):
            raise ChunkError(f"{where}: span must be integer µs, got {self.t_start!r}..{self.t_end!r}")
        if self.t_end < self.t_start:
            raise ChunkError(f"{where}: span ends before it starts ({self.t_start}..{self.t_end} µs)")
        for name, (dtype, ndims) in self.array_specs.items():
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray):
                raise ChunkError(f"{where}: field {name!r} is {type(arr).__name__}, not a numpy array")
            if arr.dtype != dtype:
                raise ChunkError(f"{where}: field {name!r} has dtype {arr.dtype}, expected {dtype}")
            if arr.ndim not in ndims:
                raise ChunkError(f"{where}: field {name!r} has {arr.ndim} dimensions, expected one of {ndims}")
        self._validate_payload(where)

    def _validate_payload(self, where: str) -> None:
        pass


@dataclass(kw_only=True, eq=False)
class EventChunk(Chunk):
    """Address events, sorted by t, every t inside [t_start, t_end)."""

    kind: ClassVar[str] = "events"
    array_specs: ClassVar = {"events": (EVENT_DTYPE, (1,))}
    events: np.ndarray

    def _validate_payload(self, where: str) -> None:
        from pipeline._kernels import check_events  # compiled on first use, not at import

        ev, g = self.events, self.geometry
        code, i = check_events(ev["t"], ev["x"], ev["y"], self.t_start, self.t_end, g.width, g.height)
        if code == 1:
            raise ChunkError(f"{where}: event {i} at t={int(ev['t'][i])} µs outside chunk span "
                             f"[{self.t_start}, {self.t_end})")
        if code == 2:
            raise ChunkError(f"{where}: events are not sorted by t (event {i} at {int(ev['t'][i])} µs "
                             f"after {int(ev['t'][i - 1])} µs)")
        if code == 3:
            raise ChunkError(f"{where}: event {i} has x={int(ev['x'][i])} outside width {g.width}")
        if code == 4:
            raise ChunkError(f"{where}: event {i} has y={int(ev['y'][i])} outside height {g.height}")


@dataclass(kw_only=True, eq=False)
class SignalChunk(Chunk):
    """float32 samples [n, channels]; sample k of the stream is stamped
    t0 + k * 1e6 // sample_rate_hz, and `first_sample` is k of samples[0]."""

    kind: ClassVar[str] = "signal"
    array_specs: ClassVar = {"samples": (np.dtype(np.float32), (2,))}
    samples: np.ndarray
    first_sample: int = 0

    def extra_header(self) -> dict[str, Any]:
        return {"first_sample": int(self.first_sample)}

    def _validate_payload(self, where: str) -> None:
        if self.geometry.sample_rate_hz <= 0:
            raise ChunkError(f"{where}: geometry.sample_rate_hz must be > 0, got {self.geometry.sample_rate_hz}")
        if self.geometry.channels and self.samples.shape[1] != self.geometry.channels:
            raise ChunkError(
                f"{where}: {self.samples.shape[1]} sample columns but geometry says {self.geometry.channels} channels"
            )


@dataclass(kw_only=True, eq=False)
class FrameChunk(Chunk):
    """uint8 images [n, height, width] or [n, height, width, 3] with stamps [n]."""

    kind: ClassVar[str] = "frames"
    array_specs: ClassVar = {"frames": (np.dtype(np.uint8), (3, 4)), "times": (np.dtype(np.int64), (1,))}
    frames: np.ndarray
    times: np.ndarray

    def _validate_payload(self, where: str) -> None:
        if self.times.shape[0] != self.frames.shape[0]:
            raise ChunkError(f"{where}: {self.frames.shape[0]} frames but {self.times.shape[0]} stamps")
        _check_times(self.times, self.t_start, self.t_end, where)


@dataclass(kw_only=True, eq=False)
class ValueChunk(Chunk):
    """Small named float vectors [n, len(names)] with stamps [n]: scores, decisions,
    motor commands, rewards, labels."""

    kind: ClassVar[str] = "values"
    array_specs: ClassVar = {"values": (np.dtype(np.float32), (2,)), "times": (np.dtype(np.int64), (1,))}
    values: np.ndarray
    times: np.ndarray
    names: tuple[str, ...] = ()

    def extra_header(self) -> dict[str, Any]:
        return {"names": list(self.names)}

    def _validate_payload(self, where: str) -> None:
        if self.times.shape[0] != self.values.shape[0]:
            raise ChunkError(f"{where}: {self.values.shape[0]} value rows but {self.times.shape[0]} stamps")
        if self.names and self.values.shape[1] != len(self.names):
            raise ChunkError(f"{where}: {self.values.shape[1]} value columns but {len(self.names)} names")
        _check_times(self.times, self.t_start, self.t_end, where)


@dataclass(kw_only=True, eq=False)
class EndOfStream(Chunk):
    """Explicit end marker; t_start == t_end == the end of the stream's last span."""

    kind: ClassVar[str] = "end"


CHUNK_KINDS: dict[str, type[Chunk]] = {
    cls.kind: cls for cls in (EventChunk, SignalChunk, FrameChunk, ValueChunk, EndOfStream)
}


def _check_times(times: np.ndarray, t_start: int, t_end: int, where: str) -> None:
    if times.shape[0]:
        if times[0] < t_start or times[-1] >= t_end:
            raise ChunkError(f"{where}: stamps {int(times[0])}..{int(times[-1])} µs outside span [{t_start}, {t_end})")
        if times.shape[0] > 1 and bool(np.any(times[1:] < times[:-1])):
            raise ChunkError(f"{where}: stamps are not sorted")


def sample_time(t0: int, index: int | np.ndarray, sample_rate_hz: int) -> int | np.ndarray:
    """Integer-µs stamp of sample `index` of a stream whose sample 0 is at t0."""
    return t0 + (np.asarray(index, dtype=np.int64) * 1_000_000) // sample_rate_hz if isinstance(
        index, np.ndarray
    ) else t0 + (int(index) * 1_000_000) // sample_rate_hz
