"""N-MNIST / N-Caltech101 `.bin` (Garrick Orchard's ATIS format): streaming reader.

Each event is 40 bits (5 bytes), no header (Orchard et al. 2015, the data sets' README and
`eventvision.py`): byte 0 x, byte 1 y, byte 2 bit 7 polarity, then a 23-bit timestamp in
µs (byte 2 bits 0-6, bytes 3, 4). A record with y == 240 is a timestamp-overflow marker:
it adds 2**13 µs to its own and every later timestamp and is not an event. This follows
tonic's `read_mnist_file` exactly (same x, y, p, t for every event).

Having no header, the format is recognised by plausibility only (whole records, time never
going backwards over the first 64 KiB, a non-zero time span) and is tried last.
"""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np
from numba import njit

from pipeline.events import EVENT_DTYPE, as_events, empty_events
from sources.formats.base import SNIFF_BYTES, BlockFileReader, FileInfo, format_error

RECORD_BYTES = 5
OVERFLOW_Y = 240
OVERFLOW_US = 1 << 13
_MIN_SNIFF_RECORDS = 8
OK, BAD_COORDINATE, TIME_BACKWARDS = 0, 1, 2


@njit(cache=True, nogil=True)
def decode_nmnist(buf, records, width, height, state, out):
    """Decode `records` 5-byte records of `buf` (uint8) into `out` (EVENT_DTYPE).

    state (int64[3]): time added by the overflow markers so far (µs), last event time,
    overflow markers seen. Returns (status, index of the bad record, events written);
    state is left as it was before the bad record.
    """
    added = state[0]
    last_t = state[1]
    markers = state[2]
    n = 0
    for i in range(records):
        b = RECORD_BYTES * i
        x = np.int64(buf[b])
        y = np.int64(buf[b + 1])
        if y == OVERFLOW_Y:
            added += OVERFLOW_US
            markers += 1
            continue
        t = ((np.int64(buf[b + 2]) & 127) << 16 | np.int64(buf[b + 3]) << 8 | np.int64(buf[b + 4])) + added
        if x >= width or y >= height:
            state[0], state[1], state[2] = added, last_t, markers
            return BAD_COORDINATE, i, n
        if t < last_t:
            state[0], state[1], state[2] = added, last_t, markers
            return TIME_BACKWARDS, i, n
        last_t = t
        out[n].t = t
        out[n].x = x
        out[n].y = y
        out[n].p = buf[b + 2] >> 7
        n += 1
    state[0], state[1], state[2] = added, last_t, markers
    return OK, records, n


def _plausible(head: bytes) -> bool:
    """Vectorised sniff: whole records (when `head` is the whole file), at least 8 of them,
    time (overflow markers applied) never decreasing, and not all at one instant."""
    if len(head) < SNIFF_BYTES and len(head) % RECORD_BYTES:
        return False
    records = len(head) // RECORD_BYTES
    if records < _MIN_SNIFF_RECORDS:
        return False
    raw = np.frombuffer(head, dtype=np.uint8, count=records * RECORD_BYTES).reshape(records, RECORD_BYTES)
    raw = raw.astype(np.int64)
    marker = raw[:, 1] == OVERFLOW_Y
    t = ((raw[:, 2] & 127) << 16 | raw[:, 3] << 8 | raw[:, 4]) + OVERFLOW_US * np.cumsum(marker)
    t = t[~marker]
    return t.shape[0] >= _MIN_SNIFF_RECORDS and bool(np.all(t[1:] >= t[:-1])) and bool(t[-1] > t[0])


class NmnistBinReader(BlockFileReader):
    """Streaming reader of an N-MNIST / N-Caltech101 `.bin` file.

    Parameters: path; width, height: sensor geometry (the file has none; N-MNIST is
    34x34, N-Caltech101 at most 240x180). When given, events outside it are an error;
    when not, info() reports None and coordinates are only bounded by their 8 bits.
    """

    format: ClassVar[str] = "nmnist_bin"
    suffixes: ClassVar[tuple[str, ...]] = (".bin",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return _plausible(head)

    def __init__(self, path, width: int | None = None, height: int | None = None) -> None:
        self.path = os.fspath(path)
        if (width is None) != (height is None):
            raise ValueError("NmnistBinReader: give both width and height, or neither")
        if width is not None and not (0 < int(width) <= 256 and 0 < int(height) <= 256):
            raise ValueError(f"NmnistBinReader: geometry {width}x{height} outside 1..256 (8-bit addresses)")
        self.width = None if width is None else int(width)
        self.height = None if height is None else int(height)
        self.header_size = 0
        self.counters = {"overflow_markers": 0}
        self._info: FileInfo | None = None
        self._open_stream()

    def _reset_state(self) -> None:
        self._state = np.array([0, np.iinfo(np.int64).min, 0], dtype=np.int64)
        self.counters["overflow_markers"] = 0

    def _decode(self, buf: np.ndarray, offset: int, final: bool):
        records = buf.shape[0] // RECORD_BYTES
        out = np.empty(records, dtype=EVENT_DTYPE)
        width = 256 if self.width is None else self.width
        height = 256 if self.height is None else self.height
        status, index, n = decode_nmnist(buf, records, width, height, self._state, out)
        self.counters["overflow_markers"] = int(self._state[2])
        if status != OK:
            b = RECORD_BYTES * int(index)
            x, y = int(buf[b]), int(buf[b + 1])
            ts = ((int(buf[b + 2]) & 127) << 16 | int(buf[b + 3]) << 8 | int(buf[b + 4])) + int(self._state[0])
            if status == BAD_COORDINATE:
                what = f"event x={x}, y={y} outside the {width}x{height} sensor"
            else:
                what = f"time goes backwards ({ts} µs after {int(self._state[1])} µs)"
            raise format_error(self.path, offset + b, what, "N-MNIST .bin")
        return out[:n], RECORD_BYTES * records

    def info(self) -> FileInfo:
        """Count, first/last time and the largest x/y from one decoding pass (the files are
        small: about 10 kB for N-MNIST, 100 kB for N-Caltech101); geometry as given."""
        if self._info is None:
            count, first, last, x_max, y_max = 0, None, None, -1, -1
            with NmnistBinReader(self.path, self.width, self.height) as scan:
                for events in scan:
                    if first is None:
                        first = int(events["t"][0])
                    last = int(events["t"][-1])
                    count += events.shape[0]
                    x_max = max(x_max, int(events["x"].max()))
                    y_max = max(y_max, int(events["y"].max()))
                markers = scan.counters["overflow_markers"]
            extra = {"x_max": x_max if count else None, "y_max": y_max if count else None,
                     "overflow_markers": markers}
            self._info = FileInfo(path=self.path, format=self.format, width=self.width, height=self.height,
                                  event_count=count, t_first=first, t_last=last, extra=extra)
        return self._info


def read_nmnist_bin(path, **options) -> np.ndarray:
    """Every event of an N-MNIST / N-Caltech101 `.bin` file (options: see NmnistBinReader)."""
    with NmnistBinReader(path, **options) as reader:
        events = reader.read_all()
    return events if events.shape[0] else empty_events()


def write_nmnist_bin(path, events: np.ndarray) -> None:
    """Write events in the `.bin` format, inserting y == 240 overflow markers so that times
    beyond the 23-bit field are kept (x, y < 256, y != 240; t >= 0, sorted, µs)."""
    events = as_events(np.asarray(events), where=f"N-MNIST .bin writer {path}")
    t = events["t"]
    if t.shape[0]:
        if np.any(t[1:] < t[:-1]) or t[0] < 0:
            raise ValueError(f"N-MNIST .bin writer {path}: times must be >= 0 and sorted")
        if events["x"].max() > 255 or events["y"].max() > 255 or np.any(events["y"] == OVERFLOW_Y):
            raise ValueError(f"N-MNIST .bin writer {path}: x, y must be < 256 and y != {OVERFLOW_Y}")
    # markers needed before each event so that its remaining time fits 23 bits:
    # the first time a cumulative offset k * 2**13 leaves t - offset < 2**23
    need = np.maximum(0, (t - (1 << 23) + OVERFLOW_US) // OVERFLOW_US)
    total = t.shape[0] + int(need[-1]) if t.shape[0] else 0
    out = np.zeros((total, RECORD_BYTES), dtype=np.uint8)
    index = np.arange(t.shape[0]) + need  # event i sits after need[i] markers
    is_event = np.zeros(total, dtype=bool)
    is_event[index] = True
    out[~is_event, 1] = OVERFLOW_Y
    ts = t - need * OVERFLOW_US
    out[index, 0] = events["x"]
    out[index, 1] = events["y"]
    out[index, 2] = ((events["p"] != 0).astype(np.uint8) << 7) | (ts >> 16).astype(np.uint8)
    out[index, 3] = (ts >> 8) & 0xFF
    out[index, 4] = ts & 0xFF
    with open(path, "wb") as fh:
        fh.write(out.tobytes())


__all__ = ["NmnistBinReader", "read_nmnist_bin", "write_nmnist_bin"]
