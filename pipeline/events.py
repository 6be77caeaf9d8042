"""The one event dtype (address-event representation) shared by every part.

Field names are tonic's and the layout OpenEB's EventCD, so tonic transforms apply and
vendor arrays convert with a cast.
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import ChunkError

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "i1")])


def make_events(t, x, y=0, p=1) -> np.ndarray:
    """Build a sorted-by-construction event array from columns (scalars broadcast)."""
    t = np.asarray(t, dtype=np.int64)
    events = np.empty(t.shape[0], dtype=EVENT_DTYPE)
    events["t"] = t
    events["x"] = x
    events["y"] = y
    events["p"] = p
    return events


def empty_events() -> np.ndarray:
    return np.empty(0, dtype=EVENT_DTYPE)


def as_events(array: np.ndarray, *, where: str = "events") -> np.ndarray:
    """Cast a structured array with fields t, x, y, p (any order/width) to EVENT_DTYPE.

    Raises ChunkError naming `where` when a field is missing.
    """
    if array.dtype == EVENT_DTYPE:
        return array
    names = array.dtype.names or ()
    missing = [f for f in ("t", "x", "y", "p") if f not in names]
    if missing:
        raise ChunkError(f"{where}: structured array lacks field(s) {missing}; has {list(names)}")
    out = np.empty(array.shape[0], dtype=EVENT_DTYPE)
    for f in ("t", "x", "y"):
        out[f] = array[f]
    p = array["p"]
    out["p"] = p.astype(np.int8) if p.dtype != np.bool_ else p.astype(np.int8)
    return out


def check_sorted(events: np.ndarray, *, where: str = "events") -> None:
    """Raise ChunkError if event times go backwards, naming the first offending index."""
    t = events["t"]
    if t.shape[0] > 1:
        bad = np.flatnonzero(t[1:] < t[:-1])
        if bad.size:
            i = int(bad[0]) + 1
            raise ChunkError(f"{where}: time goes backwards at event {i} ({int(t[i])} µs after {int(t[i - 1])} µs)")
