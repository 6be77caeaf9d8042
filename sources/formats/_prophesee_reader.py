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
from sources.formats.base import BlockFileReader, FileInfo, format_error, header_dict, parse_percent_header

TRIGGER_DTYPE = K.TRIGGER_DTYPE
HEADER_MAX_BYTES = 1 << 20
# Prophesee's legacy RAW files name no geometry; OpenEB infers it from the camera plugin
# (Gen3/Gen3.1 sensors are VGA, Gen4/Gen4.1/IMX636 are 1280x720).
_PLUGIN_GEOMETRY = (("gen31", (640, 480)), ("gen3", (640, 480)), ("gen41", (1280, 720)),
                    ("gen4", (1280, 720)), ("imx636", (1280, 720)))
_SKIPPED = {K.C_UNKNOWN_TYPE: "words of unknown type", K.C_OUT_OF_RANGE: "events outside the sensor",
            K.C_TIME_HIGH_BACKWARDS: "time-high words going backwards",
            K.C_EVENT_TIME_BACKWARDS: "events whose time goes backwards",
            K.C_BAD_POLARITY: "events with a polarity field other than 0/1"}


def concat_events(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate contiguous EVENT_DTYPE arrays as bytes (numpy copies the packed
    structured dtype field by field, ~10x slower)."""
    parts = [p for p in parts if p.shape[0]]
    if not parts:
        return np.empty(0, dtype=EVENT_DTYPE)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([np.ascontiguousarray(p).view(np.uint8) for p in parts]).view(EVENT_DTYPE)


class ProphReader(BlockFileReader):
    """Shared machinery of the Prophesee readers (subclasses set `_label` and the kernel)."""

    _label: ClassVar[str] = ""  # format name in messages, e.g. "EVT3"
    _unit_bytes: ClassVar[int] = 2  # bytes per word/record: the most events one can hold
    _sink: np.ndarray | None = None

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
                              f"(counted in reader.counters[{name!r}])", stacklevel=6)
        self.counters.update(zip(K.COUNTER_NAMES, self._counts.tolist()))

    def _run_kernel(self, units: np.ndarray, n_units: int, offset: int, unit_bytes: int,
                    first_cap: int) -> np.ndarray:
        """Decode `n_units` words/records with `self._kernel`, in as many output buffers as needed."""
        width, height = self._limits()
        strict = self.on_error == "raise"
        parts = []
        pos, cap = 0, first_cap
        while pos < n_units:
            if self._sink is not None:
                # read_all: decode straight into one growing array
                if self._sink.shape[0] - self._sink_n < 64:
                    self._sink.resize(2 * self._sink.shape[0] + 64, refcheck=False)
                n, pos, status = self._call_kernel(units, pos, self._sink[self._sink_n:], width, height, strict)
                self._sink_n += n
            else:
                out = np.empty(cap, dtype=EVENT_DTYPE)
                n, pos, status = self._call_kernel(units, pos, out, width, height, strict)
                if n:
                    parts.append(out[:n])
            if status:
                self._sync_counters()
                word = int(units[pos]) if pos < units.shape[0] else 0
                raise self._status_error(status, offset + pos * unit_bytes, word)
            cap = max(2 * (n_units - pos), 64)
        self._sync_counters()
        return concat_events(parts)

    def read_all(self) -> np.ndarray:
        """Every remaining event, decoded straight into one array (no per-block copies)."""
        parts = list(self._pending.blocks)
        self._pending.clear()
        remaining = self.file_size - self._offset
        # an upper bound for EVT 2.0 and DAT; EVT 3.0 grows the array if vectors need it
        self._sink = np.empty(min(remaining // self._unit_bytes, 1 << 24) + 64, dtype=EVENT_DTYPE)
        self._sink_n = 0
        try:
            while not self._done:
                self._fill()
            sink = self._sink
        finally:
            self._sink = None
        sink.resize(self._sink_n, refcheck=False)
        return concat_events([*parts, sink])


class RawReader(ProphReader):
    """EVT 2.0 / EVT 3.0 '.raw' file: '% ' header lines, then little-endian words.

    External trigger events (EXT_TRIGGER words) are kept apart from the CD events:
    `triggers()` returns those decoded so far as a TRIGGER_DTYPE array (t µs, p edge
    0/1, id channel), in file order. The decoder runs at most one block ahead of `read`,
    so after `read_all()` it holds every trigger of the file; `seek` starts it over.
    """

    suffixes: ClassVar[tuple[str, ...]] = (".raw",)
    _evt: ClassVar[str] = ""          # the '% evt' header value, e.g. "3.0"
    _word: ClassVar[np.dtype] = np.dtype("<u2")

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
        trig = np.empty(min(words.shape[0] - pos, 4096) + 1, dtype=TRIGGER_DTYPE)
        n, m, pos, status = self._kernel(words, pos, self._state, out, trig, self._counts,
                                         self._detail, width, height, strict)
        if m:
            self._trigger_parts.append(trig[:m].copy())
        return n, pos, status

    def _decode(self, buf: np.ndarray, offset: int, final: bool):
        size = self._word.itemsize
        nw = buf.shape[0] // size
        if nw == 0:
            if final and buf.shape[0]:
                raise self._error(offset, f"file ends inside a {8 * size}-bit word "
                                          f"({buf.shape[0]} byte(s) left)")
            return np.empty(0, dtype=EVENT_DTYPE), 0
        words = buf[: nw * size].view(self._word)
        if not words.flags.aligned:
            words = words.copy()
        return self._run_kernel(words, nw, offset, size, nw + 64), nw * size

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
