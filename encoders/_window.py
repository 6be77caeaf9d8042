"""Helpers of the window coders: events from per-window spike offsets, and the inverse."""

from __future__ import annotations

import numpy as np

from pipeline.events import EVENT_DTYPE, empty_events


def window_events(starts: np.ndarray, ends: np.ndarray, offsets: np.ndarray, fire: np.ndarray) -> np.ndarray:
    """Events from spike offsets [nw, k] (µs after each window's start; x = column), keeping
    those that fire and land before their window's end; sorted by (t, x)."""
    nw, k = offsets.shape
    t = starts[:, None] + offsets
    keep = fire & (t < ends[:, None])
    if not keep.any():
        return empty_events()
    x = np.broadcast_to(np.arange(k), (nw, k))[keep]
    t = t[keep]
    order = np.lexsort((x, t))
    ev = np.empty(order.size, dtype=EVENT_DTYPE)
    ev["t"] = t[order]
    ev["x"] = x[order]
    ev["y"] = 0
    ev["p"] = 1
    return ev


def window_offsets(events: np.ndarray, window_us: int, t0_us: int, n_windows: int, width: int,
                   fill: float = np.nan) -> np.ndarray:
    """First-spike offset (µs from its window's start) per [window, x]; `fill` where none."""
    out = np.full((n_windows, width), fill, np.float64)
    if events.size == 0:
        return out
    w = (events["t"] - t0_us) // window_us
    keep = (w >= 0) & (w < n_windows) & (events["x"] < width)
    w, x, t = w[keep], events["x"][keep].astype(np.int64), events["t"][keep]
    off = (t - t0_us - w * window_us).astype(np.float64)
    flat = w * width + x
    first = np.full(n_windows * width, np.inf)
    np.minimum.at(first, flat, off)
    first[np.isinf(first)] = fill
    return first.reshape(n_windows, width)
