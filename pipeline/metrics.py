"""Per-stage counters kept by the runners and reported at the end of a run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

_LATENCY_KEEP = 4096  # bounded reservoir of queue-latency samples


@dataclass
class StageMetrics:
    chunks_in: int = 0
    chunks_out: int = 0
    items_in: int = 0   # events, samples, frames or value rows
    items_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    drops: int = 0       # chunks lost on lossy links, counted by sequence gaps
    malformed: int = 0   # messages rejected by the wire decoder
    busy_s: float = 0.0  # time spent inside the stage's process()/flush()
    _latencies_ms: list[float] = field(default_factory=list, repr=False)
    _latency_count: int = 0

    def add_latency(self, ms: float) -> None:
        self._latency_count += 1
        if len(self._latencies_ms) < _LATENCY_KEEP:
            self._latencies_ms.append(ms)
        else:  # keep a uniform sample without growing
            slot = (self._latency_count * 2654435761) % self._latency_count
            if slot < _LATENCY_KEEP:
                self._latencies_ms[slot] = ms

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        lat = np.asarray(self._latencies_ms)
        out["queue_latency_ms_p50"] = float(np.percentile(lat, 50)) if lat.size else None
        out["queue_latency_ms_p99"] = float(np.percentile(lat, 99)) if lat.size else None
        out["busy_s"] = round(self.busy_s, 6)
        return out


def format_metrics_table(metrics: dict[str, dict]) -> str:
    """A plain-text table of per-stage metrics for the end of a run."""
    cols = ["chunks_in", "chunks_out", "items_in", "items_out", "bytes_out", "drops", "malformed", "busy_s",
            "queue_latency_ms_p50", "queue_latency_ms_p99"]
    heads = ["stage", "chunks in", "out", "items in", "out", "bytes out", "drops", "malformed", "busy s",
             "lat p50 ms", "p99 ms"]
    rows = [heads]
    for name, m in metrics.items():
        row = [name]
        for c in cols:
            v = m.get(c)
            row.append("-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(heads))]
    return "\n".join("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths)))
                     for r in rows)
