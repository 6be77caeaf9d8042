"""Numba decoders of the iniVation formats: raw words in, EVENT_DTYPE records out.

Each kernel validates as it decodes and stops at the first bad event, returning
(status, index) so the reader can name the byte offset: status 0 = fine,
1 = coordinate outside the geometry, 2 = time goes backwards, 3 = bad polarity byte.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sources.formats._unaligned import EVENT_BYTES, store_le64

OK, BAD_COORDINATE, TIME_BACKWARDS, BAD_POLARITY = 0, 1, 2, 3


@njit(cache=True, nogil=True, inline="always")
def _le16(buf, i):
    return np.int64(buf[i]) | (np.int64(buf[i + 1]) << 8)


@njit(cache=True, nogil=True, inline="always")
def _le32(buf, i):
    """Little-endian uint32 at buf[i:i+4] as int64 (byte access: packets need not be aligned)."""
    return (np.int64(buf[i]) | (np.int64(buf[i + 1]) << 8) | (np.int64(buf[i + 2]) << 16)
            | (np.int64(buf[i + 3]) << 24))


@njit(cache=True, nogil=True, inline="always")
def _le32s(buf, i):
    v = _le32(buf, i)
    return v - (np.int64(1) << 32) if v >= (np.int64(1) << 31) else v


@njit(cache=True, nogil=True)
def decode_aedat4(words, width, height, last_t, out):
    """AEDAT 4 Event structs viewed as int64 pairs (timestamp, x | y << 16 | polarity << 32)."""
    for i in range(words.shape[0]):
        t = words[i, 0]
        w = words[i, 1]
        x = w & 0xFFFF
        y = (w >> 16) & 0xFFFF
        p = (w >> 32) & 0xFF
        # int16 coordinates: a negative one reads as >= 0x8000 here, so one test covers both
        if x >= width or y >= height:
            return BAD_COORDINATE, i
        if t < last_t:
            return TIME_BACKWARDS, i
        if p > 1:
            return BAD_POLARITY, i
        last_t = t
        out[i].t = t
        out[i].x = x
        out[i].y = y
        out[i].p = p
    return OK, words.shape[0]


# status of decode_aedat4_packet when the FlatBuffer is not the plain EventPacket layout
# (the reader then walks it in Python, which names the fault) or its events are not 8-aligned
AEDAT4_SLOW_PATH = 9


@njit(cache=True, nogil=True)
def decode_aedat4_packet(buf, words, size, width, height, last_t, out, start):
    """A whole size-prefixed AEDAT 4 EventPacket FlatBuffer in one call.

    buf: uint8 whose first `size` bytes are the decompressed packet (a reused buffer may
    be longer: passing it whole spares a slice per packet); words: the same memory as
    int64 (buf[:8k]); out: EVENT_DTYPE, the events go to out[start:], which must have
    room for size // 16 of them (passing the reader's whole block with an index spares
    a slice per packet too). Checks every offset as `_aedat4_flatbuffer.event_elements`
    does and decodes as `decode_aedat4`; on anything unusual returns AEDAT4_SLOW_PATH so
    the Python walker can report it precisely. Returns (status, events decoded or
    bad-event index, time of the last event decoded or last_t where none).
    """
    if size > buf.shape[0] or size > 8 * words.shape[0] + 7 or not 0 <= start <= out.shape[0] \
            or out.strides[0] != EVENT_BYTES:
        return AEDAT4_SLOW_PATH, 0, last_t
    if size < 12 or _le32(buf, 0) + 4 != size:
        return AEDAT4_SLOW_PATH, 0, last_t
    if buf[8] != 69 or buf[9] != 86 or buf[10] != 84 or buf[11] != 83:  # "EVTS"
        return AEDAT4_SLOW_PATH, 0, last_t
    root = 4 + _le32(buf, 4)
    if root + 4 > size:
        return AEDAT4_SLOW_PATH, 0, last_t
    vtable = root - _le32s(buf, root)
    if vtable < 0 or vtable + 4 > size:
        return AEDAT4_SLOW_PATH, 0, last_t
    vt_size = _le16(buf, vtable)
    tbl_size = _le16(buf, vtable + 2)
    if vt_size < 4 or vt_size % 2 or vtable + vt_size > size or root + tbl_size > size:
        return AEDAT4_SLOW_PATH, 0, last_t
    if vt_size < 6:
        return OK, 0, last_t
    off = _le16(buf, vtable + 4)
    if off == 0:
        return OK, 0, last_t
    if off >= tbl_size or root + off + 4 > size:
        return AEDAT4_SLOW_PATH, 0, last_t
    vec = root + off + _le32(buf, root + off)
    if vec + 4 > size:
        return AEDAT4_SLOW_PATH, 0, last_t
    n = _le32(buf, vec)
    first = vec + 4
    if first + 16 * n > size or first % 8 or n > out.shape[0] - start:
        return AEDAT4_SLOW_PATH, 0, last_t
    k = first // 8
    # First a pass that only ORs the checks together (a negative difference sets the sign
    # bit; times are kept >= 0 so that no difference overflows): it vectorises, and the
    # copy after it is two stores per event; checking while copying took twice as long.
    # A packet that fails goes through decode_aedat4, which finds the first bad event.
    sign = 0
    x_max, y_max = width - 1, height - 1
    prev = max(last_t, 0)
    for i in range(np.uint64(n)):
        j = np.uint64(k) + np.uint64(2) * i
        t = words[j]
        w = words[j + np.uint64(1)]
        x = w & 0xFFFF
        y = (w >> 16) & 0xFFFF
        p = (w >> 32) & 0xFF
        sign |= t | (t - prev) | (x_max - x) | (y_max - y) | (1 - p)
        prev = t
    if sign < 0:
        status, index = decode_aedat4(words[k: k + 2 * n].reshape((n, 2)), width, height, last_t, out[start:])
        if status == OK and index:  # e.g. negative times where no time came before: valid
            return status, index, words[k + 2 * index - 2]
        return status, index, last_t
    if n == 0:
        return OK, 0, last_t
    # w's low 5 bytes are x, y, p as EVENT_DTYPE lays them out; its upper 3 (the Event's
    # padding) land on the next record's t, which the next store overwrites. The last event
    # is stored field by field so that nothing is written past it.
    for i in range(np.uint64(n - 1)):
        j = np.uint64(k) + np.uint64(2) * i
        at = (np.uint64(start) + i) * np.uint64(EVENT_BYTES)
        store_le64(out, at, words[j])
        store_le64(out, at + np.uint64(8), words[j + np.uint64(1)])
    t = words[k + 2 * n - 2]
    w = words[k + 2 * n - 1]
    o = start + n - 1
    out[o].t = t
    out[o].x = w & 0xFFFF
    out[o].y = (w >> 16) & 0xFFFF
    out[o].p = (w >> 32) & 0xFF
    return OK, n, t


@njit(cache=True, nogil=True)
def decode_aedat31_polarity(words, ts_overflow, width, height, last_t, out, counts):
    """AEDAT 3.1 polarity events (uint32 data, int32 timestamp) as uint32 pairs.

    data: bit 0 valid, bit 1 polarity, bits 2-16 y, bits 17-31 x; time = overflow << 31 | ts.
    Invalid (bit 0 clear) events are dropped and counted in counts[0]. Returns
    (status, index of the bad word, events written).
    """
    n = 0
    for i in range(words.shape[0]):
        data = words[i, 0]
        if (data & 1) == 0:
            counts[0] += 1
            continue
        t = (np.int64(ts_overflow) << 31) | np.int64(words[i, 1] & 0x7FFFFFFF)
        x = (data >> 17) & 0x7FFF
        y = (data >> 2) & 0x7FFF
        if x >= width or y >= height:
            return BAD_COORDINATE, i, n
        if t < last_t:
            return TIME_BACKWARDS, i, n
        last_t = t
        out[n].t = t
        out[n].x = x
        out[n].y = y
        out[n].p = (data >> 1) & 1
        n += 1
    return OK, words.shape[0], n


@njit(cache=True, nogil=True)
def decode_aedat2(words, davis, width, height, wrap, last_raw, out, counts):
    """AEDAT 2.0 big-endian (address, timestamp) words, already byte-swapped to uint32.

    davis=True: jAER DAVIS layout (bit 31 APS/IMU, bit 10 external, y bits 22-30, x bits
    12-21, polarity bit 11, both axes mirrored from jAER's bottom-left origin).
    davis=False: jAER DVS128 (bit 15 external, y bits 8-14, x bits 1-7 mirrored, bit 0
    set = OFF). Timestamps are 32-bit µs and wrap: a jump back of more than 2**31 adds
    2**32. counts: [aps_or_imu, external]. Returns (status, index, written, wrap, last_raw).
    """
    n = 0
    for i in range(words.shape[0]):
        addr = words[i, 0]
        raw = np.int64(words[i, 1])
        if davis:
            if addr & 0x80000000:
                counts[0] += 1
                continue
            if addr & 0x400:
                counts[1] += 1
                continue
            xr = (addr >> 12) & 0x3FF
            yr = (addr >> 22) & 0x1FF
            p = (addr >> 11) & 1
        else:
            if addr & 0x8000:
                counts[1] += 1
                continue
            xr = (addr >> 1) & 0x7F
            yr = (addr >> 8) & 0x7F
            p = 1 - (addr & 1)
        if xr >= width or yr >= height:
            return BAD_COORDINATE, i, n, wrap, last_raw
        if raw < last_raw:
            if last_raw - raw > 0x80000000:
                wrap += np.int64(1) << 32
            else:
                return TIME_BACKWARDS, i, n, wrap, last_raw
        last_raw = raw
        out[n].t = raw + wrap
        out[n].x = width - 1 - xr
        out[n].y = height - 1 - yr
        out[n].p = p
        n += 1
    return OK, words.shape[0], n, wrap, last_raw


# AEDAT 3.1 packet walker -------------------------------------------------------------
# Status codes beyond the per-event ones above.
BAD_PACKET_HEADER, PACKET_PAST_END = 4, 5

# state slots of decode_aedat31_stream (kept by the reader between blocks)
A31_LAST_T, A31_SOURCE, A31_REMAIN, A31_MODE, A31_OVERFLOW, A31_EVENT_SIZE, A31_EVENTS_LEFT = range(7)
A31_STATE_SIZE = 7
# counts slots
A31_PACKETS, A31_POLARITY_PACKETS, A31_OTHER_TYPE, A31_OTHER_SOURCE, A31_INVALID = range(5)
A31_COUNTS_SIZE = 5


@njit(cache=True, nogil=True)
def decode_aedat31_stream(buf, limit, width, height, state, out, counts):
    """Walk AEDAT 3.1 packets in `buf` (uint8, file bytes), decoding polarity events.

    A packet is a 28-byte header (libcaer `caer_event_packet_header`: int16 type, int16
    source, int32 eventSize, eventTSOffset, eventTSOverflow, eventCapacity, eventNumber,
    eventValid) followed by eventCapacity * eventSize bytes, of which the first
    eventNumber events are meaningful. Packets may straddle `buf`: `state` carries the
    position inside the current packet between calls, so any block split decodes alike.
    `limit` is the number of file bytes from buf[0] to the end of the file; a packet
    claiming more is reported before anything is indexed. Polarity events (type 1): uint32
    data (bit 0 valid, bit 1 polarity, bits 2-16 y, bits 17-31 x), int32 timestamp;
    time = eventTSOverflow << 31 | timestamp. Returns (status, position in buf of the bad
    header or event, events written, bytes consumed).
    """
    pos = 0
    n = 0
    size = buf.shape[0]
    while True:
        if state[A31_REMAIN] == 0:
            if pos + 28 > size:
                break
            ptype = _le32(buf, pos) & 0xFFFF
            psource = (_le32(buf, pos) >> 16) & 0xFFFF
            esize = _le32s(buf, pos + 4)
            tsoff = _le32s(buf, pos + 8)
            overflow = _le32s(buf, pos + 12)
            capacity = _le32s(buf, pos + 16)
            number = _le32s(buf, pos + 20)
            valid = _le32s(buf, pos + 24)
            if (ptype >= 0x8000 or psource >= 0x8000 or esize <= 0 or tsoff < 0 or tsoff > esize - 4
                    or overflow < 0 or number < 0 or capacity < number or valid < 0 or valid > number
                    or (ptype == 1 and (esize != 8 or tsoff != 4))):
                return BAD_PACKET_HEADER, pos, n, pos
            body = capacity * esize
            if body > limit - pos - 28:
                return PACKET_PAST_END, pos, n, pos
            counts[A31_PACKETS] += 1
            pos += 28
            state[A31_REMAIN] = body
            state[A31_MODE] = 0
            if ptype == 1:
                if state[A31_SOURCE] < 0:
                    state[A31_SOURCE] = psource
                if psource == state[A31_SOURCE]:
                    counts[A31_POLARITY_PACKETS] += 1
                    state[A31_MODE] = 1
                    state[A31_OVERFLOW] = overflow
                    state[A31_EVENT_SIZE] = esize
                    state[A31_EVENTS_LEFT] = number
                else:
                    counts[A31_OTHER_SOURCE] += 1
            else:
                counts[A31_OTHER_TYPE] += 1
            continue
        if state[A31_MODE] == 1 and state[A31_EVENTS_LEFT] > 0:
            # locals in the per-event loop; written back to state on every exit
            last_t = state[A31_LAST_T]
            high = state[A31_OVERFLOW] << 31
            left = state[A31_EVENTS_LEFT]
            stop = pos + 8 * min(left, (size - pos) // 8)
            start = pos
            while pos < stop:
                data = _le32(buf, pos)
                if data & 1:
                    t = high | (_le32(buf, pos + 4) & 0x7FFFFFFF)
                    x = data >> 17
                    y = (data >> 2) & 0x7FFF
                    if x >= width or y >= height or t < last_t:
                        state[A31_LAST_T] = last_t
                        state[A31_EVENTS_LEFT] = left - (pos - start) // 8
                        state[A31_REMAIN] -= pos - start
                        return (BAD_COORDINATE if x >= width or y >= height else TIME_BACKWARDS), pos, n, pos
                    last_t = t
                    out[n].t = t
                    out[n].x = x
                    out[n].y = y
                    out[n].p = (data >> 1) & 1
                    n += 1
                else:
                    counts[A31_INVALID] += 1
                pos += 8
            state[A31_LAST_T] = last_t
            state[A31_EVENTS_LEFT] = left - (pos - start) // 8
            state[A31_REMAIN] -= pos - start
            if state[A31_EVENTS_LEFT] > 0:
                break  # an event straddles the end of buf
            continue
        # skipped packet body, or the unused capacity after a polarity packet's events
        k = min(state[A31_REMAIN], size - pos)
        pos += k
        state[A31_REMAIN] -= k
        if state[A31_REMAIN] > 0:
            break
    return OK, pos, n, pos


@njit(cache=True, nogil=True)
def decode_lz4_packets(chunk, k, valid, stream_id, declared, decompress, context, options, sizes, buf, words,
                       width, height, last_t, out, start, counts):
    """A run of LZ4-compressed AEDAT 4 packets, walked, decompressed and decoded in one call.

    chunk[k:valid]: file bytes from a packet header on (PacketWalker.window). Packets of
    stream_id are decompressed into buf (words: the same memory as int64) by `decompress`,
    LZ4F_decompress (Lz4Frames.native, with its context, options and sizes), and decoded by
    decode_aedat4_packet into out[start:]; packets of the other `declared` streams are
    skipped (counts[1]), decoded ones counted (counts[0]). The run stops at the first packet
    that is not whole in the chunk, at anything unusual (a bad header, an undeclared stream,
    a frame that fails or outgrows buf, events decode_aedat4_packet refuses) and where out
    may lack room for a full buf of events: the reader's Python path takes that packet (and
    names any fault). Returns (k of that packet, start, last_t, 1 if the LZ4 context was left
    mid-frame else 0).
    """
    while k + 8 <= valid:
        sid = _le32s(chunk, k)
        size = _le32s(chunk, k + 4)
        if size <= 0 or k + 8 + size > valid:
            return k, start, last_t, 0
        known = False
        for d in range(declared.shape[0]):
            known |= declared[d] == sid
        if not known:
            return k, start, last_t, 0
        if sid != stream_id:
            counts[1] += 1
            k += 8 + size
            continue
        if out.shape[0] - start < buf.shape[0] // 16:
            return k, start, last_t, 0
        sizes[0] = buf.shape[0]
        sizes[1] = size
        left = decompress(context, buf.ctypes.data, sizes.ctypes.data, chunk.ctypes.data + k + 8,
                          sizes.ctypes.data + 8, options)
        if left != 0 or np.int64(sizes[1]) != size:  # (a frame shorter than its packet too)
            return k, start, last_t, 1 if left != 0 else 0
        status, n, t_last = decode_aedat4_packet(buf, words, np.int64(sizes[0]), width, height, last_t, out, start)
        if status != OK:
            return k, start, last_t, 0
        counts[0] += 1
        if n:
            start += n
            last_t = t_last
        k += 8 + size
    return k, start, last_t, 0
