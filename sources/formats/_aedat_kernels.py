"""Numba decoders of the iniVation formats: raw words in, EVENT_DTYPE records out.

Each kernel validates as it decodes and stops at the first bad event, returning
(status, index) so the reader can name the byte offset: status 0 = fine,
1 = coordinate outside the geometry, 2 = time goes backwards, 3 = bad polarity byte.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OK, BAD_COORDINATE, TIME_BACKWARDS, BAD_POLARITY = 0, 1, 2, 3


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
