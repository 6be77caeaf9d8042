"""Per-sample spike-count features: counts in a few time bins per channel group.

The time bins are fractions of each sample's span on the stream (the replay sources mark
samples with `sample_start`/`sample_end`), so a word spoken fast or slow lands in the same
bins; the feature row is emitted as a ValueChunk spanning the sample, on its `sample_end`
chunk, which is what a readout (scikit-learn style, in `network/readouts`) fits on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.chunks import Chunk, EventChunk, Geometry, ValueChunk
from pipeline.errors import ConfigError
from pipeline.events import make_events
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Stage

ALIGNS = ("span", "activity", "quantile")


def binned_counts(t: np.ndarray, x: np.ndarray, t0: int, t1: int, bins: int, groups: int, width: int,
                  log: bool = True, normalize: bool = False, align: str = "span") -> np.ndarray:
    """float32 [bins * groups]: events of one sample spanning [t0, t1) counted per
    (time bin, channel group); row-major by bin.

    align "span": bins split the sample's span evenly; "activity": they split the
    window between the 5th and 95th percentile of the spike times (a word anywhere in a
    1 s clip lands in the same bins); "quantile": each bin holds the same number of
    spikes, in time order (invariant to offset and speaking rate). `normalize` scales
    the counts to 1000 per sample (loudness invariance), then log1p when `log`.
    """
    n = t.shape[0]
    t = t.astype(np.int64)
    if align == "quantile":
        rel = np.arange(n, dtype=np.int64) * bins // max(n, 1)
    else:
        a, b = int(t0), int(t1)
        if align == "activity" and n >= 2:
            lo, hi = np.quantile(t, [0.05, 0.95])
            a, b = int(lo), int(hi) + 1
        rel = np.clip((t - a) * bins // max(b - a, 1), 0, bins - 1)
    group = x.astype(np.int64) * groups // max(width, 1)
    counts = np.bincount(rel * groups + np.minimum(group, groups - 1), minlength=bins * groups)
    counts = counts.astype(np.float32)
    if normalize:
        counts *= np.float32(1000.0) / np.float32(counts.sum() + 1.0)
    return np.log1p(counts) if log else counts


@register_stage("sample_features")
class SampleFeatures(Stage):
    """Events -> one feature row per sample (ValueChunk on the sample's last chunk).

    Parameters: bins (time bins per sample); groups (channel groups, 0 = one per
    channel); width (channels, 0 = from the chunk geometry); log (log1p of counts);
    normalize (scale counts to 1000 per sample before the log); align ("span",
    "activity", "quantile": where the time bins sit, see `binned_counts`); keep (also keep every row for result(): sample ids, labels, features).
    """

    accepts = ("events",)

    def __init__(self, bins: int = 4, groups: int = 0, width: int = 0, log: bool = True, normalize: bool = False,
                 align: str = "span", keep: bool = False) -> None:
        self.bins = bins
        self.groups = groups
        self.width = width
        self.log = log
        self.normalize = normalize
        self.align = align
        self.keep = keep

    def reset(self) -> None:
        if self.bins <= 0 or self.groups < 0 or self.width < 0:
            raise ConfigError(f"sample_features: bins must be > 0 and groups, width >= 0; got bins={self.bins}, "
                              f"groups={self.groups}, width={self.width}")
        if self.align not in ALIGNS:
            raise ConfigError(f"sample_features: align must be one of {ALIGNS}, got {self.align!r}")
        self._parts: list[np.ndarray] = []
        self._t0: int | None = None
        self._meta: dict[str, Any] = {}
        self._width = self.width
        self._out_t = None  # where the next output chunk starts (tiling)
        self._rows: list[dict[str, Any]] = []

    def _n_groups(self) -> int:
        return self.groups or self._width

    def process(self, chunk: Chunk) -> list[Chunk]:
        self.check_input(chunk)
        if not hasattr(self, "_parts"):
            self.reset()
        assert isinstance(chunk, EventChunk)
        if not self._width:
            self._width = int(chunk.geometry.width) or 0
        out: list[Chunk] = []
        if chunk.meta.get("sample_start") and self._t0 is not None and self._t_last > self._t0:
            out.extend(self._emit())  # a sample that never said sample_end: complete it here
        if self._t0 is None:
            self._t0 = chunk.t_start
            if self._out_t is None:
                self._out_t = chunk.t_start
        if chunk.events.shape[0]:
            self._parts.append(chunk.events)
        self._t_last = chunk.t_end
        self._meta = chunk.meta
        if chunk.meta.get("sample_end"):
            out.extend(self._emit())
        return out

    def _emit(self) -> list[Chunk]:
        if not self._width:
            raise ConfigError("sample_features: channel count unknown: set width or give events a geometry width")
        events = np.concatenate(self._parts) if self._parts else make_events([], 0)
        row = binned_counts(events["t"], events["x"], self._t0, self._t_last, self.bins, self._n_groups(),
                            self._width, self.log, self.normalize, self.align)
        meta = {k: v for k, v in self._meta.items() if k not in ("sample_start",)}
        meta["sample_end"] = True
        chunk = ValueChunk(t_start=int(self._out_t), t_end=int(self._t_last), values=row[None, :],
                           times=np.array([self._t_last - 1], dtype=np.int64),
                           geometry=Geometry(channels=row.shape[0]), meta=meta)
        if self.keep:
            self._rows.append({"sample_id": meta.get("sample_id"), "label": meta.get("label", -1), "row": row,
                               "span_us": int(self._t_last - self._t0)})
        self._out_t = self._t_last
        self._parts, self._t0 = [], None
        return [chunk]

    def flush(self) -> list[Chunk]:
        if not hasattr(self, "_parts"):
            return []
        if self._t0 is not None and self._t_last > self._t0:
            return self._emit()
        return []

    def rows(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Kept rows as (sample ids, labels int64 [n], features float32 [n, k], spans µs [n])."""
        rows = getattr(self, "_rows", [])
        k = self.bins * self._n_groups() if hasattr(self, "_width") else 0
        features = np.stack([r["row"] for r in rows]) if rows else np.zeros((0, k), np.float32)
        return ([str(r["sample_id"]) for r in rows], np.array([int(r["label"]) for r in rows], np.int64), features,
                np.array([r["span_us"] for r in rows], np.int64))

    def result(self) -> dict[str, Any]:
        if not self.keep or not hasattr(self, "_rows"):
            return {}
        ids, labels, features, spans = self.rows()
        return {"sample_ids": ids, "labels": labels.tolist(), "features": features.tolist(), "span_us": spans.tolist()}

    @classmethod
    def contract_example(cls) -> ContractExample:
        rng = np.random.default_rng(0)
        t = np.sort(rng.integers(0, 90_000, 400))
        events = make_events(t, rng.integers(0, 16, 400))
        geometry = Geometry(width=16, height=1, channels=16)
        chunk = EventChunk(t_start=0, t_end=90_000, events=events, geometry=geometry, meta={"label": 3})
        return ContractExample({"bins": 3, "groups": 4, "normalize": True, "align": "activity"}, [chunk])
