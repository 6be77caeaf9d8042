"""Numba kernel of the event-array readers: four columns in, EVENT_DTYPE records out.

`pack_columns` checks and packs in one pass. The numpy form of the same (a reduction per
column for its range, a field assignment per column into the packed 13-byte records, a
comparison array for the time order) went over each chunk about a dozen times: ~10 ns per
event, against ~2 here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OK, BAD_X, BAD_Y, BAD_POLARITY, TIME_BACKWARDS = 0, 1, 2, 3, 4


@njit(cache=True, nogil=True)
def pack_columns(t, x, y, p, x_top, y_top, last_t, out):
    """out[i] = (t[i], x[i], y[i], p[i] > 0) for every row, stopping at the first row whose
    x is outside 0..x_top-1, y outside 0..y_top-1, p outside -1..1, or t below the time
    before it (last_t for row 0). Returns (status, that row), or (OK, rows)."""
    for i in range(t.shape[0]):
        ti = t[i]
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        pi = np.int64(p[i])
        if xi < 0 or xi >= x_top:
            return BAD_X, i
        if yi < 0 or yi >= y_top:
            return BAD_Y, i
        if pi < -1 or pi > 1:
            return BAD_POLARITY, i
        if ti < last_t:
            return TIME_BACKWARDS, i
        last_t = ti
        out[i].t = ti
        out[i].x = xi
        out[i].y = yi
        out[i].p = pi > 0
    return OK, t.shape[0]


@njit(cache=True, nogil=True)
def check_records(events, x_top, y_top, last_t):
    """pack_columns' checks on rows that already are EVENT_DTYPE records (read straight from
    a file), polarity -1 rewritten to 0 in place. Returns (status, first bad row) or (OK, rows)."""
    for i in range(events.shape[0]):
        e = events[i]
        if e.x >= x_top:
            return BAD_X, i
        if e.y >= y_top:
            return BAD_Y, i
        if e.p < -1 or e.p > 1:
            return BAD_POLARITY, i
        if e.t < last_t:
            return TIME_BACKWARDS, i
        last_t = e.t
        if e.p < 0:
            events[i].p = 0
    return OK, events.shape[0]
