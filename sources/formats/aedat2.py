"""AEDAT 2.0 (jAER): streaming reader and writer of DVS events.

File layout (iniVation "AEDAT 2.0" format page; jAER `AEFileInputStream`): ASCII header
lines starting with '#', the first `#!AER-DAT2.0`, then big-endian 8-byte records: uint32
address, int32 timestamp (µs, wrapping at 2**32). The address layout is the camera's:

- DVS128 (jAER `DVS128`): bit 15 external, y bits 8-14, x bits 1-7, bit 0 set = OFF.
- DAVIS (jAER `DavisBaseCamera`): bit 31 APS/IMU sample, bit 10 external, y bits 22-30,
  x bits 12-21, polarity bit 11.

jAER puts the origin at the bottom-left and mirrors x on read; we mirror both axes so
that (0, 0) is the top-left pixel as everywhere else here (for DAVIS this equals tonic
1.7's `read_davis_346`; tonic's `read_dvs_128` instead returns the raw fields with x and y
swapped and polarity bit 0 as is). APS/IMU and external records are skipped and counted.
"""

from __future__ import annotations

import os
import re
from typing import ClassVar

import numpy as np

from pipeline.events import EVENT_DTYPE, as_events
from sources.formats import _aedat_kernels as K
from sources.formats.base import BlockFileReader, FileInfo, format_error

MAGIC = b"#!AER-DAT2.0"
_MAX_HEADER = 1 << 24

# camera -> (DAVIS address layout?, width, height, jAER AEChip class written by the writer)
CAMERAS = {
    "dvs128": (False, 128, 128, "ch.unizh.ini.jaer.chip.retina.DVS128"),
    "davis128": (True, 128, 128, "eu.seebetter.ini.chips.davis.Davis128"),
    "davis208": (True, 208, 192, "eu.seebetter.ini.chips.davis.Davis208"),
    "davis240": (True, 240, 180, "eu.seebetter.ini.chips.davis.DAVIS240C"),
    "davis346": (True, 346, 260, "eu.seebetter.ini.chips.davis.Davis346B"),
    "davis640": (True, 640, 480, "eu.seebetter.ini.chips.davis.Davis640"),
}
# header text -> camera; "Davis346red", "DAVIS240C", "Tmpdiff128" (the DVS128's chip) ...
_NAME_PATTERNS = [(r"davis\s*346", "davis346"), (r"davis\s*240", "davis240"), (r"davis\s*640|rgbw640", "davis640"),
                  (r"davis\s*208", "davis208"), (r"davis\s*128", "davis128"), (r"dvs\s*128|tmpdiff128", "dvs128")]
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f]")
_BAD = {K.BAD_COORDINATE: "event coordinate outside the {w}x{h} sensor", K.TIME_BACKWARDS: "time goes backwards"}


def camera_from_header(lines: list[str]) -> str | None:
    """The camera named by the AEChip / HardwareInterface lines (else anywhere in the header)."""
    keyed = [line for line in lines if re.match(r"\s*(AEChip|HardwareInterface)\s*:", line)]
    for group in (keyed, lines):
        for line in group:
            low = line.lower()
            for pattern, camera in _NAME_PATTERNS:
                if re.search(pattern, low):
                    return camera
    return None


def _is_header_line(line: bytes) -> bool:
    # jAER ends the header at the first line not starting with '#'; a first record whose
    # top address byte happens to be '#' (DAVIS y 140-143) is told apart by its binary bytes
    if not line.startswith(b"#"):
        return False
    return _CONTROL.search(line.rstrip(b"\r\n")) is None


class Aedat2Reader(BlockFileReader):
    """Streaming reader of the DVS events of an AEDAT 2.0 (jAER) file.

    Parameters: path; camera: one of CAMERAS (default: named by the header's AEChip line);
    width, height: geometry override (default: the camera's; used for the mirroring).
    `counters`: aps_imu_records, external_records (skipped records).
    """

    format: ClassVar[str] = "aedat2"
    suffixes: ClassVar[tuple[str, ...]] = (".aedat",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def __init__(self, path, camera: str | None = None, width: int | None = None,
                 height: int | None = None) -> None:
        self.path = os.fspath(path)
        self._parse_header()
        self.camera = camera.lower() if camera else camera_from_header(self.header_lines)
        if self.camera not in CAMERAS:
            what = (f"unknown camera {camera!r}; known: {sorted(CAMERAS)}" if camera else
                    f"header names no known camera; pass camera= (one of {sorted(CAMERAS)})")
            raise format_error(self.path, 0, what, "AEDAT2")
        self.davis, cam_w, cam_h, _ = CAMERAS[self.camera]
        self.width = int(width) if width is not None else cam_w
        self.height = int(height) if height is not None else cam_h
        limit = (1024, 512) if self.davis else (128, 128)
        if not (0 < self.width <= limit[0] and 0 < self.height <= limit[1]):
            raise format_error(self.path, 0, f"geometry {self.width}x{self.height} outside the {self.camera} "
                                             f"address range {limit[0]}x{limit[1]}", "AEDAT2")
        self.counters = {"aps_imu_records": 0, "external_records": 0}
        self._counts = np.zeros(2, dtype=np.int64)
        self._open_stream()

    def _parse_header(self) -> None:
        lines: list[str] = []
        with open(self.path, "rb") as fh:
            first = fh.read(len(MAGIC))
            if first != MAGIC:
                raise format_error(self.path, 0, f"wrong magic {first!r}, expected {MAGIC!r}", "AEDAT2")
            fh.seek(0)
            pos = 0
            while True:
                line = fh.readline(65536)
                if not _is_header_line(line):
                    break
                if not line.endswith(b"\n"):
                    if len(line) == 65536:
                        raise format_error(self.path, pos, "header line longer than 64 KiB", "AEDAT2")
                    lines.append(line.decode("latin-1").strip()[1:].strip())
                    pos += len(line)
                    break  # header-only file ending without a newline
                lines.append(line.decode("latin-1").strip()[1:].strip())
                pos += len(line)
                if pos > _MAX_HEADER:
                    raise format_error(self.path, pos, "header longer than 16 MiB", "AEDAT2")
        if not lines:
            raise format_error(self.path, 0, "the magic line holds control characters or no line end", "AEDAT2")
        self.header_lines, self.header_size = lines, pos
        self.version = lines[0][len("!AER-DAT"):].strip()

    def _reset_state(self) -> None:
        self._wrap = 0
        self._last_raw = -1
        self._counts[:] = 0

    def _decode(self, buf: np.ndarray, offset: int, final: bool):
        n = buf.shape[0] // 8
        if n == 0:
            return np.empty(0, dtype=EVENT_DTYPE), 0
        words = np.frombuffer(buf[: 8 * n], dtype=">u4").reshape(n, 2).astype(np.uint32)
        out = np.empty(n, dtype=EVENT_DTYPE)
        status, index, written, wrap, last_raw = K.decode_aedat2(words, self.davis, self.width, self.height,
                                                                 np.int64(self._wrap), np.int64(self._last_raw),
                                                                 out, self._counts)
        self.counters["aps_imu_records"], self.counters["external_records"] = (int(c) for c in self._counts)
        if status != K.OK:
            at = offset + 8 * int(index)
            addr, raw = (int(v) for v in words[index])
            what = _BAD[status].format(w=self.width, h=self.height)
            raise format_error(self.path, at, f"{what} (address 0x{addr:08x}, timestamp {raw}; previous "
                                              f"timestamp {int(last_raw)})", "AEDAT2")
        self._wrap, self._last_raw = int(wrap), int(last_raw)
        return out[:written], 8 * n

    def info(self) -> FileInfo:
        """Geometry from the camera; t_first/t_last from the first and last DVS records
        within 1 MiB of either end of the data (t_last assumes less than one 2**32 µs
        timestamp wrap, about 71 minutes). event_count is the record count for DVS128
        files (external events, rare, included) and None for DAVIS ones, whose APS/IMU
        records cannot be told from the count alone."""
        records = (self.file_size - self.header_size) // 8
        first = last = None
        span = min(records, 1 << 17)
        with open(self.path, "rb") as fh:
            for at in (self.header_size, self.header_size + 8 * (records - span)):
                fh.seek(at)
                words = np.frombuffer(fh.read(8 * span), dtype=">u4").reshape(-1, 2)
                flags = 0x80000400 if self.davis else 0x8000
                dvs = np.flatnonzero((words[:, 0] & flags) == 0)
                if dvs.shape[0]:
                    if at == self.header_size:
                        first = int(words[dvs[0], 1])
                    last = int(words[dvs[-1], 1])
        if first is not None and last is not None and last < first:
            last += 1 << 32
        extra = {"camera": self.camera, "records": records, "version": self.version,
                 "header": list(self.header_lines)}
        return FileInfo(path=self.path, format=self.format, width=self.width, height=self.height,
                        event_count=None if self.davis else records, t_first=first, t_last=last, extra=extra)


def _camera_for(width: int, height: int, camera: str | None) -> str:
    if camera is not None:
        camera = camera.lower()
        if camera not in CAMERAS:
            raise ValueError(f"AEDAT2 writer: unknown camera {camera!r}; known: {sorted(CAMERAS)}")
        if CAMERAS[camera][1:3] != (width, height):
            raise ValueError(f"AEDAT2 writer: camera {camera} is {CAMERAS[camera][1]}x{CAMERAS[camera][2]}, "
                             f"not {width}x{height} (the address layout mirrors by the camera's geometry)")
        return camera
    matches = [name for name, spec in CAMERAS.items() if spec[1:3] == (width, height)]
    if not matches:
        raise ValueError(f"AEDAT2 writer: no jAER camera is {width}x{height}; known: "
                         + ", ".join(f"{n} {s[1]}x{s[2]}" for n, s in CAMERAS.items()))
    return matches[0]  # 128x128: DVS128 before DAVIS128


def write_aedat2(path, events: np.ndarray, width: int, height: int, camera: str | None = None,
                 chunk_events: int = 1 << 20) -> None:
    """Write DVS events as an AEDAT 2.0 file in `camera`'s address layout (default: the
    camera with this geometry; 128x128 means DVS128). Times are µs, t >= 0, the first
    below 2**32 and consecutive gaps below 2**31 (so the 32-bit timestamps unwrap)."""
    camera = _camera_for(int(width), int(height), camera)
    davis, _, _, chip = CAMERAS[camera]
    events = as_events(np.asarray(events), where=f"AEDAT2 writer {path}")
    t = events["t"]
    if t.shape[0]:
        if np.any(t[1:] < t[:-1]):
            raise ValueError(f"AEDAT2 writer {path}: events must be time-sorted")
        if t[0] < 0 or t[0] >= 1 << 32 or (t.shape[0] > 1 and int(np.max(np.diff(t))) >= 1 << 31):
            raise ValueError(f"AEDAT2 writer {path}: first time must lie in 0..2**32 µs and gaps below 2**31 µs")
        if events["x"].max() >= width or events["y"].max() >= height:
            raise ValueError(f"AEDAT2 writer {path}: event outside the {width}x{height} sensor")
    header = ("#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n"
              "# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n"
              "# Timestamps tick is 1 us\r\n"
              f"# AEChip: {chip}\r\n# Written by spikestream\r\n")
    with open(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        for a in range(0, t.shape[0], chunk_events):
            chunk = events[a : a + chunk_events]
            xr = (width - 1 - chunk["x"].astype(np.uint32))
            yr = (height - 1 - chunk["y"].astype(np.uint32))
            on = (chunk["p"] != 0).astype(np.uint32)
            words = np.empty((chunk.shape[0], 2), dtype=">u4")
            words[:, 0] = (yr << 22) | (xr << 12) | (on << 11) if davis else (yr << 8) | (xr << 1) | (1 - on)
            words[:, 1] = (chunk["t"] & 0xFFFFFFFF).astype(np.uint32)
            fh.write(words.tobytes())


def read_aedat2(path, **options) -> np.ndarray:
    """Every DVS event of an AEDAT 2.0 file (options: see Aedat2Reader)."""
    with Aedat2Reader(path, **options) as reader:
        return reader.read_all()


__all__ = ["CAMERAS", "Aedat2Reader", "read_aedat2", "write_aedat2"]
