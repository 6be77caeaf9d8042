"""`spikestream soak [--minutes 10]`: a live distributed pipeline at full speed, watched.

Runs noise source -> rate_encoder -> lif_population -> counting sink, each stage in its own
process, with lossy (live) links, as fast as the stages go, for `--minutes`. From the
stages' heartbeats it reports each process's resident memory over time (growth from the
end of the first minute of warm-up to the end), the sink's throughput per minute (drift:
last minute against the first full one) and every drop counted on the links.

The source and sink are registered here and loaded by the stage processes through the
TOML's `pipeline.plugins`, so they exist only for soak runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.chunks import Chunk, EventChunk, Geometry, SignalChunk, sample_time
from pipeline.distributed import run_distributed
from pipeline.errors import StageFailed
from pipeline.graph import load_graph
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Sink, Source

HELP = "soak test: run a live distributed pipeline at full speed; report memory growth, throughput drift, drops"


@register_stage("soak_noise")
class SoakNoise(Source):
    """Endless seeded noise signal for soak runs: `chunks` chunks, or until `duration_s` of wall time.

    Parameters: channels; sample_rate_hz; chunk_us; chunks (0 = no count limit);
    duration_s (wall-clock limit, 0 = none); seed.
    """

    def __init__(self, channels: int = 16, sample_rate_hz: int = 16_000, chunk_us: int = 10_000,
                 chunks: int = 0, duration_s: float = 0.0, seed: int = 0) -> None:
        self.channels = channels
        self.sample_rate_hz = sample_rate_hz
        self.chunk_us = chunk_us
        self.chunks_limit = chunks
        self.duration_s = duration_s
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "chunks": self.chunks_limit}

    def chunks(self) -> Iterator[Chunk]:
        rng = np.random.default_rng(int(self.seed))
        rate, m = int(self.sample_rate_hz), int(self.channels)
        n = max(1, int(self.chunk_us) * rate // 1_000_000)
        geometry = Geometry(channels=m, sample_rate_hz=rate)
        deadline = time.monotonic() + float(self.duration_s) if self.duration_s else None
        i = 0
        while (not self.chunks_limit or i < self.chunks_limit) and (deadline is None or time.monotonic() < deadline):
            a = i * n
            samples = np.abs(rng.standard_normal((n, m), dtype=np.float32)) * np.float32(0.3)
            yield SignalChunk(t_start=int(sample_time(0, a, rate)), t_end=int(sample_time(0, a + n, rate)),
                              samples=samples, first_sample=a, geometry=geometry)
            i += 1

    @classmethod
    def contract_example(cls) -> ContractExample:
        return ContractExample({"channels": 4, "chunks": 5}, None)


@register_stage("soak_counter")
class SoakCounter(Sink):
    """Counts event chunks and events, keeps nothing (so its memory cannot grow with the run)."""

    accepts = ("events",)

    def reset(self) -> None:
        self._chunks = 0
        self._events = 0

    def process(self, chunk: Chunk) -> list[Chunk]:
        self.check_input(chunk)
        if not hasattr(self, "_chunks"):
            self.reset()
        assert isinstance(chunk, EventChunk)
        self._chunks += 1
        self._events += int(chunk.events.shape[0])
        return []

    def result(self) -> dict[str, Any]:
        if not hasattr(self, "_chunks"):
            self.reset()
        return {"chunks": self._chunks, "events": self._events}

    @classmethod
    def contract_example(cls) -> ContractExample:
        from pipeline.events import empty_events
        return ContractExample({}, [EventChunk(t_start=0, t_end=1000, events=empty_events(),
                                               geometry=Geometry(width=4, height=1))])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    parser.add_argument("--channels", type=int, default=16, help="signal channels = encoder outputs (default 16)")
    parser.add_argument("--neurons", type=int, default=64, help="LIF neurons (default 64)")
    parser.add_argument("--lossless", action="store_true", help="PUSH/PULL backpressure instead of lossy live links")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def pipeline_toml(directory: Path, minutes: float, channels: int, neurons: int, lossy: bool) -> Path:
    path = directory / "soak.toml"
    path.write_text(f"""
[pipeline]
name = "soak"
plugins = ["pipeline.commands.soak"]

[stages.noise]
type = "soak_noise"
channels = {channels}
duration_s = {minutes * 60.0}

[stages.spikes]
type = "rate_encoder"
input = "noise"
lossy = {str(lossy).lower()}

[stages.lif]
type = "lif_population"
input = "spikes"
n_inputs = {channels}
n_neurons = {neurons}
lossy = {str(lossy).lower()}

[stages.count]
type = "soak_counter"
input = "lif"
lossy = {str(lossy).lower()}
""")
    return path


class _Watch:
    """Samples of every stage's RSS and the sink's input count, from heartbeats."""

    def __init__(self, total_s: float, bar: Any) -> None:
        self.t0 = time.monotonic()
        self.total_s, self.bar = total_s, bar
        self.rss: dict[str, list[tuple[float, int]]] = {}
        self.counts: list[tuple[float, int, int]] = []  # (t, chunks_in, items_in) of the sink
        self.shown = 0.0

    def __call__(self, stage: str, message: dict) -> None:
        t = time.monotonic() - self.t0
        if message.get("rss_bytes"):
            self.rss.setdefault(stage, []).append((t, int(message["rss_bytes"])))
        metrics = message.get("metrics") or {}
        if stage == "count" and "chunks_in" in metrics:
            self.counts.append((t, int(metrics["chunks_in"]), int(metrics.get("items_in", 0))))
        if self.bar is not None and t - self.shown >= 1.0:
            self.bar.n = min(int(t), int(self.total_s))
            if self.counts:
                self.bar.set_postfix_str(f"{self.counts[-1][1] / max(t, 1e-9):.0f} chunks/s")
            self.bar.refresh()
            self.shown = t


def _at(samples: list[tuple[float, int]], t: float) -> int:
    """The last sample value at or before t (the first one if none)."""
    best = samples[0][1]
    for ts, value in samples:
        if ts > t:
            break
        best = value
    return best


def summarise(watch: _Watch, result: Any, minutes: float) -> dict[str, Any]:
    total_s = minutes * 60.0
    warm_s = min(60.0, total_s / 5)  # kernel compiles and allocator warm-up are not growth
    memory = {}
    for stage, samples in watch.rss.items():
        start, end = _at(samples, warm_s), samples[-1][1]
        memory[stage] = {"rss_mb_after_warmup": round(start / 2**20, 1), "rss_mb_end": round(end / 2**20, 1),
                         "growth_mb": round((end - start) / 2**20, 2), "peak_mb": round(max(v for _, v in samples) / 2**20, 1)}
    per_minute = []
    window = 60.0 if total_s >= 180 else total_s / 3
    t = 0.0
    counts = [(0.0, 0, 0), *watch.counts]
    while t + window <= counts[-1][0] + 1e-6:
        a = _at([(ts, c) for ts, c, _ in counts], t)
        b = _at([(ts, c) for ts, c, _ in counts], t + window)
        per_minute.append(round((b - a) / window, 1))
        t += window
    steady = per_minute[1:] if len(per_minute) > 2 else per_minute  # the first window holds warm-up
    drift = (steady[-1] - steady[0]) / steady[0] if steady and steady[0] else None
    metrics = result.metrics
    drops = {stage: int(m.get("drops", 0)) for stage, m in metrics.items() if "drops" in m}
    dropped_out = {stage: int(m["dropped_out"]) for stage, m in metrics.items() if "dropped_out" in m}
    source_chunks = int(metrics.get("noise", {}).get("chunks_out", 0))
    return {
        "minutes": minutes, "wall_s": round(result.wall_s, 1),
        "source_chunks": source_chunks, "sink_chunks": int(metrics.get("count", {}).get("chunks_in", 0)),
        "sink_events": int(metrics.get("count", {}).get("items_in", 0)),
        "throughput_chunks_per_s": per_minute, "window_s": window,
        "throughput_drift": None if drift is None else round(drift, 4),
        "memory": memory, "drops_counted_by_consumers": drops, "dropped_by_producers": dropped_out,
        "malformed": {stage: int(m.get("malformed", 0)) for stage, m in metrics.items()},
    }


def run(args: argparse.Namespace) -> int:
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a nicety
        tqdm = None
    total_s = args.minutes * 60.0
    bar = tqdm(total=int(total_s), unit="s", desc="soak", file=sys.stderr) if tqdm is not None else None
    watch = _Watch(total_s, bar)
    with tempfile.TemporaryDirectory(prefix="spikestream-soak-") as tmp:
        toml = pipeline_toml(Path(tmp), args.minutes, args.channels, args.neurons, not args.lossless)
        try:
            result = run_distributed(load_graph(toml), toml, echo=False, on_heartbeat=watch)
        except StageFailed as exc:
            print(f"spikestream soak: {exc}", file=sys.stderr)
            return 1
        finally:
            if bar is not None:
                bar.close()
    report = summarise(watch, result, args.minutes)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"soak {report['minutes']:g} min (wall {report['wall_s']} s): source {report['source_chunks']} chunks, "
          f"sink {report['sink_chunks']} chunks / {report['sink_events']} events")
    print(f"throughput (chunks/s per {report['window_s']:g} s window): {report['throughput_chunks_per_s']}; "
          f"drift {report['throughput_drift']}")
    for stage, mem in report["memory"].items():
        print(f"  {stage:8s} rss {mem['rss_mb_after_warmup']} -> {mem['rss_mb_end']} MB "
              f"(growth {mem['growth_mb']} MB, peak {mem['peak_mb']} MB)")
    print(f"drops counted by consumers {report['drops_counted_by_consumers']}, "
          f"dropped by producers {report['dropped_by_producers']}")
    return 0
