"""AEDAT 3.1 (iniVation cAER / libcaer): streaming reader and writer of polarity events.

File layout (iniVation "AEDAT 3.1" format page; libcaer `events/common.h`): ASCII header
lines starting with '#', the first `#!AER-DAT3.1\\r\\n`, the last `#!END-HEADER\\r\\n`, then
event packets: a 28-byte little-endian header (int16 eventType, int16 eventSource, int32
eventSize, eventTSOffset, eventTSOverflow, eventCapacity, eventNumber, eventValid) and
eventCapacity * eventSize bytes of events. Polarity events (type 1, 8 bytes): uint32 data
(bit 0 valid, bit 1 polarity, bits 2-16 y, bits 17-31 x) and int32 timestamp; the 64-bit
time is eventTSOverflow << 31 | timestamp. DVS Gesture is stored this way.

Coordinates are libcaer's (origin top-left, as images), so they need no mirroring; tonic's
`read_dvs_ibm` masks x and y to 13 bits and ignores eventTSOverflow, otherwise the same.
"""

from __future__ import annotations

import os
import re
import struct
from typing import ClassVar

import numpy as np

from pipeline.events import EVENT_DTYPE, as_events, empty_events
from sources.formats import _aedat_kernels as K
from sources.formats.base import BlockFileReader, FileInfo, format_error

MAGIC = b"#!AER-DAT3.1"
END_HEADER = b"#!END-HEADER"
_MAX_HEADER = 1 << 24
_PACKET = struct.Struct("<hhiiiiii")

# libcaer device names ("#Source <id>: <name>") -> DVS geometry (width, height)
CAMERAS = {
    "DVS128": (128, 128), "EDVS": (128, 128), "DAVIS128": (128, 128), "DAVIS208": (208, 192),
    "DAVIS240": (240, 180), "DAVIS346": (346, 260), "DAVIS640": (640, 480), "DVS132S": (132, 104),
    "DVXPLORER LITE": (320, 240), "DVXPLORER": (640, 480),
}
_COUNTER_NAMES = ("packets", "polarity_packets", "other_type_packets", "other_source_packets", "invalid_events")


def _camera_geometry(name: str) -> tuple[int, int] | None:
    key = name.upper().replace("_", " ")
    for camera, size in CAMERAS.items():  # longest names first where one prefixes another
        if key.startswith(camera):
            return size
    return None


class _HeaderError(Exception):
    """A malformed header: where (byte offset) and what."""

    def __init__(self, offset: int, what: str, incomplete: bool = False) -> None:
        super().__init__(what)
        self.offset, self.what, self.incomplete = offset, what, incomplete


def parse_header(head: bytes) -> tuple[list[str], int]:
    """The header lines (without '#' and line ends) and the header's size in bytes.

    Raises _HeaderError(offset, what) when the magic, a line or the end marker is wrong.
    """
    if not head.startswith(MAGIC):
        raise _HeaderError(0, f"wrong magic {head[:len(MAGIC)]!r}, expected {MAGIC!r}")
    lines: list[str] = []
    pos = 0
    while True:
        if head[pos : pos + 1] != b"#":
            raise _HeaderError(pos, "header line does not start with '#' before '#!END-HEADER'")
        nl = head.find(b"\n", pos)
        if nl < 0:
            raise _HeaderError(pos, "file ends inside the header (no '#!END-HEADER' line)", incomplete=True)
        line = head[pos:nl].rstrip(b"\r")
        pos = nl + 1
        if line == END_HEADER:
            return lines, pos
        lines.append(line[1:].decode("latin-1"))


class Aedat31Reader(BlockFileReader):
    """Streaming reader of the polarity events of an AEDAT 3.1 file.

    Parameters: path; source: the eventSource id to read (default: the source of the first
    polarity packet; packets of other sources are skipped and counted); width, height:
    geometry override (default: `dvsSizeX/Y` in the header, else the '#Source' camera).
    Other packet types (special, frame, IMU, ...) are skipped and counted in `counters`,
    as are events whose valid bit is clear.
    """

    format: ClassVar[str] = "aedat31"
    suffixes: ClassVar[tuple[str, ...]] = (".aedat",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def __init__(self, path, source: int | None = None, width: int | None = None,
                 height: int | None = None) -> None:
        self.path = os.fspath(path)
        with open(self.path, "rb") as fh:
            head = b""
            while True:  # the header is a few hundred bytes; read more only when it goes on
                more = fh.read(max(1 << 16, len(head)))  # doubling: linear in the header size
                head += more
                try:
                    self.header_lines, self.header_size = parse_header(head)
                    break
                except _HeaderError as exc:
                    if not (exc.incomplete and more and len(head) < _MAX_HEADER):
                        raise format_error(self.path, exc.offset, exc.what, "AEDAT3.1") from None
        self.sources = self._sources()
        self.source = source
        geometry = self._geometry(width, height)
        if geometry is None:
            raise format_error(self.path, 0, f"header names no known camera ({self.sources or 'no #Source line'}); "
                                             "pass width= and height=", "AEDAT3.1")
        self.width, self.height = geometry
        if not (0 < self.width <= 32768 and 0 < self.height <= 32768):
            raise format_error(self.path, 0, f"geometry {self.width}x{self.height} outside 1..32768", "AEDAT3.1")
        self.counters = dict.fromkeys(_COUNTER_NAMES, 0)
        self._counts = np.zeros(K.A31_COUNTS_SIZE, dtype=np.int64)
        self._info: FileInfo | None = None
        self._open_stream()

    def _sources(self) -> dict[int, str]:
        out = {}
        for line in self.header_lines:
            m = re.match(r"\s*Source\s+(\d+)\s*:\s*(.+)", line)
            if m:
                out[int(m.group(1))] = m.group(2).strip()
        return out

    def _geometry(self, width, height) -> tuple[int, int] | None:
        if width is not None and height is not None:
            return int(width), int(height)
        text = "\n".join(self.header_lines)
        mx = re.search(r"dvsSizeX\D{0,40}?(\d+)", text)
        my = re.search(r"dvsSizeY\D{0,40}?(\d+)", text)
        if mx and my:
            return int(mx.group(1)), int(my.group(1))
        names = [self.sources[self.source]] if self.source in self.sources else list(self.sources.values())
        for name in names:
            size = _camera_geometry(name)
            if size is not None:
                return size
        return None

    def _reset_state(self) -> None:
        self._state = np.zeros(K.A31_STATE_SIZE, dtype=np.int64)
        self._state[K.A31_LAST_T] = np.iinfo(np.int64).min
        self._state[K.A31_SOURCE] = -1 if self.source is None else int(self.source)
        self._counts[:] = 0

    def _decode(self, buf: np.ndarray, offset: int, final: bool):
        out = np.empty(buf.shape[0] // 8 + 1, dtype=EVENT_DTYPE)
        status, at, n, consumed = K.decode_aedat31_stream(buf, self.file_size - offset, self.width, self.height,
                                                          self._state, out, self._counts)
        self.counters.update(zip(_COUNTER_NAMES, (int(c) for c in self._counts)))
        if status != K.OK:
            raise format_error(self.path, offset + at, self._describe(status, buf, at, offset), "AEDAT3.1")
        return out[:n], consumed

    def _describe(self, status: int, buf: np.ndarray, at: int, offset: int) -> str:
        if status in (K.BAD_PACKET_HEADER, K.PACKET_PAST_END):
            ptype, source, size, tsoff, overflow, capacity, number, valid = _PACKET.unpack(buf[at : at + 28].tobytes())
            fields = (f"type {ptype}, source {source}, eventSize {size}, eventTSOffset {tsoff}, eventTSOverflow "
                      f"{overflow}, eventCapacity {capacity}, eventNumber {number}, eventValid {valid}")
            if status == K.PACKET_PAST_END:
                left = self.file_size - offset - at - 28
                return f"packet ({fields}) claims {capacity * size} bytes, {left} remain (file cut mid-packet?)"
            return f"corrupt packet header ({fields})"
        data, ts = struct.unpack("<Ii", buf[at : at + 8].tobytes())
        x, y, t = data >> 17, (data >> 2) & 0x7FFF, (int(self._state[K.A31_OVERFLOW]) << 31) | (ts & 0x7FFFFFFF)
        if status == K.BAD_COORDINATE:
            return f"event x={x}, y={y} outside the {self.width}x{self.height} sensor"
        return f"time goes backwards ({t} µs after {int(self._state[K.A31_LAST_T])} µs)"

    def info(self) -> FileInfo:
        """Geometry from the header; count and first/last time from a walk over the packet
        headers (one 28-byte read per packet, the first and last polarity packet decoded)."""
        if self._info is None:
            count, t_first, t_last = self._walk()
            extra = {"sources": dict(self.sources), "header": list(self.header_lines)}
            self._info = FileInfo(path=self.path, format=self.format, width=self.width, height=self.height,
                                  event_count=count, t_first=t_first, t_last=t_last, extra=extra)
        return self._info

    def _walk(self) -> tuple[int | None, int | None, int | None]:
        polarity: list[tuple[int, int]] = []  # (offset, body size) of the chosen source's packets
        count, source = 0, self.source
        with open(self.path, "rb") as fh:
            pos = self.header_size
            while pos + 28 <= self.file_size:
                fh.seek(pos)
                ptype, psource, size, _, _, capacity, _, valid = _PACKET.unpack(fh.read(28))
                body = capacity * size
                if size <= 0 or capacity < 0 or pos + 28 + body > self.file_size:
                    return None, None, None
                if ptype == 1 and (source is None or psource == source):
                    source = psource
                    count += valid
                    if valid:
                        polarity.append((pos, 28 + body))
                pos += 28 + body
            if pos != self.file_size:
                return None, None, None
            ends = []
            for at, size in (polarity[:1] + polarity[-1:]):
                fh.seek(at)
                ends.append(self._decode_packet(np.frombuffer(fh.read(size), np.uint8), source))
        if not ends or ends[0] is None or ends[-1] is None:
            return count, None, None
        return count, int(ends[0]["t"][0]), int(ends[-1]["t"][-1])

    def _decode_packet(self, buf: np.ndarray, source: int) -> np.ndarray | None:
        state = np.zeros(K.A31_STATE_SIZE, dtype=np.int64)
        state[K.A31_LAST_T], state[K.A31_SOURCE] = np.iinfo(np.int64).min, source
        out = np.empty(buf.shape[0] // 8 + 1, dtype=EVENT_DTYPE)
        status, _, n, _ = K.decode_aedat31_stream(buf, buf.shape[0], self.width, self.height, state, out,
                                                  np.zeros(K.A31_COUNTS_SIZE, dtype=np.int64))
        return out[:n] if status == K.OK and n else None


def _source_name(width: int, height: int) -> str:
    for name, size in CAMERAS.items():
        if size == (width, height):
            return name
    return "spikestream"


def write_aedat31(path, events: np.ndarray, width: int, height: int, packet_events: int = 4096,
                  source: int = 1) -> None:
    """Write polarity events as an AEDAT 3.1 file, cAER's layout: one polarity packet per
    `packet_events` events (a new packet also wherever the timestamp overflow changes),
    capacity = number = valid. The header names the camera with that geometry (or
    'spikestream') and records `dvsSizeX/dvsSizeY`.
    """
    events = as_events(np.asarray(events), where=f"AEDAT3.1 writer {path}")
    if not (0 < width <= 32768 and 0 < height <= 32768):
        raise ValueError(f"AEDAT3.1 writer: geometry {width}x{height} outside 1..32768")
    if packet_events <= 0:
        raise ValueError(f"AEDAT3.1 writer: packet_events must be > 0, got {packet_events}")
    t = events["t"]
    if t.shape[0]:
        if np.any(t[1:] < t[:-1]):
            raise ValueError(f"AEDAT3.1 writer {path}: events must be time-sorted")
        if t[0] < 0 or t[-1] >= 1 << 62:
            raise ValueError(f"AEDAT3.1 writer {path}: times must lie in 0..2**62 µs")
        if events["x"].max() >= width or events["y"].max() >= height:
            raise ValueError(f"AEDAT3.1 writer {path}: event outside the {width}x{height} sensor")
    header = (f"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source {source}: {_source_name(width, height)}\r\n"
              f"#-Source {source}: <attr key=\"dvsSizeX\" type=\"short\">{width}</attr>"
              f"<attr key=\"dvsSizeY\" type=\"short\">{height}</attr>\r\n#!END-HEADER\r\n")
    overflow = t >> 31
    # packet boundaries: every packet_events events and wherever the overflow counter changes
    cuts = np.union1d(np.arange(0, t.shape[0], packet_events), np.flatnonzero(np.diff(overflow)) + 1)
    cuts = np.append(cuts, t.shape[0]).astype(np.int64)
    with open(path, "wb") as fh:
        fh.write(header.encode("latin-1"))
        for a, b in zip(cuts[:-1], cuts[1:]):
            chunk = events[a:b]
            words = np.empty((b - a, 2), dtype="<u4")
            words[:, 0] = (chunk["x"].astype(np.uint32) << 17) | (chunk["y"].astype(np.uint32) << 2) \
                | ((chunk["p"] != 0).astype(np.uint32) << 1) | 1
            words[:, 1] = (chunk["t"] & 0x7FFFFFFF).astype(np.uint32)
            fh.write(_PACKET.pack(1, source, 8, 4, int(overflow[a]), b - a, b - a, b - a))
            fh.write(words.tobytes())


def read_aedat31(path, **options) -> np.ndarray:
    """Every polarity event of an AEDAT 3.1 file (options: see Aedat31Reader)."""
    with Aedat31Reader(path, **options) as reader:
        events = reader.read_all()
    return events if events.shape[0] else empty_events()


__all__ = ["Aedat31Reader", "read_aedat31", "write_aedat31"]
