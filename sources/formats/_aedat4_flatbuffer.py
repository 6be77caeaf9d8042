"""The few FlatBuffers tables of AEDAT 4 (IOHeader, EventPacket, FileDataTable), by hand.

The schemas are dv-runtime's (`IOHeader.fbs`, `EventPacket.fbs`, `FileDataTable.fbs`):

    table IOHeader { compression: CompressionType; dataTablePosition: int64 = -1; infoNode: string; }
    struct Event { timestamp: int64; x: int16; y: int16; polarity: bool; }   // 16 bytes
    table EventPacket { elements: [Event]; }                                // id "EVTS"
    struct PacketHeader { StreamID: int32; Size: int32; }
    table FileDataDefinition { ByteOffset: int64; PacketInfo: PacketHeader; NumElements: int64;
                               TimestampStart: int64; TimestampEnd: int64; }
    table FileDataTable { Table: [FileDataDefinition]; }                    // id "FTAB"

Every buffer here is size-prefixed (4-byte length, then the root offset and the file
identifier). Readers check every offset against the buffer before following it and raise
`FlatbufferError(offset, what)`; writers lay the tables out at fixed, aligned places so
that the FlatBuffers verifier of dv-processing accepts them.
"""

from __future__ import annotations

import struct

import numpy as np

COMPRESSION_NAMES = {0: "none", 1: "lz4", 2: "lz4_high", 3: "zstd", 4: "zstd_high"}
COMPRESSION_CODES = {name: code for code, name in COMPRESSION_NAMES.items()}

EVENT_RECORD = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1"), ("pad0", "u1"), ("pad1", "<u2")])
DATA_TABLE_ROW = np.dtype(
    [
        ("byte_offset", "<i8"),
        ("stream_id", "<i4"),
        ("size", "<i4"),
        ("num_elements", "<i8"),
        ("t_start", "<i8"),
        ("t_end", "<i8"),
    ]
)


class FlatbufferError(Exception):
    """A FlatBuffers structure is out of bounds or malformed (offset is within the buffer)."""

    def __init__(self, offset: int, what: str) -> None:
        super().__init__(what)
        self.offset = offset
        self.what = what


def _u32(buf, pos: int) -> int:
    if pos < 0 or pos + 4 > len(buf):
        raise FlatbufferError(pos, "offset points outside the buffer")
    return struct.unpack_from("<I", buf, pos)[0]


def _field(buf, table: int, index: int) -> int:
    """Absolute position of field `index` of the table at `table`, or 0 if absent."""
    if table < 0 or table + 4 > len(buf):
        raise FlatbufferError(table, "table outside the buffer")
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    if vtable < 0 or vtable + 4 > len(buf):
        raise FlatbufferError(table, "vtable outside the buffer")
    vt_size, tbl_size = struct.unpack_from("<HH", buf, vtable)
    if vt_size < 4 or vt_size % 2 or vtable + vt_size > len(buf) or table + tbl_size > len(buf):
        raise FlatbufferError(vtable, f"bad vtable (size {vt_size}, table size {tbl_size})")
    slot = 4 + 2 * index
    if slot + 2 > vt_size:
        return 0
    off = struct.unpack_from("<H", buf, vtable + slot)[0]
    if off and off >= tbl_size:
        raise FlatbufferError(vtable + slot, f"field {index} offset {off} beyond table size {tbl_size}")
    return table + off if off else 0


def _vector(buf, pos: int, elem_size: int) -> tuple[int, int]:
    """(first element position, length) of the vector referenced at `pos`."""
    vec = pos + _u32(buf, pos)
    n = _u32(buf, vec)
    start = vec + 4
    if start + n * elem_size > len(buf):
        raise FlatbufferError(vec, f"vector of {n} x {elem_size} bytes runs past the buffer end ({len(buf)} bytes)")
    return start, n


def _root(buf, identifier: bytes) -> int:
    """Root table position of a size-prefixed buffer, checking its length and identifier."""
    size = _u32(buf, 0)
    if size + 4 != len(buf):
        raise FlatbufferError(0, f"size prefix says {size} bytes, the packet holds {len(buf) - 4}")
    if len(buf) < 12 or bytes(buf[8:12]) != identifier:
        raise FlatbufferError(8, f"identifier {bytes(buf[8:12])!r}, expected {identifier!r}")
    return 4 + _u32(buf, 4)


def parse_io_header(buf) -> tuple[int, int, str]:
    """(compression code, data table position, info node XML) of a size-prefixed IOHeader."""
    root = _root(buf, b"IOHE")
    pos = _field(buf, root, 0)
    compression = struct.unpack_from("<i", buf, pos)[0] if pos else 0
    pos = _field(buf, root, 1)
    if pos and pos + 8 > len(buf):
        raise FlatbufferError(pos, "dataTablePosition outside the header")
    table_pos = struct.unpack_from("<q", buf, pos)[0] if pos else -1
    pos = _field(buf, root, 2)
    if not pos:
        raise FlatbufferError(root, "IOHeader has no infoNode")
    start, n = _vector(buf, pos, 1)
    try:
        info = bytes(buf[start : start + n]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FlatbufferError(start + exc.start, "infoNode is not UTF-8") from None
    return compression, table_pos, info


def event_elements(buf) -> tuple[int, int]:
    """(first event position, count) of a size-prefixed EventPacket."""
    root = _root(buf, b"EVTS")
    pos = _field(buf, root, 0)
    if not pos:
        return 0, 0
    return _vector(buf, pos, EVENT_RECORD.itemsize)


def _gather(b: np.ndarray, at: np.ndarray, dtype: str, what: str) -> np.ndarray:
    """Little-endian values of `dtype` at byte positions `at` of the uint8 buffer `b`."""
    width = np.dtype(dtype).itemsize
    bad = (at < 0) | (at + width > b.shape[0])
    if bad.any():
        raise FlatbufferError(int(at[bad][0]), f"{what} outside the buffer")
    return b[at[:, None] + np.arange(width)].copy().view(dtype)[:, 0].astype(np.int64)


def parse_data_table(buf) -> np.ndarray:
    """The rows of a size-prefixed FileDataTable as a DATA_TABLE_ROW array.

    Vectorised over rows (a long recording has tens of thousands of packets, and a
    per-row walk in Python would dominate opening the file); checks as `_field` does."""
    root = _root(buf, b"FTAB")
    pos = _field(buf, root, 0)
    if not pos:
        return np.empty(0, dtype=DATA_TABLE_ROW)
    start, n = _vector(buf, pos, 4)
    b = np.frombuffer(buf, dtype=np.uint8)
    slots = start + 4 * np.arange(n, dtype=np.int64)
    tables = slots + _gather(b, slots, "<u4", "row offset")
    vtables = tables - _gather(b, tables, "<i4", "row table")
    vt_size = _gather(b, vtables, "<u2", "row vtable")
    tbl_size = _gather(b, vtables + 2, "<u2", "row vtable")
    bad = (vt_size < 4) | (vt_size % 2 == 1) | (vtables + vt_size > b.shape[0]) | (tables + tbl_size > b.shape[0])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FlatbufferError(int(vtables[i]), f"bad vtable (size {vt_size[i]}, table size {tbl_size[i]})")
    rows = np.zeros(n, dtype=DATA_TABLE_ROW)
    for name, index, dtype in (("byte_offset", 0, "<i8"), ("packet_info", 1, "<i8"), ("num_elements", 2, "<i8"),
                               ("t_start", 3, "<i8"), ("t_end", 4, "<i8")):
        slot = 4 + 2 * index
        has_slot = slot + 2 <= vt_size
        off = np.zeros(n, dtype=np.int64)
        off[has_slot] = _gather(b, vtables[has_slot] + slot, "<u2", "row vtable")
        beyond = (off != 0) & (off >= tbl_size)
        if beyond.any():
            i = int(np.flatnonzero(beyond)[0])
            raise FlatbufferError(int(vtables[i]) + slot, f"field {index} offset {off[i]} beyond table size {tbl_size[i]}")
        present = off != 0
        values = _gather(b, tables[present] + off[present], dtype, f"data table field {name}")
        if name == "packet_info":  # struct PacketHeader { int32 StreamID; int32 Size; }
            rows["stream_id"][present] = (values & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
            rows["size"][present] = ((values >> 32) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
        else:
            rows[name][present] = values
    return rows


# writers ----------------------------------------------------------------------------

IO_HEADER_TABLE_POSITION_OFFSET = 32  # where dataTablePosition sits inside build_io_header()


def build_io_header(compression: int, table_pos: int, info: str) -> bytes:
    """Size-prefixed IOHeader; dataTablePosition at byte IO_HEADER_TABLE_POSITION_OFFSET."""
    text = info.encode("utf-8")
    # 0 size | 4 root | 8 "IOHE" | 12 vtable (10 bytes) | 22 pad | 24 table (20 bytes) | 44 string
    vtable = struct.pack("<HHHHH", 10, 20, 4, 8, 16)
    table = struct.pack("<iiqI", 24 - 12, compression, table_pos, 44 - 40)
    body = struct.pack("<I", 20) + b"IOHE" + vtable + b"\0\0" + table
    body += struct.pack("<I", len(text)) + text + b"\0"
    body += b"\0" * (-(len(body) + 4) % 8)
    return struct.pack("<I", len(body)) + body


def build_event_packet(records: np.ndarray) -> bytes:
    """Size-prefixed EventPacket holding `records` (EVENT_RECORD array)."""
    # 0 size | 4 root | 8 "EVTS" | 12 vtable (6) | 18 pad | 20 table (8) | 28 length | 32 events
    n = records.shape[0]
    head = struct.pack("<II4sHHHHiII", 28 + 16 * n, 16, b"EVTS", 6, 8, 4, 0, 20 - 12, 28 - 24, n)
    return head + records.tobytes()


def build_data_table(rows: np.ndarray) -> bytes:
    """Size-prefixed FileDataTable of DATA_TABLE_ROW rows."""
    n = rows.shape[0]
    # 0 size | 4 root | 8 "FTAB" | 12 root vtable (6) | 18 row vtable (14) | 32 root table (8)
    # | 40 vector length | 44 offsets (4n) | pad to 8 | rows (48 bytes each)
    first = 44 + 4 * n
    first += -first % 8
    head = struct.pack("<I4sHHH", 32 - 4, b"FTAB", 6, 8, 4)
    head += struct.pack("<HHHHHHH", 14, 48, 8, 16, 24, 32, 40)
    head += struct.pack("<iII", 32 - 12, 40 - 36, n)
    slots = 44 + 4 * np.arange(n, dtype=np.int64)
    head += (first + 48 * np.arange(n, dtype=np.int64) - slots).astype("<u4").tobytes()
    head += b"\0" * (first - len(head) - 4)
    table = np.zeros(n, dtype=[("soffset", "<i4"), ("pad", "<i4")] + DATA_TABLE_ROW.descr)
    table["soffset"] = first + 48 * np.arange(n, dtype=np.int64) - 18
    for name in DATA_TABLE_ROW.names:
        table[name] = rows[name]
    body = head + table.tobytes()
    return struct.pack("<I", len(body)) + body
