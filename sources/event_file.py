"""Replay an event-camera file (any format in `sources.formats`) as a stream of EventChunks."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.chunks import Chunk, EventChunk, Geometry
from pipeline.errors import ConfigError, FormatError, SpikestreamError
from pipeline.events import EVENT_DTYPE, empty_events, make_events
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Source
from sources.formats import EventReader, open_events

_BLOCK_EVENTS = 1 << 16  # events read from the file at a time (memory stays flat)


@register_stage("event_file")
class EventFileSource(Source):
    """Stream an event file as EventChunks that tile [first event (or start_us), last event + 1).

    Parameters: path; format (reader name, e.g. "evt3"; default: detected from the file's
    first bytes); chunk_us (window length, µs; windows start at start_us or the first
    event); chunk_events (> 0: cut by event count instead, extending a chunk over events
    sharing its last timestamp so spans still tile); start_us / stop_us (replay only
    events with start_us <= t < stop_us); options (reader options, e.g. {stream =
    "events"} for AEDAT 4, {camera = "davis346"} for AEDAT 2, {width, height}); label
    (put in chunk metadata). Pacing is the node option `speed`, applied by the driver.

    A run of windows without events becomes one empty chunk, so a long pause in a
    recording (or a start_us far before the data) costs one chunk, not millions.
    Geometry comes from the file's header (0 where the format has none).
    """

    def __init__(self, path: str = "", format: str = "", chunk_us: int = 10_000, chunk_events: int = 0,
                 start_us: int | None = None, stop_us: int | None = None, options: dict | None = None,
                 label: int = -1) -> None:
        self.path = path
        self.format = format
        self.chunk_us = chunk_us
        self.chunk_events = chunk_events
        self.start_us = start_us
        self.stop_us = stop_us
        self.options = options
        self.label = label

    def _check_params(self) -> None:
        where = f"event_file {self.path!r}"
        if not self.path:
            raise ConfigError("event_file: parameter 'path' is required")
        if isinstance(self.chunk_events, bool) or not isinstance(self.chunk_events, (int, np.integer)) \
                or self.chunk_events < 0:
            raise ConfigError(f"{where}: chunk_events must be an integer >= 0, got {self.chunk_events!r}")
        if not self.chunk_events and (isinstance(self.chunk_us, bool) or not isinstance(self.chunk_us, (int, np.integer))
                                      or self.chunk_us <= 0):
            raise ConfigError(f"{where}: chunk_us must be an integer > 0 µs, got {self.chunk_us!r}")
        for name in ("start_us", "stop_us"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ConfigError(f"{where}: {name} must be an integer µs, got {value!r}")
        if self.start_us is not None and self.stop_us is not None and self.stop_us <= self.start_us:
            raise ConfigError(f"{where}: stop_us ({self.stop_us}) must be after start_us ({self.start_us})")
        if self.options is not None and not isinstance(self.options, dict):
            raise ConfigError(f"{where}: options must be a table of reader options, got {self.options!r}")

    def _open(self) -> EventReader:
        try:
            return open_events(self.path, self.format or None, **(self.options or {}))
        except SpikestreamError:
            raise
        except TypeError as exc:  # an option the reader does not take
            raise ConfigError(f"event_file {self.path}: bad reader options {self.options!r}: {exc}") from None
        except OSError as exc:
            raise FormatError(f"file {self.path}: cannot open: {exc}") from None

    def chunks(self) -> Iterator[Chunk]:
        self._check_params()
        self.events_, self.chunks_, self.counters_ = 0, 0, {}
        with self._open() as reader:
            info = reader.info()
            self.format_, self.width_, self.height_ = info.format, info.width or 0, info.height or 0
            geometry = Geometry(width=self.width_, height=self.height_)
            if self.start_us is not None:
                reader.seek(int(self.start_us))
            queue = _EventQueue(reader, None if self.stop_us is None else int(self.stop_us))
            meta = {"sample_id": Path(self.path).stem, "label": int(self.label)}
            spans = self._count_spans(queue) if self.chunk_events else self._time_spans(queue)
            for t_start, t_end, events in spans:
                chunk_meta = dict(meta)
                if self.chunks_ == 0:
                    chunk_meta["sample_start"] = True
                if queue.next_t() is None:
                    chunk_meta["sample_end"] = True
                self.chunks_ += 1
                self.events_ += events.shape[0]
                self.counters_ = dict(reader.counters)
                yield EventChunk(t_start=t_start, t_end=t_end, events=events, geometry=geometry, meta=chunk_meta)
            self.counters_ = dict(reader.counters)

    def _first_t(self, queue: _EventQueue) -> int | None:
        first = queue.next_t()
        if first is None:
            return None
        return int(self.start_us) if self.start_us is not None else first

    def _time_spans(self, queue: _EventQueue) -> Iterator[tuple[int, int, np.ndarray]]:
        t = self._first_t(queue)
        width = int(self.chunk_us)
        while (next_t := queue.next_t()) is not None:
            if next_t >= t + width:  # windows without events: one chunk up to the next event's window
                gap_end = t + (next_t - t) // width * width
                yield t, gap_end, empty_events()
                t = gap_end
            events = queue.take_before(t + width)
            end = t + width if queue.next_t() is not None else int(events["t"][-1]) + 1
            yield t, end, events
            t = end

    def _count_spans(self, queue: _EventQueue) -> Iterator[tuple[int, int, np.ndarray]]:
        t = self._first_t(queue)
        while queue.next_t() is not None:
            events = queue.take(int(self.chunk_events))
            last = int(events["t"][-1])
            tail = queue.take_before(last + 1)  # events stamped like the last one go along
            if tail.shape[0]:
                events = _concat([events, tail])
            yield t, last + 1, events
            t = last + 1

    def result(self) -> dict[str, Any]:
        if not hasattr(self, "events_"):
            return {}
        return {"path": str(self.path), "format": getattr(self, "format_", None), "events": self.events_,
                "chunks": self.chunks_, "width": getattr(self, "width_", 0), "height": getattr(self, "height_", 0),
                "counters": dict(self.counters_),
                "summary": f"replayed {self.events_} events in {self.chunks_} chunks from {self.path}"}

    @classmethod
    def contract_example(cls) -> ContractExample:
        path = _contract_file()
        base = {"path": path}
        return ContractExample({**base, "chunk_us": 1_000}, None, variants=[
            {**base, "chunk_us": 7}, {**base, "chunk_us": 10**9}, {**base, "chunk_events": 1},
            {**base, "chunk_events": 50}])


class _EventQueue:
    """A reader's events block by block, with a look at the next event's time; events at
    or after `stop` are dropped (and end the queue)."""

    def __init__(self, reader: EventReader, stop: int | None) -> None:
        self.reader, self.stop = reader, stop
        self.buf, self.pos, self.done = empty_events(), 0, False

    def _fill(self) -> bool:
        while self.pos >= self.buf.shape[0] and not self.done:
            events = self.reader.read(_BLOCK_EVENTS)
            if events.shape[0] == 0:
                self.done = True
                break
            if self.stop is not None and int(events["t"][-1]) >= self.stop:
                events = events[: int(np.searchsorted(events["t"], self.stop, side="left"))]
                self.done = True
            self.buf, self.pos = events, 0
        return self.pos < self.buf.shape[0]

    def next_t(self) -> int | None:
        return int(self.buf["t"][self.pos]) if self._fill() else None

    def take_before(self, t_end: int) -> np.ndarray:
        """Every next event with t < t_end."""
        parts = []
        while self._fill():
            times = self.buf["t"]
            k = int(np.searchsorted(times[self.pos :], t_end, side="left"))
            parts.append(self.buf[self.pos : self.pos + k])
            self.pos += k
            if self.pos < self.buf.shape[0]:
                break
        return _concat(parts)

    def take(self, n: int) -> np.ndarray:
        """The next n events (fewer at the end)."""
        parts = []
        while n > 0 and self._fill():
            part = self.buf[self.pos : self.pos + n]
            parts.append(part)
            self.pos += part.shape[0]
            n -= part.shape[0]
        return _concat(parts)


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    parts = [p for p in parts if p.shape[0]]
    if not parts:
        return empty_events()
    if len(parts) == 1:
        return parts[0]
    # through uint8 views: numpy copies the packed 13-byte records far slower than bytes
    return np.concatenate([np.ascontiguousarray(p).view(np.uint8) for p in parts]).view(EVENT_DTYPE)


def _contract_file() -> str:
    """A small AEDAT 2.0 file for the contract test: bursts sharing timestamps and a long
    pause, written atomically to a fixed temporary path (same bytes every time)."""
    from sources.formats.aedat2 import write_aedat2

    rng = np.random.default_rng(7)
    t = np.sort(np.concatenate([rng.integers(100, 5_000, 300), np.full(40, 2_500), rng.integers(90_000, 93_000, 200)]))
    events = make_events(t, rng.integers(0, 128, t.shape[0]), rng.integers(0, 128, t.shape[0]),
                         rng.integers(0, 2, t.shape[0]))
    path = Path(tempfile.gettempdir()) / "spikestream-contract-event-file.aedat"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        write_aedat2(tmp, events, 128, 128)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(path)
