"""Prophesee DAT files of CD events: streaming reader and writer.

Layout (docs.prophesee.ai, "DAT File Format"; OpenEB's `dat_tools.py`): '% ' header lines
(`% Data file containing Event2D events.`, `% Version 2`, `% Date ...`, `% Height 480`,
`% Width 640`), then one byte event type (0 = Event2D, 12 = EventCD: both CD events) and
one byte event size (8), then 8-byte records: uint32 time (µs), uint32 with x in bits
13..0, y in 27..14 and polarity in 31..28. The 32-bit time wraps every 71.6 minutes: a
drop of more than half its range is read as a wrap so that time keeps increasing.
"""

from __future__ import annotations

import datetime
import struct
from typing import ClassVar

import numpy as np
from numba import njit

from sources.formats import _prophesee_kernels as K
from sources.formats._prophesee_reader import ProphReader, checked_events
from sources.formats._unaligned import EVENT_BYTES, store_le64
from sources.formats.base import FileInfo, header_dict, parse_percent_header

CD_TYPES = {0: "Event2D", 12: "EventCD"}
_OTHER_TYPES = {14: "EventExtTrigger", 40: "EventOpticalFlow"}
RECORD_BYTES = 8


class DatReader(ProphReader):
    """Streaming reader of a DAT file of CD events.

    Parameters: path; on_error: 'raise' (default: FormatError naming file, byte offset and
    fault for an event outside the header's Width x Height, a polarity other than 0/1 or
    time going backwards) or 'skip' (skip those events, count them in `counters`, warn);
    width/height: override the header geometry (pixels).
    """

    format: ClassVar[str] = "dat"
    suffixes: ClassVar[tuple[str, ...]] = (".dat",)
    _label: ClassVar[str] = "DAT"
    _unit_bytes: ClassVar[int] = RECORD_BYTES
    _unit_what: ClassVar[str] = f"an {RECORD_BYTES}-byte record"
    _word: ClassVar[np.dtype] = np.dtype("<u4")  # decode_dat reads a record as two words

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        lines, size = parse_percent_header(head)
        fields = header_dict(lines)
        if not lines or "evt" in fields or "format" in fields:
            return False
        if not any(line.startswith(("Data file", "Version")) for line in lines):
            return False
        return len(head) >= size + 2 and head[size] in CD_TYPES and head[size + 1] == RECORD_BYTES

    def __init__(self, path, on_error: str = "raise", width: int | None = None,
                 height: int | None = None) -> None:
        """Open a DAT file (see the class docstring for the parameters)."""
        self._setup(path, on_error, width, height)
        with open(self.path, "rb") as fh:
            head = fh.read(1 << 20)
        lines, size = parse_percent_header(head)
        self.header = header_dict(lines)
        if lines:
            # a header is followed by the event type and size bytes (files without a
            # header are the oldest ones: CD records from byte 0, as OpenEB reads them)
            if len(head) < size + 2:
                raise self._error(size, "file ends before the event type and size bytes")
            if head[size:size + 1] == b"%":
                raise self._error(size, "header line has no end of line (file cut inside the header?)")
            ev_type, ev_size = head[size], head[size + 1]
            if ev_type not in CD_TYPES:
                name = _OTHER_TYPES.get(ev_type, "unknown")
                raise self._error(size, f"event type {ev_type} ({name}) is not a CD event type (0 or 12)")
            if ev_size != RECORD_BYTES:
                raise self._error(size + 1, f"event size {ev_size} bytes, CD records have {RECORD_BYTES}")
            size += 2
        self.header_size = size
        self.width = int(width) if width is not None else self._header_size_field("Width")
        self.height = int(height) if height is not None else self._header_size_field("Height")
        self._open_stream()

    def _header_size_field(self, key: str) -> int | None:
        """`% Width 640` / `% Height 480` (pixels; 14-bit coordinates), None if absent."""
        if key not in self.header:
            return None
        text = self.header[key]
        if not text.isdigit() or not 0 < int(text) < 1 << 14:
            raise self._error(0, f"corrupt header: {key} {text!r} is not 1..16383")
        return int(text)

    def _call_kernel(self, words, pos, out, width, height, strict):
        n, _, pos, status = decode_dat(words, pos, self._state, out, self._counts, self._detail,
                                         width, height, strict)
        return n, pos, status

    def info(self) -> FileInfo:
        """Geometry from the header, event count from the file size, t_first/t_last from the
        first and last records (t_last is None when it lies below t_first: the 32-bit stamp
        wrapped, and how often only a full decode can tell)."""
        data = self.file_size - self.header_size
        count = data // RECORD_BYTES
        t_first = t_last = None
        if count:
            with open(self.path, "rb") as fh:
                fh.seek(self.header_size)
                t_first = struct.unpack("<I", fh.read(4))[0]
                fh.seek(self.header_size + (count - 1) * RECORD_BYTES)
                t_last = struct.unpack("<I", fh.read(4))[0]
            if t_last < t_first:
                t_last = None
        extra = {"header": dict(self.header), "header_bytes": self.header_size,
                 "trailing_bytes": data % RECORD_BYTES}
        return FileInfo(self.path, self.format, self.width, self.height, count, t_first, t_last, extra)


def write_dat(path, events: np.ndarray, width: int, height: int) -> None:
    """Write events (EVENT_DTYPE-like, sorted, 0 <= t < 2^32 µs, p 0/1) as a DAT file of
    Event2D records for a width x height sensor (pixels, < 16384: 14-bit coordinates)."""
    events = checked_events(events, width, height, (1 << 14) - 1, f"DAT writer {path}")
    t = events["t"]
    if t.shape[0] and (int(t[0]) >= 1 << 32 or (t.shape[0] > 1 and int(np.diff(t).max()) >= 1 << 31)):
        raise ValueError(f"DAT writer {path}: the 32-bit DAT stamp cannot hold a first time of "
                         f"2^32 µs or more, nor a gap of 2^31 µs or more")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    header = (f"% Data file containing Event2D events.\n% Version 2\n% Date {date}\n"
              f"% Height {int(height)}\n% Width {int(width)}\n").encode("ascii")
    records = np.empty((events.shape[0], 2), dtype="<u4")
    records[:, 0] = t & 0xFFFFFFFF
    records[:, 1] = ((events["p"].astype(np.uint32) << 28) | (events["y"].astype(np.uint32) << 14)
                     | events["x"].astype(np.uint32))
    with open(path, "wb") as fh:
        fh.write(header + bytes([0, RECORD_BYTES]))
        fh.write(records.tobytes())


# decode loop ---------------------------------------------------------------------------
@njit(cache=True)
def _dat_fast(src, dst, state, width, height):
    """Optimistic pass over records src (dst as long); returns events written, or -1."""
    base, high = state[K.S_BASE], state[K.S_HIGH]
    # sign bit set once a stamp goes backwards (or wraps), a coordinate passes the sensor
    # or the polarity is not 0/1: one OR per record instead of a compare per check
    sign = 0
    x_max, y_max = width - 1, height - 1
    # unsigned indices: Numba then skips its negative-index wraparound test (~1.3x faster).
    # The checks first, in a pass of their own that vectorises; then the copy, two stores
    # per event (see _unaligned.py): checking while copying took about twice as long.
    n = np.uint64(dst.shape[0])
    for k in range(n):
        ts = np.int64(src[k + k])
        w = np.int64(src[k + k + np.uint64(1)])
        x = w & 0x3FFF
        y = (w >> 14) & 0x3FFF
        p = w >> 28
        sign |= (ts - high) | (x_max - x) | (y_max - y) | (1 - p)
        high = ts
    if sign < 0 or dst.strides[0] != EVENT_BYTES:
        return -1
    if n == 0:
        return 0
    for k in range(n - np.uint64(1)):
        w = np.int64(src[k + k + np.uint64(1)])
        at = k * np.uint64(EVENT_BYTES)
        store_le64(dst, at, base + np.int64(src[k + k]))
        store_le64(dst, at + np.uint64(8), (w & 0x3FFF) | (((w >> 14) & 0x3FFF) << 16) | ((w >> 28) << 32))
    k = n - np.uint64(1)  # the last event field by field: nothing is written past it
    w = np.int64(src[k + k + np.uint64(1)])
    dst[k].t = base + np.int64(src[k + k])
    dst[k].x = w & 0x3FFF
    dst[k].y = (w >> 14) & 0x3FFF
    dst[k].p = w >> 28
    state[K.S_HIGH] = high
    return dst.shape[0]


@njit(cache=True)
def _dat_careful(words, r, stop, state, out, n, counters, detail, width, height, strict):
    """Record by record from r to stop; returns (r, n, status)."""
    base, high = state[K.S_BASE], state[K.S_HIGH]
    status = 0
    while r < stop and n < out.shape[0]:
        ts = np.int64(words[2 * r])
        w = np.int64(words[2 * r + 1])
        x = w & 0x3FFF
        y = (w >> 14) & 0x3FFF
        p = w >> 28
        if ts < high and high - ts <= (K.DAT_LOOP_US >> 1):
            if strict:
                status = K.ERR_EVENT_TIME_BACKWARDS
                detail[0], detail[1] = base + ts, base + high
                break
            counters[K.C_EVENT_TIME_BACKWARDS] += 1
            r += 1
            continue
        if ts < high:
            base += K.DAT_LOOP_US  # the 32-bit stamp wrapped (every 71.6 minutes)
            counters[K.C_TIME_LOOPS] += 1
        high = ts
        if x >= width or y >= height or p > 1:
            if strict:
                status = K.ERR_OUT_OF_RANGE if p <= 1 else K.ERR_BAD_POLARITY
                detail[0], detail[1] = (x, y) if p <= 1 else (p, 0)
                break
            counters[K.C_OUT_OF_RANGE if p <= 1 else K.C_BAD_POLARITY] += 1
        else:
            out[n]["t"] = base + ts
            out[n]["x"] = x
            out[n]["y"] = y
            out[n]["p"] = p
            n += 1
        r += 1
    state[K.S_BASE], state[K.S_HIGH] = base, high
    return r, n, status


@njit(cache=True)
def decode_dat(words, start, state, out, counters, detail, width, height, strict):
    """DAT CD records (pairs of 32-bit words: t, then x 13..0 | y 27..14 | p 31..28) -> events.

    `start` and the returned position count records, not words.
    """
    nr = words.shape[0] // 2
    r = start
    if state[K.S_HAVE_TIME] == 0 and r < nr:
        state[K.S_HAVE_TIME] = 1
        state[K.S_HIGH] = np.int64(words[2 * r])
    n = 0
    while r < nr:
        stop = min(nr, r + K.CHUNK)
        if n + (stop - r) <= out.shape[0]:
            j = _dat_fast(words[2 * r:2 * stop], out[n:n + stop - r], state, width, height)
            if j >= 0:
                r, n = stop, n + j
                continue
        r, n, status = _dat_careful(words, r, stop, state, out, n, counters, detail, width, height, strict)
        if r < stop:
            return n, 0, r, status
    return n, 0, r, 0


__all__ = ["DatReader", "write_dat"]
