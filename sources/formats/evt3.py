"""Prophesee EVT 3.0 '.raw' files: streaming reader and writer.

EVT 3.0 (docs.prophesee.ai, "EVT 3.0 Format") is a stateful stream of 16-bit
little-endian words, the type in bits 15..12: EVT_ADDR_Y (0x0) sets the row,
EVT_ADDR_X (0x2) is one event, VECT_BASE_X (0x3) sets a base column and polarity that
VECT_12 (0x4) / VECT_8 (0x5) validity masks then fill, EVT_TIME_LOW (0x6) and
EVT_TIME_HIGH (0x8) carry the 12 low and 12 high bits of a 24-bit µs time (the high part
loops every 16.8 s; the reader counts loops so time keeps increasing), EXT_TRIGGER (0xA)
is an external trigger edge, OTHERS (0xE) with CONTINUED_12/CONTINUED_4 (0xF/0x7)
carry system data (skipped and counted). Time rules follow Prophesee's published sample
decoder: words before the first EVT_TIME_HIGH are skipped, a EVT_TIME_HIGH word sets the
time to its base. The `evt3` package decodes identically; expelliarmus 1.1 does not: it
takes every decrease of EVT_TIME_LOW for a time-high overflow (+4096 µs) although the
EVT_TIME_HIGH word that follows already advanced the time, so its times run ahead on
real recordings (the tests model that rule exactly).
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


class Evt3Reader(RawReader):
    """Streaming reader of an EVT 3.0 RAW file (CD events; triggers via `triggers()`).

    Parameters: path; on_error: 'raise' (default: FormatError naming file, byte offset and
    fault at the first unknown word type, out-of-sensor event, time-high going backwards or
    event time going backwards) or 'skip' (skip those, count them in `counters`, warn);
    width/height: override the header geometry (pixels). The geometry comes from
    `% format EVT3;height=H;width=W`, `% geometry WxH` or, in legacy headers, the camera
    that `% plugin_name` names (`info().extra["geometry_source"]` says which). External
    triggers: `triggers()` (TRIGGER_DTYPE t µs, p edge, id channel), never in the events.
    """

    format: ClassVar[str] = "evt3"
    _label: ClassVar[str] = "EVT3"
    _evt: ClassVar[str] = "3.0"
    _word: ClassVar[np.dtype] = np.dtype("<u2")

    @staticmethod
    def _kernel(*args):
        return decode_evt3(*args)


def write_evt3(path, events: np.ndarray, width: int, height: int) -> None:
    """Write events (EVENT_DTYPE-like, sorted, t >= 0 µs, p 0/1) as an EVT 3.0 RAW file
    for a width x height sensor (pixels, at most 2048: 11-bit coordinates)."""
    events = checked_events(events, width, height, 2048, f"EVT3 writer {path}")

    def encode(t, x, y, p, state, out):
        return encode_evt3(t, x, y, p, state, out, int(width))

    write_words(path, raw_header("3.0", "EVT3", int(width), int(height)), events, encode, np.dtype("<u2"), 24)


# decode and encode loops ---------------------------------------------------------------
# The three word types of almost every event (EVT_ADDR_Y, EVT_TIME_LOW, EVT_ADDR_X) follow
# each other in data-dependent order, so branching on them mispredicts often; the fast
# pass handles them without branches, through one row per word type of this table:
# [mask taking the word's field as y, mask taking base + field as t, events written,
# largest value the 11-bit field may hold]. The table is built per call because the
# limits are the sensor's.
_ROW_Y, _ROW_T, _ROW_EVENTS, _ROW_MAX = 0, 1, 2, 3
_COMMON_TYPES = (1 << 0) | (1 << 2) | (1 << 6)


@njit(cache=True)
def _common_word_table(width, height):
    table = np.zeros((16, 4), dtype=np.int64)
    table[:, _ROW_MAX] = 1 << 16
    table[0, _ROW_Y] = -1
    table[0, _ROW_MAX] = height - 1
    table[6, _ROW_T] = -1
    table[2, _ROW_EVENTS] = 1
    table[2, _ROW_MAX] = width - 1
    return table


@njit(cache=True)
def _evt3_fast(src, dst, state, counters, table, width, height):
    """Optimistic pass over src; returns the events written, or -1 (state untouched).

    Anything unusual sends the chunk to the careful loop: time going backwards at a time
    low or time high word (even if no event follows; but for a repeated time high right
    before a time low that restores the time), an x or y outside the sensor (even on an
    EVT_ADDR_Y that no event uses), a time-high loop, an unknown word type.
    """
    base, high, t, y = state[K.S_BASE], state[K.S_HIGH], state[K.S_TIME], state[K.S_Y]
    bx, bp = state[K.S_BASE_X], state[K.S_POL]
    # room: every word may write the record at j (and a vector word 12): dst must hold
    # one record per word left, plus 12, whenever a vector word comes
    room = dst.shape[0] - 12 - src.shape[0]
    if room < 0 or t < state[K.S_LAST_T] or y >= height:
        return -1
    # unsigned indices: Numba then skips its negative-index wraparound test
    one = np.uint64(1)
    others = 0
    continued = 0
    j = np.uint64(0)
    bad = False
    # sign bit set once a time low goes backwards or a field passes its limit
    sign = 0
    for k in range(np.uint64(src.shape[0])):
        w = np.int64(src[k])
        kind = w >> 12
        if (_COMMON_TYPES >> kind) & 1:
            # every word writes the record at j; only EVT_ADDR_X moves j past it
            row = table[kind]
            field = w & 0x7FF
            new_t = t ^ ((t ^ (base + (w & 0xFFF))) & row[_ROW_T])
            sign |= (new_t - t) | (row[_ROW_MAX] - field)
            t = new_t
            y ^= (y ^ field) & row[_ROW_Y]
            event = dst[j]
            event["t"] = t
            event["x"] = field
            event["y"] = y
            event["p"] = (w >> 11) & 1
            j += np.uint64(row[_ROW_EVENTS])
            continue
        if kind == 4 or kind == 5:  # VECT_12 / VECT_8: validity bits from base x on
            if np.int64(j) - np.int64(k) > room:
                return -1
            size = 12 if kind == 4 else 8
            mask = w & ((1 << size) - 1)
            if mask != 0:
                bad |= (bx + size > width) | (y >= height)
                x = bx
                while mask != 0:
                    if mask & 1:
                        event = dst[j]
                        event["t"] = t
                        event["x"] = x
                        event["y"] = y
                        event["p"] = bp
                        j += one
                    mask >>= 1
                    x += 1
            # the spec: a vector word advances the base x by its size (capped so that a
            # corrupt run of vector words cannot grow it without bound)
            bx = min(bx + size, 1 << 16)
        elif kind == 3:  # VECT_BASE_X
            bx = w & 0x7FF
            bp = (w >> 11) & 1
        elif kind == 8:  # EVT_TIME_HIGH
            if w & 0xFFF < high:
                return -1  # backwards, or a loop: the careful loop tells them apart
            base += ((w & 0xFFF) - high) << 12
            high = w & 0xFFF
            if base < t:
                # a repeated time high takes t back to its base, below the last events.
                # Sensors repeat it, always followed by a time low that restores t: that
                # case stays here (the time-low check above compares with the base)
                nxt = np.int64(src[k + one]) if k + one < src.shape[0] else 0
                if nxt >> 12 != 6 or base + (nxt & 0xFFF) < t:
                    return -1
            t = base
        elif kind == 14:  # OTHERS (system/monitoring words)
            others += 1
        elif kind == 15 or kind == 7:  # CONTINUED_12 / CONTINUED_4: payload of OTHERS
            continued += 1
        else:
            return -1
    if bad or sign < 0:
        return -1
    state[K.S_BASE], state[K.S_HIGH], state[K.S_TIME], state[K.S_Y] = base, high, t, y
    state[K.S_BASE_X], state[K.S_POL] = bx, bp
    if j:
        state[K.S_LAST_T] = dst[j - one]["t"]
    counters[K.C_OTHERS] += others
    counters[K.C_CONTINUED] += continued
    return np.int64(j)


@njit(cache=True)
def _evt3_careful(words, i, stop, state, out, n, trig, m, counters, detail, width, height, strict):
    """Word by word from i to stop; returns (i, n, m, status), stopping early when out or
    trig is full or at an error."""
    base, high, t, y = state[K.S_BASE], state[K.S_HIGH], state[K.S_TIME], state[K.S_Y]
    bx, bp, last_t = state[K.S_BASE_X], state[K.S_POL], state[K.S_LAST_T]
    status = 0
    while i < stop:
        w = np.int64(words[i])
        kind = w >> 12
        if kind == 2 or ((kind == 4 or kind == 5) and (w & (0xFFF if kind == 4 else 0xFF))):
            if n + 12 > out.shape[0]:
                break
            size = 1 if kind == 2 else (12 if kind == 4 else 8)
            mask = 1 if kind == 2 else w & ((1 << size) - 1)
            x0 = w & 0x7FF if kind == 2 else bx
            p = (w >> 11) & 1 if kind == 2 else bp
            if t < last_t:
                if strict:
                    status = K.ERR_EVENT_TIME_BACKWARDS
                    detail[0], detail[1] = t, last_t
                    break
                counters[K.C_EVENT_TIME_BACKWARDS] += 1
                mask = 0
            for j in range(size):
                if (mask >> j) & 1:
                    if x0 + j >= width or y >= height:
                        if strict:
                            status = K.ERR_OUT_OF_RANGE
                            detail[0], detail[1] = x0 + j, y
                            break
                        counters[K.C_OUT_OF_RANGE] += 1
                        continue
                    out[n]["t"] = t
                    out[n]["x"] = x0 + j
                    out[n]["y"] = y
                    out[n]["p"] = p
                    n += 1
                    last_t = t
            if status:
                break
            if kind != 2:
                bx = min(bx + size, 1 << 16)
        elif kind == 4 or kind == 5:
            bx = min(bx + (12 if kind == 4 else 8), 1 << 16)
        elif kind == 6:
            t = base + (w & 0xFFF)
        elif kind == 0:
            y = w & 0x7FF
        elif kind == 3:
            bx = w & 0x7FF
            bp = (w >> 11) & 1
        elif kind == 8:
            step = K.time_high_step(w & 0xFFF, high, 12, K.EVT3_LOOP_MIN_DROP_US, 12)
            if step < 0:
                if strict:
                    status = K.ERR_TIME_HIGH_BACKWARDS
                    detail[0], detail[1] = w & 0xFFF, high
                    break
                counters[K.C_TIME_HIGH_BACKWARDS] += 1
            else:
                counters[K.C_TIME_LOOPS] += (w & 0xFFF) < high
                base += step
                high = w & 0xFFF
                t = base
        elif kind == 10:  # EXT_TRIGGER: value bit 0, channel id bits 11..8
            if m >= trig.shape[0]:
                break
            trig[m]["t"] = t
            trig[m]["p"] = w & 1
            trig[m]["id"] = (w >> 8) & 0xF
            m += 1
        elif kind == 14:
            counters[K.C_OTHERS] += 1
        elif kind == 15 or kind == 7:
            counters[K.C_CONTINUED] += 1
        else:
            if strict:
                status = K.ERR_UNKNOWN_TYPE
                detail[0] = kind
                break
            counters[K.C_UNKNOWN_TYPE] += 1
        i += 1
    state[K.S_BASE], state[K.S_HIGH], state[K.S_TIME], state[K.S_Y] = base, high, t, y
    state[K.S_BASE_X], state[K.S_POL], state[K.S_LAST_T] = bx, bp, last_t
    return i, n, m, status


@njit(cache=True)
def decode_evt3(words, start, state, out, trig, counters, detail, width, height, strict):
    """EVT 3.0 16-bit words -> CD events (out) and external triggers (trig)."""
    i = start
    if state[K.S_HAVE_TIME] == 0:
        i = K.skip_to_time_high(words, i, state, counters, 12, 12)
    n = 0
    m = 0
    table = _common_word_table(width, height)
    while i < words.shape[0]:
        stop = min(words.shape[0], i + K.CHUNK)
        j = _evt3_fast(words[i:stop], out[n:], state, counters, table, width, height)
        if j >= 0:
            i, n = stop, n + j
            continue
        i, n, m, status = _evt3_careful(words, i, stop, state, out, n, trig, m, counters, detail,
                                        width, height, strict)
        if i < stop:
            return n, m, i, status
    return n, m, i, 0


@njit(cache=True)
def encode_evt3(t, x, y, p, state, words, width):
    """Events (sorted, validated) -> EVT 3.0 words; returns the number written.

    Runs of >= 4 events with one time, row and polarity and increasing x inside 32 columns
    become VECT_BASE_X + VECT_12 + VECT_12 + VECT_8, the 32-pixel group Prophesee's
    sensors emit (OpenEB decodes VECT_12 as the start of that group, and its validator
    wants base + 32 <= width); everything else is one EVT_ADDR_X per event.
    """
    k = 0
    n = t.shape[0]
    i = 0
    while i < n:
        ti = np.int64(t[i])
        k = K.time_high_words(words, k, state, ti >> 12, 12, 8, 12)
        low = ti & 0xFFF
        if low != state[K.E_LOW]:
            words[k] = (6 << 12) | low
            k += 1
            state[K.E_LOW] = low
        yi = np.int64(y[i])
        if yi != state[K.E_Y]:
            words[k] = yi
            k += 1
            state[K.E_Y] = yi
        xi = np.int64(x[i])
        pi = np.int64(p[i]) & 1
        j = i + 1
        while (j < n and t[j] == t[i] and y[j] == y[i] and p[j] == p[i] and x[j] > x[j - 1]
               and np.int64(x[j]) < xi + 32):
            j += 1
        if j - i >= 4 and xi + 32 <= width:
            mask = np.int64(0)
            for q in range(i, j):
                mask |= np.int64(1) << (np.int64(x[q]) - xi)
            words[k] = (3 << 12) | (pi << 11) | xi
            words[k + 1] = (4 << 12) | (mask & 0xFFF)
            words[k + 2] = (4 << 12) | ((mask >> 12) & 0xFFF)
            words[k + 3] = (5 << 12) | ((mask >> 24) & 0xFF)
            k += 4
            i = j
        else:
            words[k] = (2 << 12) | (pi << 11) | xi
            k += 1
            i += 1
    return k


__all__ = ["TRIGGER_DTYPE", "Evt3Reader", "write_evt3"]
