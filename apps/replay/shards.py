"""Feature extraction over a whole split as shards of samples, run in this process or as
tasks on Dask distributed (a local cluster or a real one by scheduler address).

Each task runs the ordinary in-process pipeline runner on the shard's graph and returns
plain arrays. Finished shards are written to `work_dir` as .npz (atomically, loaded with
allow_pickle=False), so an interrupted replay resumes where it stopped. Dask reruns the
tasks of a worker that dies; results are gathered per shard and keyed by shard number,
so every sample's result is taken exactly once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import SpikestreamError


@dataclass
class ShardResult:
    shard: int
    sample_ids: np.ndarray  # unicode [n]
    labels: np.ndarray  # int64 [n]
    features: np.ndarray  # float32 [n, k]
    span_us: np.ndarray  # int64 [n]
    wall_s: float  # time the shard's pipeline took where it ran
    resumed: bool = False


def run_shard(graph_dict: dict[str, Any], runner: str = "inprocess") -> dict[str, Any]:
    """Run one shard's pipeline (a Dask task); plain arrays out.

    runner "inprocess" calls the stages directly; "distributed" runs every stage in its
    own OS process linked by ZeroMQ (the graph is written as a TOML file each stage reads)."""
    from pipeline.graph import graph_from_dict
    from pipeline.runner import run_inprocess

    t0 = time.perf_counter()
    name = graph_dict["pipeline"]["name"]
    if runner == "distributed":
        import tomli_w

        from pipeline.distributed import run_distributed
        from pipeline.graph import load_graph

        with tempfile.TemporaryDirectory(prefix="spikestream-shard-") as tmp:
            path = Path(tmp) / f"{name}.toml"
            path.write_text(tomli_w.dumps(graph_dict))
            result = run_distributed(load_graph(path), path, echo=False)
    elif runner == "inprocess":
        result = run_inprocess(graph_from_dict(graph_dict, source=name))
    else:
        raise SpikestreamError(f"replay: runner must be 'inprocess' or 'distributed', got {runner!r}")
    rows = result.results.get("features", {})
    source = result.results.get("source", {})
    k = len(rows["features"][0]) if rows.get("features") else 0
    return {"sample_ids": np.array(rows.get("sample_ids", []), dtype=str),
            "labels": np.array(rows.get("labels", []), dtype=np.int64),
            "features": np.array(rows.get("features", []), dtype=np.float32).reshape(-1, k),
            "span_us": np.array(rows.get("span_us", []), dtype=np.int64),
            "skipped": int(source.get("skipped", 0)), "skip_reasons": list(source.get("skip_reasons", [])),
            "wall_s": time.perf_counter() - t0}


def warm_up() -> bool:
    """Import the pipeline's modules and load the cochlea's compiled kernels in this
    process (run on every Dask worker before timing, as a long-lived worker would be)."""
    from encoders.cochlea import cochlea_encode
    from pipeline.registry import registered_stages

    registered_stages()
    cochlea_encode(np.zeros(800, np.float32), 8000, channels=16)
    return True


def shard_path(work_dir: Path, split: str, shard: int) -> Path:
    return work_dir / f"{split}-{shard:05d}.npz"


def save_shard(path: Path, out: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
    os.close(fd)
    np.savez(tmp, sample_ids=out["sample_ids"], labels=out["labels"], features=out["features"],
             span_us=out["span_us"], wall_s=np.float64(out["wall_s"]), skipped=np.int64(out["skipped"]))
    os.replace(tmp, path)


def load_shard(path: Path, shard: int, expected: int) -> ShardResult | None:
    """A finished shard file, or None when absent or not whole."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            got = ShardResult(shard, z["sample_ids"], z["labels"], z["features"], z["span_us"], float(z["wall_s"]),
                              resumed=True)
            skipped = int(z["skipped"])
    except (OSError, ValueError, KeyError):
        return None
    return got if got.sample_ids.shape[0] + skipped == expected else None


@contextlib.contextmanager
def dask_client(workers: int = 0, scheduler: str = "") -> Iterator[Any]:
    """A Dask client: on `scheduler` (tcp://HOST:PORT) if given, else on a local cluster
    of `workers` single-threaded worker processes on this machine."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def extract(graphs: list[dict[str, Any]], sizes: list[int], split: str, work_dir: Path | None,
            client: Any = None, progress: bool = False,
            on_done: Callable[[int], None] | None = None, runner: str = "inprocess") -> list[ShardResult]:
    """Run every shard graph (reusing finished shard files in `work_dir`); results in
    shard order. `client` None runs the shards here one after another, each with `runner`
    (see `run_shard`)."""
    results: dict[int, ShardResult] = {}
    todo = []
    for shard, size in enumerate(sizes):
        done = load_shard(shard_path(work_dir, split, shard), shard, size) if work_dir else None
        if done is not None:
            results[shard] = done
        else:
            todo.append(shard)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(sizes), initial=sum(sizes[s] for s in results), desc=f"replay {split}", unit="sample")

    def take(shard: int, out: dict[str, Any]) -> None:
        if shard in results:  # a rerun shard reported twice is taken once
            return
        if work_dir:
            save_shard(shard_path(work_dir, split, shard), out)
        results[shard] = ShardResult(shard, out["sample_ids"], out["labels"], out["features"], out["span_us"],
                                     out["wall_s"])
        if out["skipped"]:
            logging.getLogger("spikestream.replay").warning("shard %d of %s: skipped %d sample(s): %s", shard, split,
                                                            out["skipped"], out["skip_reasons"][:3])
        if bar is not None:
            bar.update(sizes[shard])
        if on_done is not None:
            on_done(shard)

    try:
        if client is None:
            for shard in todo:
                take(shard, run_shard(graphs[shard], runner))
        else:
            from distributed import as_completed

            futures = {client.submit(run_shard, graphs[s], runner, pure=False): s for s in todo}
            for future in as_completed(list(futures)):
                shard = futures[future]
                try:
                    take(shard, future.result())
                except Exception as exc:  # a shard that failed for its own reason, or too many worker deaths
                    for other in futures:
                        other.cancel()
                    if isinstance(exc, SpikestreamError):
                        raise
                    raise SpikestreamError(f"replay {split}: shard {shard} failed: {type(exc).__name__}: {exc}") \
                        from exc
    finally:
        if bar is not None:
            bar.close()
    return [results[s] for s in range(len(sizes))]
