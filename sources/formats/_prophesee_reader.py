"""What the Prophesee readers (EVT 2.0, EVT 3.0, DAT) share: running a Numba decoder over
a block, turning its status into a FormatError or a counted skip, and the '% ' header of
RAW files (geometry, format line) with its writer.
"""

from __future__ import annotations

import datetime
import os
import warnings
from typing import ClassVar

import numpy as np

from pipeline.errors import FormatError
from pipeline.events import EVENT_DTYPE, as_events, check_sorted
from sources.formats import _prophesee_kernels as K
from sources.formats.base import (
    BlockFileReader,
    FileInfo,
    concat_events,
    format_error,
    header_dict,
    parse_percent_header,
)

TRIGGER_DTYPE = K.TRIGGER_DTYPE
HEADER_MAX_BYTES = 1 << 20
_READ_CAP_EVENTS = 1 << 24  # the largest array one read allocates at once (218 MB)
# Prophesee's legacy RAW files name no geometry; OpenEB infers it from the camera plugin
# (Gen3/Gen3.1 sensors are VGA, Gen4/Gen4.1/IMX636 are 1280x720).
_PLUGIN_GEOMETRY = (("gen31", (640, 480)), ("gen3", (640, 480)), ("gen41", (1280, 720)),
                    ("gen4", (1280, 720)), ("imx636", (1280, 720)))
_SKIPPED = {K.C_UNKNOWN_TYPE: "words of unknown type", K.C_OUT_OF_RANGE: "events outside the sensor",
            K.C_TIME_HIGH_BACKWARDS: "time-high words going backwards",
            K.C_EVENT_TIME_BACKWARDS: "events whose time goes backwards",
            K.C_BAD_POLARITY: "events with a polarity field other than 0/1"}


class ProphReader(BlockFileReader):
    """Shared machinery of the Prophesee readers (subclasses set `_label`, the unit layout
    and `_call_kernel`).

    The file is read block by block into one reused buffer and cut into whole units
    (words, or DAT records); `read` decodes them straight into the array it returns, so
    a decoded event is written once and never copied. The decoder stops when that array
    is full and resumes at the next unit on the next call. `read_until` and `seek` go
    through BlockFileReader's queue of decoded blocks (`_fill`), which `read` empties first.
    """

    _label: ClassVar[str] = ""  # format name in messages, e.g. "EVT3"
    _unit_bytes: ClassVar[int] = 2  # bytes per word/record
    _unit_what: ClassVar[str] = "a 16-bit word"  # for "file ends inside ..."
    _word: ClassVar[np.dtype] = np.dtype("<u2")  # the kernel's view of the units
    # room the kernel needs to make progress (an EVT 3.0 vector word holds 12 events);
    # a read with less room left decodes a few events ahead into the queue instead
    _min_room: ClassVar[int] = 64

    def _setup(self, path, on_error: str, width: int | None, height: int | None) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.path = os.fspath(path)
        self.on_error = on_error
        self.width, self.height = width, height
        self.counters = dict.fromkeys(K.COUNTER_NAMES, 0)
        self._counts = np.zeros(K.N_COUNTERS, dtype=np.int64)
        self._detail = np.zeros(4, dtype=np.int64)
        self._warned: set[int] = set()
        self._raw = np.empty(0, dtype=np.uint8)

    def _error(self, offset: int | None, what: str) -> FormatError:
        return format_error(self.path, offset, what, self._label)

    def _limits(self) -> tuple[int, int]:
        # coordinates are checked against the declared geometry; without one, anything the
        # format's fields can hold is accepted
        return (self.width or 1 << 16), (self.height or 1 << 16)

    def _reset_state(self) -> None:
        self._state = K.new_state()
        self._counts[:] = 0
        self._trigger_parts: list[np.ndarray] = []
        self.counters.update(dict.fromkeys(K.COUNTER_NAMES, 0))
        # the current block's whole units, the next one to decode, the file offset of
        # units[0], and the bytes of an incomplete unit carried to the next block
        self._units = np.empty(0, dtype=self._word)
        self._n_units = 0
        self._unit_pos = 0
        self._units_offset = self.header_size
        self._tail = b""

    def _status_error(self, status: int, offset: int, word: int) -> FormatError:
        d = self._detail
        if status == K.ERR_UNKNOWN_TYPE:
            what = f"word 0x{word:x} has unknown event type 0x{int(d[0]):x}"
        elif status == K.ERR_OUT_OF_RANGE:
            what = (f"event at x={int(d[0])}, y={int(d[1])} lies outside the "
                    f"{self.width}x{self.height} sensor")
        elif status == K.ERR_TIME_HIGH_BACKWARDS:
            what = (f"time-high word goes backwards (0x{int(d[0]):x} after 0x{int(d[1]):x}), "
                    f"too little for a time loop")
        elif status == K.ERR_EVENT_TIME_BACKWARDS:
            what = f"event time goes backwards ({int(d[0])} µs after {int(d[1])} µs)"
        else:
            what = f"polarity field {int(d[0])} is not 0 or 1"
        return self._error(offset, what + " (open with on_error='skip' to skip damaged data)")

    def _sync_counters(self) -> None:
        for idx in K.DAMAGE_COUNTERS:
            if self._counts[idx] and idx not in self._warned:
                self._warned.add(idx)
                name = K.COUNTER_NAMES[idx]
                warnings.warn(f"{self._label} file {self.path}: skipping {_SKIPPED[idx]} "
                              f"(counted in reader.counters[{name!r}])", stacklevel=3)
        self.counters.update(zip(K.COUNTER_NAMES, self._counts.tolist()))

    # blocks and units ---------------------------------------------------------------
    def _load_block(self) -> None:
        """The next block's whole units (sets _done at the end of the file). readinto a
        reused buffer: no allocation, and no fresh pages to fault in, per block."""
        size = self._unit_bytes
        while not self._done:
            self._units_offset += self._n_units * size
            self._n_units = self._unit_pos = 0
            tail = self._tail
            if self._raw.shape[0] < len(tail) + self.block_bytes:
                self._raw = np.empty(len(tail) + self.block_bytes, dtype=np.uint8)
            raw = self._raw
            raw[: len(tail)] = np.frombuffer(tail, dtype=np.uint8)
            got = self._fh.readinto(memoryview(raw)[len(tail): len(tail) + self.block_bytes])
            total = len(tail) + got
            if got == 0:
                if total:
                    raise self._error(self._units_offset, f"file ends inside {self._unit_what} "
                                                          f"({total} byte(s) left)")
                self._done = True
                return
            self._n_units = total // size
            self._units = raw[: self._n_units * size].view(self._word)
            self._tail = raw[self._n_units * size: total].tobytes()
            if self._n_units:
                return

    def _units_left(self) -> int:
        """Units not decoded yet, in this block and the rest of the file (an incomplete
        one counts: reading on to it is what reports it)."""
        decoded = self._units_offset + self._unit_pos * self._unit_bytes
        return -(-max(0, self.file_size - decoded) // self._unit_bytes)

    def _decode_into(self, out: np.ndarray, n: int) -> int:
        """Decode the current block's units into out[n:] until it or the block is used up
        (or the kernel's trigger buffer is full); the new event count."""
        width, height = self._limits()
        pos = self._unit_pos
        k, pos, status = self._call_kernel(self._units, pos, out[n:], width, height,
                                           self.on_error == "raise")
        self._unit_pos = pos
        if status:
            self._sync_counters()
            word = int(self._units[pos]) if pos < self._units.shape[0] else 0
            raise self._status_error(status, self._units_offset + pos * self._unit_bytes, word)
        return n + k

    def _decode_more(self, out: np.ndarray, n: int) -> int:
        """One step of filling out[n:] (loading a block first if this one is used up)."""
        if self._unit_pos >= self._n_units:
            self._load_block()
            return n
        if out.shape[0] - n >= self._min_room:
            return self._decode_into(out, n)
        # too little room for the kernel: decode a few events ahead, queue and copy them
        ahead = np.empty(self._min_room, dtype=EVENT_DTYPE)
        self._pending.push(ahead[: self._decode_into(ahead, 0)])
        return n + self._pending.take_into(out[n:])

    def _fill(self) -> None:
        """Decode the rest of the current block into the queue (read_until and seek)."""
        while not self._done:
            if self._unit_pos >= self._n_units:
                self._load_block()
                continue
            out = np.empty(self._n_units - self._unit_pos + self._min_room, dtype=EVENT_DTYPE)
            n = 0
            while n < out.shape[0] - self._min_room and self._unit_pos < self._n_units:
                n = self._decode_into(out, n)
            self._sync_counters()
            if n:
                out.resize(n, refcheck=False)
                self._pending.push(out)
                return

    # interface ------------------------------------------------------------------------
    def read(self, max_events: int) -> np.ndarray:
        """The next <= max_events events (EVENT_DTYPE); empty at the end of the file."""
        max_events = int(max_events)
        if max_events < 0:
            raise ValueError(f"read: max_events must be >= 0, got {max_events}")
        parts = []
        while max_events > 0:
            # no larger than the rest of the file can fill (one event per unit, but for
            # EVT 3.0 vector words), nor than _READ_CAP_EVENTS: read(huge) must not
            # allocate huge
            size = min(max_events, self._pending.count + self._units_left(), _READ_CAP_EVENTS)
            if size == 0:
                break
            part = self._read_into(np.empty(size, dtype=EVENT_DTYPE))
            parts.append(part)
            max_events -= part.shape[0]
            if part.shape[0] < size:
                break
        return concat_events(parts)

    def _read_into(self, out: np.ndarray) -> np.ndarray:
        """out filled with the next events; shrunk in place where the file ends first."""
        n = self._pending.take_into(out)
        while n < out.shape[0] and not self._done:
            n = self._decode_more(out, n)
        self._sync_counters()
        if n < out.shape[0]:
            out.resize(n, refcheck=False)  # in place: no copy, and the rest goes back to malloc
        return out

    def read_all(self) -> np.ndarray:
        """Every remaining event, decoded straight into one array (for EVT 3.0 vector
        words, which hold several events, in a few)."""
        parts = []
        while True:
            part = self.read(max(self._pending.count + self._units_left(), 1))
            if part.shape[0] == 0:
                return concat_events(parts)
            parts.append(part)


class RawReader(ProphReader):
    """EVT 2.0 / EVT 3.0 '.raw' file: '% ' header lines, then little-endian words.

    External trigger events (EXT_TRIGGER words) are kept apart from the CD events:
    `triggers()` returns those decoded so far as a TRIGGER_DTYPE array (t µs, p edge
    0/1, id channel), in file order. The decoder runs at most one block ahead of `read`,
    so after `read_all()` it holds every trigger of the file; `seek` starts it over.
    """

    suffixes: ClassVar[tuple[str, ...]] = (".raw",)
    _evt: ClassVar[str] = ""          # the '% evt' header value, e.g. "3.0"

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        lines, _ = parse_percent_header(head)
        fields = header_dict(lines)
        return fields.get("evt") == cls._evt or fields.get("format", "").split(";")[0].strip() == cls._label

    def __init__(self, path, on_error: str = "raise", width: int | None = None,
                 height: int | None = None) -> None:
        """Open a RAW file. on_error: 'raise' (FormatError at the first damaged word) or
        'skip' (skip and count damaged words/events in `counters`, with a warning);
        width/height override the header's geometry (pixels)."""
        self._setup(path, on_error, width, height)
        self._trig = np.empty(4097, dtype=TRIGGER_DTYPE)  # the kernel stops when it is full
        with open(self.path, "rb") as fh:
            head = fh.read(HEADER_MAX_BYTES)
        self._parse_header(head)
        if width is not None:
            self.width = int(width)
        if height is not None:
            self.height = int(height)
        self._open_stream()

    def _parse_header(self, head: bytes) -> None:
        lines, size = parse_percent_header(head)
        if head[size:size + 1] == b"%":
            raise self._error(size, "header line has no end of line (file cut inside the header?)")
        self.header_size = size
        self.header = header_dict(lines)
        evt = self.header.get("evt")
        if evt is not None and evt != self._evt:
            raise self._error(0, f"header says 'evt {evt}', not {self._evt}")
        geometry, self._geometry_source = None, None
        fmt = self.header.get("format")
        if fmt is not None:
            name, *options = [part.strip() for part in fmt.split(";")]
            if name != self._label:
                raise self._error(0, f"header says 'format {fmt}': encoding {name}, not {self._label}")
            opts = dict(o.partition("=")[::2] for o in options if o)
            if "width" in opts or "height" in opts:
                geometry = (self._header_int(opts.get("width"), "format width"),
                            self._header_int(opts.get("height"), "format height"))
                self._geometry_source = "format"
        if "geometry" in self.header:
            w, _, h = self.header["geometry"].partition("x")
            g = (self._header_int(w, "geometry width"), self._header_int(h, "geometry height"))
            if geometry is not None and g != geometry:
                raise self._error(0, f"header geometry {g[0]}x{g[1]} disagrees with its format "
                                     f"line ({geometry[0]}x{geometry[1]})")
            geometry, self._geometry_source = g, "geometry"
        if geometry is None:
            plugin = self.header.get("plugin_name", "")
            for key, g in _PLUGIN_GEOMETRY:
                if key in plugin:
                    geometry, self._geometry_source = g, "plugin_name"
                    break
        self.width, self.height = geometry if geometry else (None, None)

    def _header_int(self, text, what: str) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            raise self._error(0, f"corrupt header: {what} {text!r} is not an integer") from None
        if not 0 < value <= 65535:
            raise self._error(0, f"corrupt header: {what} {value} outside 1..65535")
        return value

    def _call_kernel(self, words, pos, out, width, height, strict):
        n, m, pos, status = self._kernel(words, pos, self._state, out, self._trig, self._counts,
                                         self._detail, width, height, strict)
        if m:
            self._trigger_parts.append(self._trig[:m].copy())
        return n, pos, status

    def triggers(self) -> np.ndarray:
        """External trigger events decoded so far (TRIGGER_DTYPE: t µs, p 0/1 edge, id channel)."""
        if not self._trigger_parts:
            return np.empty(0, dtype=TRIGGER_DTYPE)
        if len(self._trigger_parts) > 1:
            self._trigger_parts = [np.concatenate(self._trigger_parts)]
        return self._trigger_parts[0].copy()

    def info(self) -> FileInfo:
        """Geometry from the header; t_first from decoding the first events. The event
        count and t_last are None: EVT words carry no count, and the time of the last
        event depends on every time-high loop before it (a full decode)."""
        with type(self)(self.path, on_error=self.on_error, width=self.width, height=self.height) as probe:
            first = probe.read(1)
        extra = {"header": dict(self.header), "header_bytes": self.header_size,
                 "geometry_source": self._geometry_source}
        return FileInfo(self.path, self.format, self.width, self.height, None,
                        int(first["t"][0]) if first.shape[0] else None, None, extra)


def raw_header(evt: str, label: str, width: int, height: int) -> bytes:
    """The '% ' header of a RAW file: what OpenEB's RAW readers need (format line with
    geometry, 'evt' for older readers) and '% end' so no reader takes data for header."""
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"% date {date}", f"% evt {evt}", f"% format {label};height={height};width={width}",
             f"% geometry {width}x{height}", "% integrator_name spikestream", "% end"]
    return ("\n".join(lines) + "\n").encode("ascii")


def checked_events(events: np.ndarray, width: int, height: int, max_xy: int, where: str) -> np.ndarray:
    """Events a writer can encode: EVENT_DTYPE, sorted, t >= 0, inside the geometry, p 0/1."""
    events = as_events(np.asarray(events), where=where)
    width, height = int(width), int(height)
    if not (0 < width <= max_xy and 0 < height <= max_xy):
        raise ValueError(f"{where}: geometry {width}x{height} outside 1..{max_xy}")
    check_sorted(events, where=where)
    if events.shape[0]:
        if int(events["t"][0]) < 0:
            raise ValueError(f"{where}: negative time {int(events['t'][0])} µs")
        if int(events["x"].max()) >= width or int(events["y"].max()) >= height:
            raise ValueError(f"{where}: event outside the {width}x{height} sensor")
        if np.any((events["p"] != 0) & (events["p"] != 1)):
            raise ValueError(f"{where}: polarity must be 0 or 1")
    return events


def write_words(path, header: bytes, events: np.ndarray, encode, word_dtype, loop_bits: int,
                chunk: int = 1 << 20) -> None:
    """Write `header` then the words `encode(t, x, y, p, state, out) -> n` makes, chunk by chunk."""
    loops = int(events["t"][-1]) >> loop_bits if events.shape[0] else 0
    if loops > 1 << 20:
        raise ValueError(f"{path}: last event at {int(events['t'][-1])} µs needs {loops} time-high "
                         f"loops of {1 << loop_bits} µs; subtract a start time first")
    state = K.new_encoder_state()
    with open(path, "wb") as fh:
        fh.write(header)
        for start in range(0, events.shape[0], chunk):
            part = events[start:start + chunk]
            out = np.empty(4 * part.shape[0] + 2 * loops + 8, dtype=word_dtype)
            n = encode(part["t"], part["x"], part["y"], part["p"], state, out)
            fh.write(out[:n].tobytes())
