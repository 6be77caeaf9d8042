"""AEDAT 4 (iniVation DV): streaming reader and writer of the polarity-event stream.

File layout: `#!AER-DAT4.0\\r\\n`, a size-prefixed IOHeader FlatBuffer (compression, the
position of the file data table, the info node XML naming the streams), then packets:
int32 stream id, int32 size, `size` bytes of one (LZ4 frame / Zstd frame / raw)
size-prefixed FlatBuffer. dv-runtime ends the file with a compressed FileDataTable (one
row per packet: offset, element count, first/last timestamp), which gives the event count
and duration without decoding, and lets `seek` jump straight to a packet.
"""

from __future__ import annotations

import os
import struct
import warnings
from typing import ClassVar

import numpy as np

from pipeline.errors import FormatError
from pipeline.events import EVENT_DTYPE, as_events, empty_events
from sources.formats._aedat4_info import InfoError, info_xml, parse_streams
from sources.formats._aedat4_packets import PacketWalker, compressor, decompressor
from sources.formats._aedat_kernels import decode_aedat4, decode_aedat4_packet, decode_lz4_packets
from sources.formats._aedat_stream import BlockStreamReader, format_error
from sources.formats.base import FileInfo

MAGIC = b"#!AER-DAT4.0\r\n"
_KIND = "AEDAT4"
_MAX_BLOCK_EVENTS = 1 << 20  # a block's size cap (13 MiB): read(huge) must not allocate huge
_BAD = {1: "event coordinate outside the {w}x{h} sensor", 2: "time goes backwards", 3: "polarity byte not 0/1"}


class Aedat4Reader(BlockStreamReader):
    """Streaming reader of one event stream of an AEDAT 4 file.

    Parameters: path; stream: the stream's name (`originalOutputName`, e.g. "events") or
    id; default: the first stream of type EVTS. width/height override the info node.
    """

    format: ClassVar[str] = "aedat4"
    suffixes: ClassVar[tuple[str, ...]] = (".aedat4",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def __init__(self, path, stream: str | int | None = None, width: int | None = None,
                 height: int | None = None) -> None:
        self.path = os.fspath(path)
        self.counters = {"packets": 0, "other_stream_packets": 0}
        self._file = open(self.path, "rb")
        try:
            self._parse_header(stream, width, height)
        except BaseException:
            self._file.close()
            raise
        self._init_stream()

    def _error(self, offset: int, what: str) -> FormatError:
        return format_error(self.path, offset, what, _KIND)

    def _parse_header(self, stream, width, height) -> None:
        from sources.formats._aedat4_flatbuffer import FlatbufferError, parse_data_table, parse_io_header

        f = self._file
        self._size = os.fstat(f.fileno()).st_size
        magic = f.read(len(MAGIC))
        if magic != MAGIC:
            raise self._error(0, f"wrong magic {magic!r}, expected {MAGIC!r}")
        raw = f.read(4)
        if len(raw) < 4:
            raise self._error(len(MAGIC), "file ends inside the header size")
        (n,) = struct.unpack("<I", raw)
        start = len(MAGIC)
        if n < 12 or start + 4 + n > self._size:
            raise self._error(start, f"header size {n} does not fit the {self._size}-byte file")
        buf = raw + f.read(n)
        try:
            code, table_pos, info = parse_io_header(buf)
        except FlatbufferError as exc:
            raise self._error(start + exc.offset, f"IOHeader: {exc.what}") from None
        if code not in (0, 1, 2, 3, 4):
            raise self._error(start, f"IOHeader: unknown compression code {code}")
        self._compression = code
        decompress = decompressor(code) if code else None
        try:
            streams = parse_streams(info)
        except InfoError as exc:
            raise self._error(start, f"IOHeader info node is not XML ({exc})") from None
        self._all_streams = streams
        chosen = self._choose(streams, stream)
        self._stream_id = chosen["id"]
        self._declared = {s["id"] for s in streams}
        self._stream_name = chosen["name"]
        try:
            self.width = int(width if width is not None else chosen.get("sizeX"))
            self.height = int(height if height is not None else chosen.get("sizeY"))
        except (TypeError, ValueError):
            raise self._error(start, f"stream {chosen['name']!r} has no sizeX/sizeY in its info node") from None
        self._data_start = start + 4 + n
        self._data_end = self._size
        self._table = None
        if 0 <= table_pos:
            if not self._data_start <= table_pos <= self._size:
                raise self._error(start, f"data table position {table_pos} outside the {self._size}-byte file")
            self._data_end = table_pos
            f.seek(table_pos)
            try:
                self._table = parse_data_table(decompress(f.read()) if decompress else f.read())
            except FlatbufferError as exc:
                warnings.warn(f"{self.path}: ignoring a damaged file data table ({exc.what})", stacklevel=3)
                self.counters["bad_data_table"] = 1
            except Exception as exc:  # a codec error: the table is an index only
                warnings.warn(f"{self.path}: ignoring an undecodable file data table ({exc})", stacklevel=3)
                self.counters["bad_data_table"] = 1
        self._walker = PacketWalker(f, self._error, self._data_end, self._stream_id, self._declared,
                                    decompress, self.counters)
        self._walker.restart(self._data_start)
        self._declared_ids = np.array(sorted(self._declared), dtype=np.int64)  # for decode_lz4_packets
        self._run_counts = np.zeros(2, dtype=np.int64)  # its packets decoded and skipped
        self._carry: np.ndarray | None = None  # the rest of a packet that overflowed a block
        self._last_t = np.iinfo(np.int64).min

    def _choose(self, streams: list[dict], wanted) -> dict:
        names = [f"{s['name']} (id {s['id']}, {s['type']})" for s in streams]
        if wanted is None:
            for s in streams:
                if s["type"] == "EVTS":
                    return s
            raise self._error(len(MAGIC), f"no event stream (type EVTS); streams: {names}")
        for s in streams:
            if s["name"] == str(wanted) or str(s["id"]) == str(wanted):
                if s["type"] != "EVTS":
                    raise FormatError(f"{self.path}: stream {wanted!r} holds {s['type']}, not events")
                return s
        raise FormatError(f"{self.path}: no stream named {wanted!r}; streams: {names}")

    # decoding ---------------------------------------------------------------------
    def read_all(self) -> np.ndarray:
        """Every remaining event. With a data table the packets decode into one array of
        the size it gives (joining 1 M-event blocks would copy the whole file once more)."""
        ahead = self._events_ahead()
        if not ahead:
            return super().read_all()
        parts = [self._pending.take(self._pending.count), self._next_block(ahead, cap=ahead), super().read_all()]
        parts = [part for part in parts if part is not None and part.shape[0]]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([part.view(np.uint8) for part in parts]).view(EVENT_DTYPE) if parts else empty_events()

    def _events_ahead(self) -> int:
        """Events of the stream the data table lists from the walker's position on (plus a
        carried packet rest); 0 where there is no table or it is implausible."""
        if self._table is None or self._done:
            return 0
        pos = self._walker.position
        rows = self._table[(self._table["stream_id"] == self._stream_id) & (self._table["byte_offset"] - 8 >= pos)]
        ahead = int(rows["num_elements"].sum()) + (self._carry.shape[0] if self._carry is not None else 0)
        # a damaged table must not make us allocate: events take >= 1 file byte each (LZ4
        # and Zstd shrink dv's 16-byte events 2-5 times)
        return ahead if 0 < ahead <= self._data_end - pos + 1 else 0

    def _next_block(self, want: int, cap: int = _MAX_BLOCK_EVENTS) -> np.ndarray | None:
        # Packets decode straight into one block of `want` events (dv writes ~10,000 per
        # packet), so read(n) hands the block out without the copy that joining packets costs.
        want = min(want, cap)
        carry, self._carry = self._carry, None
        if want <= 0:
            return carry if carry is not None else self._packet(None, 0)[0]
        block = np.empty(want, dtype=EVENT_DTYPE)
        filled = 0
        fast = self._walker.frames is not None
        while filled < want:
            if carry is not None:
                events, carry = carry, None
            else:
                if fast:
                    filled = self._packet_run(block, filled)
                    if filled >= want:
                        break
                events, n = self._packet(block, filled)  # the packet the run stopped at
                if events is None:
                    if not n:
                        break
                    filled += n  # decoded straight into the block
                    continue
            k = min(events.shape[0], want - filled)
            block[filled : filled + k].view(np.uint8)[:] = events[:k].view(np.uint8)
            filled += k
            if k < events.shape[0]:
                self._carry = events[k:]
        return block[:filled] if filled else None

    def _packet_run(self, block: np.ndarray, start: int) -> int:
        """LZ4 packets decoded into block[start:] by one kernel call, for as long as they lie
        whole in the walker's chunk (packet by packet, the Python path cost ~5% of the decode);
        returns the new fill. The packet it stops at is left to `_packet`."""
        walker, counts = self._walker, self._run_counts
        chunk, k, valid = walker.window()
        if k >= valid:
            return start
        frames = walker.frames
        k, start, self._last_t, interrupted = decode_lz4_packets(
            chunk, k, valid, self._stream_id, self._declared_ids, frames.native, frames.context_address,
            frames.options_address, frames.sizes, frames.out, frames.words, self.width, self.height, self._last_t,
            block, start, counts)
        walker.skip_to(k)
        if interrupted:
            frames.interrupted()
        self.counters["packets"] += int(counts[0])
        self.counters["other_stream_packets"] += int(counts[1])
        counts[:] = 0
        return start

    def _packet(self, block: np.ndarray | None, start: int) -> tuple[np.ndarray | None, int]:
        """The next non-empty packet: (None, n) where its n events were decoded straight
        into block[start:], else (its events, n); (None, 0) at the end."""
        walker, counters = self._walker, self.counters
        frames = walker.frames
        while True:
            if frames is not None:
                # LZ4: decompressed into the codec's reused buffer, which the kernel reads
                # whole (with the packet's length): no per-packet views or copies
                packet = walker.next_into()
                if packet is None:
                    return None, 0
                at, size = packet
                buf, words = frames.out, frames.words
            else:
                packet = walker.next()
                if packet is None:
                    return None, 0
                at, data = packet
                buf = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
                size = buf.shape[0]
                words = buf[: size & ~7].view(np.int64)
            counters["packets"] += 1
            capacity = size // 16  # an upper bound of the packet's events
            direct = block is not None and block.shape[0] - start >= capacity
            out, at_event = (block, start) if direct else (np.empty(capacity, dtype=EVENT_DTYPE), 0)
            status, n, last_t = decode_aedat4_packet(buf, words, size, self.width, self.height, self._last_t,
                                                     out, at_event)
            if status:
                out, direct = self._decode_slow(buf[:size], at), False
                n = out.shape[0]
                last_t = int(out["t"][n - 1]) if n else self._last_t
            if n:
                self._last_t = last_t
                return (None, n) if direct else (out[:n], n)

    def _decode_slow(self, data, offset: int) -> np.ndarray:
        """One EventPacket walked in Python: the fault's precise message, or the events
        of a packet laid out unlike dv's writers (e.g. events not 8-aligned)."""
        from sources.formats._aedat4_flatbuffer import EVENT_RECORD, FlatbufferError, event_elements

        try:
            first, n = event_elements(data)
        except FlatbufferError as exc:
            raise self._error(offset, f"EventPacket (decompressed byte {exc.offset}): {exc.what}") from None
        records = np.frombuffer(data, dtype=EVENT_RECORD, count=n, offset=first)
        words = np.frombuffer(records.tobytes(), dtype="<i8").reshape(n, 2)  # aligned copy
        out = np.empty(n, dtype=EVENT_DTYPE)
        status, index = decode_aedat4(words, self.width, self.height, self._last_t, out)
        if status:
            what = _BAD[status].format(w=self.width, h=self.height)
            e = records[index]
            raise self._error(offset, f"{what}: event {index} of the packet "
                                      f"(t={int(e['t'])}, x={int(e['x'])}, y={int(e['y'])}, p={int(e['p'])}; "
                                      f"previous t={int(self._last_t)})")
        return out

    def _rewind(self, t: int) -> None:
        self._carry = None
        self._walker.restart(self._data_start)
        self._last_t = np.iinfo(np.int64).min
        if self._table is None:
            return
        rows = self._table[self._table["stream_id"] == self._stream_id]
        before = rows[rows["t_end"] < t]
        if before.shape[0]:
            # packets of one stream are stored in time order: skip every one ending before t
            later = rows[rows["byte_offset"] > before["byte_offset"].max()]
            if not later.shape[0]:
                self._walker.restart(self._data_end)
                return
            row = later[np.argmin(later["byte_offset"])]
            # a row's byte_offset points at the packet's payload, past its 8-byte header
            at = int(row["byte_offset"]) - 8
            if not self._walker.header_is(at, int(row["stream_id"]), int(row["size"])):
                warnings.warn(f"{self.path}: the file data table points at byte {at}, where no such packet "
                              "starts; seeking by reading from the start", stacklevel=4)
                self.counters["bad_data_table"] = 1
                self._table = None
                return
            self._walker.restart(at)
            self._last_t = int(before["t_end"].max())

    def info(self) -> FileInfo:
        count = t_first = t_last = None
        if self._table is not None:
            rows = self._table[(self._table["stream_id"] == self._stream_id) & (self._table["num_elements"] > 0)]
            count = int(rows["num_elements"].sum())
            if rows.shape[0]:
                t_first, t_last = int(rows["t_start"].min()), int(rows["t_end"].max())
        extra = {
            "stream": self._stream_name,
            "stream_id": self._stream_id,
            "streams": [{k: v for k, v in s.items()} for s in self._all_streams],
            "compression": ["none", "lz4", "lz4_high", "zstd", "zstd_high"][self._compression],
            "data_table": self._table is not None,
        }
        return FileInfo(path=self.path, format=self.format, width=self.width, height=self.height,
                        event_count=count, t_first=t_first, t_last=t_last, extra=extra)

    def close(self) -> None:
        walker = getattr(self, "_walker", None)
        if walker is not None:
            walker.close()
        self._file.close()


class Aedat4Writer:
    """Streaming AEDAT 4 writer of one polarity-event stream (dv-runtime's layout).

    Parameters: path; width, height: sensor size; compression: "lz4" (dv's default),
    "lz4_high", "zstd", "zstd_high" or "none"; packet_events: events per packet;
    stream_name: the stream's `originalOutputName`; source: the camera name recorded.
    """

    def __init__(self, path, width: int, height: int, compression: str = "lz4",
                 packet_events: int = 8192, stream_name: str = "events",
                 source: str = "spikestream") -> None:
        from sources.formats._aedat4_flatbuffer import (
            COMPRESSION_CODES,
            IO_HEADER_TABLE_POSITION_OFFSET,
            build_io_header,
        )

        if compression not in COMPRESSION_CODES:
            raise ValueError(f"AEDAT4 writer: compression must be one of {sorted(COMPRESSION_CODES)}, got {compression!r}")
        if not (0 < width <= 32767 and 0 < height <= 32767):
            raise ValueError(f"AEDAT4 writer: geometry {width}x{height} outside 1..32767")
        if packet_events <= 0:
            raise ValueError(f"AEDAT4 writer: packet_events must be > 0, got {packet_events}")
        self.path, self.width, self.height = os.fspath(path), int(width), int(height)
        self.packet_events = int(packet_events)
        self._code = COMPRESSION_CODES[compression]
        self._compress = compressor(self._code)
        tag = {"none": "NONE", "lz4": "LZ4", "lz4_high": "LZ4_HIGH", "zstd": "ZSTD", "zstd_high": "ZSTD_HIGH"}
        header = build_io_header(self._code, -1, info_xml([(0, stream_name, width, height, source)],
                                                              tag[compression]))
        self._file = open(self.path, "wb")
        self._file.write(MAGIC + header)
        self._table_field = len(MAGIC) + IO_HEADER_TABLE_POSITION_OFFSET
        self._rows: list[tuple[int, int, int, int, int, int]] = []
        self._pending = empty_events()
        self._last_t = None

    def write(self, events: np.ndarray) -> None:
        """Append time-sorted events (EVENT_DTYPE or any t/x/y/p structured array)."""
        events = as_events(np.asarray(events), where=f"AEDAT4 writer {self.path}")
        if events.shape[0] == 0:
            return
        t = events["t"]
        if (self._last_t is not None and t[0] < self._last_t) or np.any(t[1:] < t[:-1]):
            raise ValueError(f"AEDAT4 writer {self.path}: events must be time-sorted")
        if events["x"].max() >= self.width or events["y"].max() >= self.height:
            raise ValueError(f"AEDAT4 writer {self.path}: event outside the {self.width}x{self.height} sensor")
        self._last_t = int(t[-1])
        pending = np.concatenate([self._pending, events]) if self._pending.shape[0] else events
        k = 0
        while pending.shape[0] - k >= self.packet_events:
            self._packet(pending[k : k + self.packet_events])
            k += self.packet_events
        self._pending = pending[k:].copy()

    def _packet(self, events: np.ndarray) -> None:
        from sources.formats._aedat4_flatbuffer import EVENT_RECORD, build_event_packet

        records = np.zeros(events.shape[0], dtype=EVENT_RECORD)
        records["t"], records["x"], records["y"] = events["t"], events["x"], events["y"]
        records["p"] = events["p"] != 0
        payload = self._compress(build_event_packet(records))
        offset = self._file.tell()
        self._file.write(struct.pack("<ii", 0, len(payload)) + payload)
        self._rows.append((offset + 8, 0, len(payload), events.shape[0], int(events["t"][0]), int(events["t"][-1])))

    def close(self) -> None:
        from sources.formats._aedat4_flatbuffer import DATA_TABLE_ROW, build_data_table

        if self._file.closed:
            return
        if self._pending.shape[0]:
            self._packet(self._pending)
            self._pending = empty_events()
        table_pos = self._file.tell()
        rows = np.array(self._rows, dtype=DATA_TABLE_ROW)
        self._file.write(self._compress(build_data_table(rows)))
        self._file.seek(self._table_field)
        self._file.write(struct.pack("<q", table_pos))
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_aedat4(path, events: np.ndarray, width: int, height: int, **options) -> None:
    """Write events as an AEDAT 4 file (options: see Aedat4Writer)."""
    with Aedat4Writer(path, width, height, **options) as writer:
        writer.write(events)
