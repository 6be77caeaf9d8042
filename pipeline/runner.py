"""The in-process runner: every stage in this Python process, chunks passed by reference.

Sources are interleaved one chunk at a time and every chunk is pushed depth-first
through its consumers, so memory stays bounded by one chunk per link.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pipeline.chunks import Chunk
from pipeline.driver import SourceDriver, StageDriver
from pipeline.graph import Graph
from pipeline.stage import Sink, Source


@dataclass
class RunResult:
    """What a run reports: per-stage results (sinks, readouts) and metrics."""

    pipeline: str
    mode: str
    wall_s: float
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "mode": self.mode, "wall_s": round(self.wall_s, 4),
                "results": self.results, "metrics": self.metrics}


def run_inprocess(graph: Graph) -> RunResult:
    """Run the whole graph in this process and return its results."""
    t_begin = time.perf_counter()
    stages = {name: graph.nodes[name].build() for name in graph.order}
    sources = {name: SourceDriver(name, stages[name], float(graph.nodes[name].options.get("speed", 0.0)))
               for name in graph.sources}
    drivers = {name: StageDriver(name, stages[name], graph.nodes[name].inputs)
               for name in graph.order if name not in sources}
    consumers = {name: graph.consumers(name) for name in graph.order}

    def deliver(producer: str, chunk: Chunk) -> None:
        for consumer in consumers[producer]:
            for out in drivers[consumer].feed(producer, chunk):
                deliver(consumer, out)

    try:
        iterators = {name: driver.chunks() for name, driver in sources.items()}
        while iterators:
            for name in list(iterators):
                chunk = next(iterators[name], None)
                if chunk is None:
                    del iterators[name]
                else:
                    deliver(name, chunk)
    finally:
        for stage in stages.values():
            if isinstance(stage, Sink):
                stage.close()
    result = RunResult(pipeline=graph.name, mode="in-process", wall_s=time.perf_counter() - t_begin)
    for name in graph.order:
        stage_result = stages[name].result()
        if stage_result:
            result.results[name] = stage_result
        driver = sources.get(name) or drivers[name]
        result.metrics[name] = driver.metrics.to_dict()
    return result


__all__ = ["RunResult", "run_inprocess", "Source"]
