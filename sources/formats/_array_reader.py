"""The shared machinery of the event-array readers (`arrays.py`): column sources and the
read / read_until / seek logic over them, with the validation every slice goes through."""

from __future__ import annotations

import os
import zipfile
from typing import ClassVar

import numpy as np

from pipeline.errors import FormatError
from pipeline.events import EVENT_DTYPE
from sources.formats._array_kernels import BAD_POLARITY, BAD_X, BAD_Y, OK, check_records, pack_columns
from sources.formats.base import EventReader, FileInfo, PendingEvents, format_error

FIELDS = ("t", "x", "y", "p")
ALIASES = {"t": ("t", "ts", "timestamp"), "x": ("x",), "y": ("y",), "p": ("p", "polarity", "pol")}
CHUNK_ROWS = 1 << 16
DIRECT_ROWS = 1 << 20  # read(n) up to this many rows decodes them in one piece
_INT64_MAX = np.iinfo(np.int64).max
_KERNEL_DTYPES = (np.dtype(np.int64), np.dtype(np.uint16), np.dtype(np.int8), np.dtype(np.uint8))


def pick_fields(names, where: str) -> dict[str, str]:
    """Our field -> the file's name for it; FormatError-ready message when one is missing."""
    out = {}
    for field, options in ALIASES.items():
        found = [n for n in options if n in names]
        if not found:
            raise ValueError(f"{where} has no field {field!r} (or {'/'.join(options[1:]) or 'alias'}); "
                             f"has {sorted(names)}")
        out[field] = found[0]
    return out


def check_kinds(dtypes: dict[str, np.dtype]) -> None:
    for field, dtype in dtypes.items():
        if dtype.kind not in "iu" and not (field == "p" and dtype.kind == "b"):
            raise ValueError(f"field {field} has dtype {dtype}; event fields must be integers "
                             f"(times in µs){' or bool' if field == 'p' else ''}")


class RandomColumns:
    """Four equal-length column objects supporting slicing (memmaps, h5py datasets)."""

    random_access = True

    def __init__(self, columns: dict, n: int, t_offset: int = 0) -> None:
        self.columns, self.n, self.t_offset = columns, n, t_offset

    def rows(self, start: int, stop: int) -> list[np.ndarray]:
        cols = [np.asarray(self.columns[f][start:stop]) for f in FIELDS]
        if self.t_offset:
            cols[0] = cols[0].astype(np.int64) + self.t_offset
        return cols

    def t_at(self, i: int) -> int:
        return int(self.columns["t"][i]) + self.t_offset

    def close(self) -> None:
        pass


class RecordFile:
    """Rows of a file that are EVENT_DTYPE records already (an .npy our writer made): read
    straight into the returned array, one copy from the page cache and no per-field work
    (a memory map faults each page in: most of the time of the column path)."""

    random_access = True

    def __init__(self, path: str, offset: int, n: int) -> None:
        need = offset + n * EVENT_DTYPE.itemsize
        if os.path.getsize(path) < need:
            rows = (os.path.getsize(path) - offset) // EVENT_DTYPE.itemsize
            raise ValueError(f"the header declares {n} rows, the file holds {max(rows, 0)} (cut short?)")
        self.fh = open(path, "rb")
        self.offset, self.n = offset, n

    def records(self, start: int, stop: int) -> np.ndarray:
        out = np.empty(stop - start, dtype=EVENT_DTYPE)
        self.fh.seek(self.offset + start * EVENT_DTYPE.itemsize)
        got = self.fh.readinto(out.view(np.uint8))
        if got != out.nbytes:
            raise ValueError(f"file ends inside row {start + got // EVENT_DTYPE.itemsize} (cut short?)")
        return out

    def t_at(self, i: int) -> int:
        return int(self.records(i, i + 1)["t"][0])

    def close(self) -> None:
        self.fh.close()


class H5Columns(RandomColumns):
    def __init__(self, handle, columns: dict, n: int, t_offset: int, compound=None) -> None:
        super().__init__(columns, n, t_offset)
        self.handle, self.compound = handle, compound

    def rows(self, start: int, stop: int) -> list[np.ndarray]:
        if self.compound is None:
            return super().rows(start, stop)
        block = self.compound[start:stop]  # one read for all four fields
        cols = [block[self.columns[f]] for f in FIELDS]
        if self.t_offset:
            cols[0] = cols[0].astype(np.int64) + self.t_offset
        return cols

    def t_at(self, i: int) -> int:
        if self.compound is None:
            return super().t_at(i)
        return int(self.compound[i][self.columns["t"]]) + self.t_offset

    def close(self) -> None:
        self.handle.close()


def _kernel_type(column: np.ndarray) -> np.ndarray:
    """The column as one of the few dtypes pack_columns is compiled for (int64, uint16, int8,
    uint8; bool read as uint8), so that odd file dtypes do not each cost a compilation."""
    if column.dtype.kind == "b":
        return column.view(np.uint8)
    if column.dtype in _KERNEL_DTYPES:
        return column
    return column.astype(np.int64)


def read_npy_header(fh) -> tuple[tuple, np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f".npy version {version} not supported")
    if dtype.itemsize > 4096:
        raise ValueError(f"rows of {dtype.itemsize} bytes are too wide for events")
    if dtype.hasobject:
        raise ValueError("array holds Python objects (would need pickle)")
    if len(shape) != 1:
        raise ValueError(f"array shape {shape} is not 1-D")
    return shape, dtype


class ZipStream:
    """One compressed .npz member read front to back; `read(start, stop)` rewinds when asked
    for rows behind its position."""

    def __init__(self, zf: zipfile.ZipFile, name: str) -> None:
        self.zf, self.name = zf, name
        self._open()

    def _open(self) -> None:
        self.fh = self.zf.open(self.name)
        shape, self.dtype = read_npy_header(self.fh)
        self.n, self.row = shape[0], 0

    def read(self, start: int, stop: int) -> np.ndarray:
        if start < self.row:
            self.fh.close()
            self._open()
        size = self.dtype.itemsize
        while self.row < start:  # skip in bounded pieces
            k = min(start - self.row, CHUNK_ROWS)
            if len(self.fh.read(k * size)) != k * size:
                raise ValueError(f"member {self.name} ends early")
            self.row += k
        data = self.fh.read((stop - start) * size)
        if len(data) != (stop - start) * size:
            raise ValueError(f"member {self.name} ends early (cut short?)")
        self.row = stop
        return np.frombuffer(data, dtype=self.dtype)


class ZipColumns:
    random_access = False

    def __init__(self, streams: dict[str, ZipStream], fields: dict[str, str] | None, n: int) -> None:
        self.streams, self.fields, self.n = streams, fields, n

    def rows(self, start: int, stop: int) -> list[np.ndarray]:
        if self.fields is not None:  # one structured member
            block = self.streams["events"].read(start, stop)
            return [block[self.fields[f]] for f in FIELDS]
        return [self.streams[f].read(start, stop) for f in FIELDS]

    def close(self) -> None:
        for s in self.streams.values():
            s.fh.close()


class ArrayReaderBase(EventReader):
    """read/read_until/seek over a columns object; subclasses set it up in `_open`."""

    path: str
    options: ClassVar[tuple[str, ...]] = ()  # keyword options `_open` takes

    def __init__(self, path, width: int | None = None, height: int | None = None, **options) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected option(s) {unknown}; takes {list(self.options)}")
        self.path = os.fspath(path)
        self.counters = {}
        self._cols = None
        try:
            self._cols, self.width, self.height = self._open(**options)
        except FormatError:
            raise
        except Exception as exc:  # numpy, zipfile and h5py raise many types on damaged files
            raise format_error(self.path, None, f"cannot read ({type(exc).__name__}: {exc})", self.format) from None
        if width is not None:
            self.width = int(width)
        if height is not None:
            self.height = int(height)
        self.n = int(self._cols.n)
        self._pending = PendingEvents()
        self._rewind()

    def _open(self, **options):  # pragma: no cover - abstract
        raise NotImplementedError

    def _rewind(self) -> None:
        self._pos, self._last_t, self._done = 0, np.iinfo(np.int64).min, False
        self._pending.clear()

    def _chunk(self, rows: int = CHUNK_ROWS) -> np.ndarray:
        start, stop = self._pos, min(self._pos + rows, self.n)
        records = isinstance(self._cols, RecordFile)
        try:
            data = self._cols.records(start, stop) if records else self._cols.rows(start, stop)
        except Exception as exc:
            raise format_error(self.path, None, f"events {start}..{stop}: cannot read "
                                                f"({type(exc).__name__}: {exc})", self.format) from None
        events = self._check(data, start) if records else self._convert(data, start)
        self._pos = stop
        if stop >= self.n:
            self._done = True
        return events

    def _convert(self, cols: list[np.ndarray], start: int) -> np.ndarray:
        t, x, y, p = cols
        n = t.shape[0]
        if any(c.shape[0] != n for c in cols):
            raise self._bad(start, "columns end at different lengths")
        out = np.empty(n, dtype=EVENT_DTYPE)
        if n == 0:
            return out
        if t.dtype.kind == "u" and t.dtype.itemsize == 8:
            if int(t.max()) > _INT64_MAX:
                raise self._bad(start + int(np.argmax(t)), "time beyond the int64 range")
            t = t.view(np.int64) if t.dtype.isnative else t.astype(np.int64)
        status, i = pack_columns(_kernel_type(t), _kernel_type(x), _kernel_type(y), _kernel_type(p),
                                 65536 if self.width is None else int(self.width),
                                 65536 if self.height is None else int(self.height), self._last_t, out)
        return self._accept(out, status, int(i), start, (t, x, y, p))

    def _check(self, events: np.ndarray, start: int) -> np.ndarray:
        """EVENT_DTYPE rows from a RecordFile, checked as `_convert` checks columns."""
        if events.shape[0] == 0:
            return events
        status, i = check_records(events, 65536 if self.width is None else int(self.width),
                                  65536 if self.height is None else int(self.height), self._last_t)
        return self._accept(events, status, int(i), start, events)

    def _accept(self, out: np.ndarray, status: int, i: int, start: int, cols) -> np.ndarray:
        """out, once a kernel found every row fine; else the FormatError naming row i of
        cols (the (t, x, y, p) columns, or the records themselves)."""
        if status == OK:
            self._last_t = int(out["t"][-1])
            return out
        t, x, y, p = cols if isinstance(cols, tuple) else (cols[f] for f in FIELDS)
        row = start + i
        if status in (BAD_X, BAD_Y):
            name, col, limit = ("x", x, self.width) if status == BAD_X else ("y", y, self.height)
            top = 65536 if limit is None else int(limit)
            raise self._bad(row, f"{name}={int(col[i])} outside 0..{top - 1}"
                            + ("" if limit is None else f" (sensor {self.width}x{self.height})"))
        if status == BAD_POLARITY:
            raise self._bad(row, f"polarity {int(p[i])} not 0/1 (or -1/1)")
        before = int(self._last_t) if i == 0 else int(t[i - 1])
        raise self._bad(row, f"time goes backwards ({int(t[i])} µs after {before} µs)")

    def _t_at(self, i: int) -> int:
        try:
            return self._cols.t_at(i)
        except Exception as exc:
            raise format_error(self.path, None, f"event {i}: cannot read its time "
                                                f"({type(exc).__name__}: {exc})", self.format) from None

    def _bad(self, row: int, what: str) -> FormatError:
        return format_error(self.path, None, f"event {row}: {what}", self.format)

    def _fill(self) -> None:
        if not self._done:
            self._pending.push(self._chunk())

    def read(self, max_events: int) -> np.ndarray:
        """The next <= max_events events (EVENT_DTYPE); empty at the end of the file."""
        max_events = int(max_events)
        if max_events < 0:
            raise ValueError(f"read: max_events must be >= 0, got {max_events}")
        if self._pending.count == 0 and not self._done and 0 < max_events <= DIRECT_ROWS:
            # read whole into the array returned: chunks held until joined would each take
            # fresh memory (page faults cost more than the read), the join a copy, and each
            # slice of a memory map or an HDF5 dataset its own overhead
            return self._chunk(max_events)
        while self._pending.count < max_events and not self._done:
            self._fill()
        return self._pending.take(max_events)

    def read_until(self, t_end: int) -> np.ndarray:
        """All next events with t < t_end (µs)."""
        t_end = int(t_end)
        while not self._done and (self._pending.count == 0 or self._pending.last_t() < t_end):
            self._fill()
        return self._pending.take(self._pending.count_before(t_end))

    def read_all(self) -> np.ndarray:
        """Every remaining event: the chunks converted into the queue, joined once (records:
        read whole, as in `read`)."""
        if not self._done and self._pending.count == 0 and isinstance(self._cols, RecordFile):
            return self._chunk(self.n - self._pos)
        while not self._done:
            self._fill()
        return self._pending.take(self._pending.count)

    def seek(self, t: int) -> None:
        """Next read starts at the first event with t >= t: a binary search over the time
        column where it is random-access, else a pass from the start dropping what it skips."""
        t = int(t)
        self._rewind()
        if self.n == 0:
            self._done = True
            return
        if self._cols.random_access:
            lo, hi = 0, self.n
            while lo < hi:
                mid = (lo + hi) // 2
                if self._t_at(mid) < t:
                    lo = mid + 1
                else:
                    hi = mid
            self._pos = lo
            self._done = lo >= self.n
            if lo > 0:
                self._last_t = self._t_at(lo - 1)
            return
        while not self._done:
            self._fill()
            if self._pending.last_t() is not None and self._pending.last_t() >= t:
                break
            self._pending.clear()
        self._pending.take(self._pending.count_before(t))

    def info(self) -> FileInfo:
        """Geometry from the file (or given); count exact; first/last time where the time
        column is random-access."""
        first = last = None
        if self.n and self._cols.random_access:
            first, last = self._t_at(0), self._t_at(self.n - 1)
        return FileInfo(path=self.path, format=self.format, width=self.width, height=self.height,
                        event_count=self.n, t_first=first, t_last=last, extra={})

    def close(self) -> None:
        if self._cols is not None:
            self._cols.close()


def geometry_from(values: dict) -> tuple[int | None, int | None]:
    """width/height from 'width'/'height' or tonic's 'sensor_size' (W, H[, P])."""
    if "width" in values and "height" in values:
        return int(np.asarray(values["width"]).reshape(-1)[0]), int(np.asarray(values["height"]).reshape(-1)[0])
    if "sensor_size" in values:
        size = np.asarray(values["sensor_size"]).reshape(-1)
        if size.shape[0] >= 2:
            return int(size[0]), int(size[1])
    return None, None
