"""Prophesee EVT 2.0 '.raw' files: streaming reader and writer.

EVT 2.0 (docs.prophesee.ai, "EVT 2.0 Format") is a stream of 32-bit little-endian
words, the type in bits 31..28: CD_OFF (0x0) / CD_ON (0x1) carry the 6 low time bits
(27..22), x (21..11) and y (10..0) of one event; EVT_TIME_HIGH (0x8) carries the 28 high
time bits (a 34-bit µs time that loops every 4.8 h; loops are counted so time keeps
increasing); EXT_TRIGGER (0xA) is a trigger edge (time bits 27..22, channel 12..8,
value bit 0); OTHERS (0xE) and CONTINUED (0xF) carry system data (skipped and counted).
As in OpenEB's decoder, words before the first EVT_TIME_HIGH are skipped.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numba import njit

from sources.formats import _prophesee_kernels as K
from sources.formats._prophesee_reader import (
    TRIGGER_DTYPE,
    RawReader,
    checked_events,
    raw_header,
    write_words,
)


class Evt2Reader(RawReader):
    """Streaming reader of an EVT 2.0 RAW file (CD events; triggers via `triggers()`).

    Parameters: path; on_error: 'raise' (default: FormatError naming file, byte offset and
    fault at the first unknown word type, out-of-sensor event, time-high going backwards or
    event time going backwards) or 'skip' (skip those, count them in `counters`, warn);
    width/height: override the header geometry (pixels). The geometry comes from
    `% format EVT2;height=H;width=W`, `% geometry WxH` or, in legacy headers, the camera
    that `% plugin_name` names (`info().extra["geometry_source"]` says which). External
    triggers: `triggers()` (TRIGGER_DTYPE t µs, p edge, id channel), never in the events.
    """

    format: ClassVar[str] = "evt2"
    _label: ClassVar[str] = "EVT2"
    _evt: ClassVar[str] = "2.0"
    _word: ClassVar[np.dtype] = np.dtype("<u4")
    _unit_bytes: ClassVar[int] = 4
    _unit_what: ClassVar[str] = "a 32-bit word"

    @staticmethod
    def _kernel(*args):
        return decode_evt2(*args)


def write_evt2(path, events: np.ndarray, width: int, height: int) -> None:
    """Write events (EVENT_DTYPE-like, sorted, t >= 0 µs, p 0/1) as an EVT 2.0 RAW file
    for a width x height sensor (pixels, at most 2048: 11-bit coordinates)."""
    events = checked_events(events, width, height, 2048, f"EVT2 writer {path}")
    write_words(path, raw_header("2.0", "EVT2", int(width), int(height)), events, encode_evt2,
                np.dtype("<u4"), 34)


# decode and encode loops ---------------------------------------------------------------
@njit(cache=True)
def _evt2_fast(src, dst, state, counters, width, height):
    """Optimistic pass over src (dst as long); returns the events written, or -1."""
    base, high, last_t = state[K.S_BASE], state[K.S_HIGH], state[K.S_LAST_T]
    others = 0
    continued = 0
    # unsigned indices: Numba then skips its negative-index wraparound test (~1.3x faster)
    j = np.uint64(0)
    k = np.uint64(0)
    one = np.uint64(1)
    n = np.uint64(src.shape[0])
    # sign bit set once a stamp goes backwards or a coordinate passes the sensor: one OR
    # per word instead of a compare per check
    sign = np.int64(0)
    x_max, y_max = width - 1, height - 1
    while k < n:
        w = np.int64(src[k])
        kind = w >> 28
        if kind <= 1:
            # CD_OFF / CD_ON (ts LSB 27..22, x 21..11, y 10..0): a run of them shares one time
            # base, so it gets a loop of its own with one test per word (~20% faster than
            # dispatching every word on its type)
            while True:
                t = base + ((w >> 22) & 0x3F)
                x = (w >> 11) & 0x7FF
                y = w & 0x7FF
                sign |= (x_max - x) | (y_max - y) | (t - last_t)
                last_t = t
                event = dst[j]
                event["t"] = t
                event["x"] = x
                event["y"] = y
                event["p"] = kind
                j += one
                k += one
                if k >= n:
                    break
                w = np.int64(src[k])
                kind = w >> 28
                if kind > 1:
                    break
        elif kind == 8:  # EVT_TIME_HIGH: ts MSB 27..0 (a loop goes to the careful loop)
            sign |= (w & 0xFFFFFFF) - high
            base += ((w & 0xFFFFFFF) - high) << 6
            high = w & 0xFFFFFFF
            k += one
        elif kind >= 14:  # OTHERS / CONTINUED
            others += kind == 14
            continued += kind == 15
            k += one
        else:
            return -1
    if sign < 0:
        return -1
    state[K.S_BASE], state[K.S_HIGH], state[K.S_LAST_T] = base, high, last_t
    counters[K.C_OTHERS] += others
    counters[K.C_CONTINUED] += continued
    return np.int64(j)


@njit(cache=True)
def _evt2_careful(words, i, stop, state, out, n, trig, m, counters, detail, width, height, strict):
    """Word by word from i to stop; returns (i, n, m, status) (see _evt3_careful)."""
    base, high, last_t = state[K.S_BASE], state[K.S_HIGH], state[K.S_LAST_T]
    status = 0
    while i < stop:
        w = np.int64(words[i])
        kind = w >> 28
        if kind <= 1:
            if n >= out.shape[0]:
                break
            t = base + ((w >> 22) & 0x3F)
            x = (w >> 11) & 0x7FF
            y = w & 0x7FF
            if x >= width or y >= height or t < last_t:
                code = K.ERR_OUT_OF_RANGE if t >= last_t else K.ERR_EVENT_TIME_BACKWARDS
                if strict:
                    status = code
                    detail[0], detail[1] = (x, y) if t >= last_t else (t, last_t)
                    break
                counters[K.C_OUT_OF_RANGE if t >= last_t else K.C_EVENT_TIME_BACKWARDS] += 1
            else:
                out[n]["t"] = t
                out[n]["x"] = x
                out[n]["y"] = y
                out[n]["p"] = kind
                n += 1
                last_t = t
        elif kind == 8:
            step = K.time_high_step(w & 0xFFFFFFF, high, 28, K.EVT2_LOOP_MIN_DROP_US, 6)
            if step < 0:
                if strict:
                    status = K.ERR_TIME_HIGH_BACKWARDS
                    detail[0], detail[1] = w & 0xFFFFFFF, high
                    break
                counters[K.C_TIME_HIGH_BACKWARDS] += 1
            else:
                counters[K.C_TIME_LOOPS] += (w & 0xFFFFFFF) < high
                base += step
                high = w & 0xFFFFFFF
        elif kind == 10:  # EXT_TRIGGER: ts LSB 27..22, id 12..8, value bit 0
            if m >= trig.shape[0]:
                break
            trig[m]["t"] = base + ((w >> 22) & 0x3F)
            trig[m]["p"] = w & 1
            trig[m]["id"] = (w >> 8) & 0x1F
            m += 1
        elif kind == 14:
            counters[K.C_OTHERS] += 1
        elif kind == 15:
            counters[K.C_CONTINUED] += 1
        else:
            if strict:
                status = K.ERR_UNKNOWN_TYPE
                detail[0] = kind
                break
            counters[K.C_UNKNOWN_TYPE] += 1
        i += 1
    state[K.S_BASE], state[K.S_HIGH], state[K.S_LAST_T] = base, high, last_t
    return i, n, m, status


@njit(cache=True)
def decode_evt2(words, start, state, out, trig, counters, detail, width, height, strict):
    """EVT 2.0 32-bit words -> CD events (out) and external triggers (trig)."""
    i = start
    if state[K.S_HAVE_TIME] == 0:
        i = K.skip_to_time_high(words, i, state, counters, 28, 6)
    n = 0
    m = 0
    while i < words.shape[0]:
        stop = min(words.shape[0], i + K.CHUNK)
        if n + (stop - i) <= out.shape[0]:
            j = _evt2_fast(words[i:stop], out[n:n + stop - i], state, counters, width, height)
            if j >= 0:
                i, n = stop, n + j
                continue
        i, n, m, status = _evt2_careful(words, i, stop, state, out, n, trig, m, counters, detail,
                                        width, height, strict)
        if i < stop:
            return n, m, i, status
    return n, m, i, 0




@njit(cache=True)
def encode_evt2(t, x, y, p, state, words):
    """Events (sorted, validated) -> EVT 2.0 words; returns the number written."""
    k = 0
    for i in range(t.shape[0]):
        ti = np.int64(t[i])
        k = K.time_high_words(words, k, state, ti >> 6, 28, 8, 28)
        words[k] = ((np.int64(p[i]) & 1) << 28) | ((ti & 0x3F) << 22) | (np.int64(x[i]) << 11) | np.int64(y[i])
        k += 1
    return k


__all__ = ["TRIGGER_DTYPE", "Evt2Reader", "write_evt2"]
