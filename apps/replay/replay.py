"""The replay: extract per-sample features of the train and test splits (shards on Dask or
here), fit a linear readout on train, score test, report like a paper's table."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from apps.replay.model import ReplayConfig, build_source, shard_graph, source_table
from apps.replay.shards import ShardResult, dask_client, extract, warm_up
from pipeline.errors import SpikestreamError


def prepare_root(cfg: ReplayConfig, progress: bool = False) -> str:
    """The data set's root folder; the generated keyword set is made in `cfg.path` if missing."""
    if cfg.dataset == "keywords":
        from sources.datasets.synth_keywords import ensure_keywords

        return str(ensure_keywords(cfg.path, progress=progress, **cfg.extra.get("keywords", {})))
    return cfg.path


def plan_split(cfg: ReplayConfig, split: str, root: str) -> tuple[list[list[int]], list[str]]:
    """Shards (lists of positions in the split listing) and the class names."""
    source = build_source(source_table(cfg, split, root))
    n = len(source.refs())
    positions = np.arange(n)
    if cfg.limit and cfg.limit < n:  # a seeded subset, so a short run still sees every class
        positions = np.sort(np.random.default_rng([cfg.seed, 7]).permutation(n)[:cfg.limit])
    if positions.size == 0:
        raise SpikestreamError(f"replay: the {split} split of {cfg.dataset} at {root} has no samples")
    shards = [positions[i:i + cfg.shard_size].tolist() for i in range(0, positions.size, cfg.shard_size)]
    return shards, source.class_names()


def merge(results: list[ShardResult]) -> dict[str, np.ndarray]:
    return {"sample_ids": np.concatenate([r.sample_ids for r in results]),
            "labels": np.concatenate([r.labels for r in results]),
            "features": np.concatenate([r.features for r in results]),
            "span_us": np.concatenate([r.span_us for r in results])}


def fit_readout(features: np.ndarray, labels: np.ndarray, c: float = 1.0, kind: str = "logistic",
                seed: int = 0) -> Any:
    """"logistic": standardise, then multinomial logistic regression (deterministic lbfgs);
    "online": a softmax layer learned one sample at a time (5 seeded passes)."""
    if kind == "online":
        from network.readouts import OnlineSoftmaxReadout

        return OnlineSoftmaxReadout(random_state=seed).fit(features, labels)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
    return model.fit(features, labels)


def scores(labels: np.ndarray, predicted: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    k = len(class_names)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    support = confusion.sum(axis=1)
    recall = {class_names[i]: (round(float(confusion[i, i] / support[i]), 4) if support[i] else None)
              for i in range(k)}
    return {"accuracy": round(float(np.mean(labels == predicted)), 4) if labels.size else None,
            "per_class_recall": recall, "confusion": confusion.tolist()}


def replay(cfg: ReplayConfig, *, workers: int = 0, scheduler: str = "", out_dir: str | Path | None = None,
           progress: bool = False, speed: float = 0.0, resume: bool = True, client: Any = None,
           on_shard_done: Any = None, runner: str = "inprocess") -> dict[str, Any]:
    """Train on the train split, score the test split; returns the JSON report.

    workers 0 (and no scheduler) runs every shard from this process; workers N starts a
    local Dask cluster; scheduler uses a running one; `client` an existing client. Each
    shard's pipeline runs with `runner`: "inprocess", or "distributed" (a process per stage)."""
    cfg.check()
    t_begin = time.perf_counter()
    root = prepare_root(cfg, progress)
    out = Path(out_dir) if out_dir else None
    work = out / "shards" / cfg.digest() if out and resume else None
    plans = {split: plan_split(cfg, split, root) for split in ("train", "test")}
    class_names = plans["train"][1]
    data: dict[str, dict[str, np.ndarray]] = {}
    timing: dict[str, Any] = {}
    fresh_samples, fresh_span_us, resumed = 0, 0, 0

    def run_all(c: Any) -> None:
        nonlocal fresh_samples, fresh_span_us, resumed
        for split, (shards, _) in plans.items():
            graphs = [shard_graph(cfg, split, root, idx, s, speed) for s, idx in enumerate(shards)]
            t0 = time.perf_counter()
            got = extract(graphs, [len(i) for i in shards], split, work, client=c, progress=progress,
                          on_done=on_shard_done, runner=runner)
            timing[f"extract_{split}_s"] = round(time.perf_counter() - t0, 3)
            data[split] = merge(got)
            for r in got:
                if r.resumed:
                    resumed += r.sample_ids.shape[0]
                else:
                    fresh_samples += r.sample_ids.shape[0]
                    fresh_span_us += int(r.span_us.sum())

    t_extract = time.perf_counter()
    if client is not None:
        client.run(warm_up)
        t_extract = time.perf_counter()
        run_all(client)
    elif workers > 0 or scheduler:
        with dask_client(workers, scheduler) as c:
            c.run(warm_up)
            timing["cluster_start_s"] = round(time.perf_counter() - t_extract, 3)
            t_extract = time.perf_counter()
            run_all(c)
    else:
        run_all(None)
    extract_s = time.perf_counter() - t_extract

    train, test = data["train"], data["test"]
    t0 = time.perf_counter()
    readout = fit_readout(train["features"], train["labels"], cfg.c, cfg.readout, cfg.seed)
    timing["fit_s"] = round(time.perf_counter() - t0, 3)
    predicted = readout.predict(test["features"]) if test["labels"].size else np.zeros(0, np.int64)
    result = scores(test["labels"], predicted.astype(np.int64), class_names)
    train_accuracy = float(np.mean(readout.predict(train["features"]) == train["labels"]))
    timing["total_s"] = round(time.perf_counter() - t_begin, 3)
    report: dict[str, Any] = {
        "dataset": cfg.dataset, "path": cfg.path, "root": root, "model": cfg.model, "classes": class_names,
        "n_train": int(train["labels"].size), "n_test": int(test["labels"].size),
        "accuracy": result["accuracy"], "train_accuracy": round(train_accuracy, 4),
        "per_class_recall": result["per_class_recall"], "confusion": result["confusion"],
        "features": int(train["features"].shape[1]),
        "throughput": {"samples": fresh_samples, "resumed_samples": resumed, "wall_s": round(extract_s, 3),
                       "samples_per_s": round(fresh_samples / extract_s, 2) if fresh_samples else None,
                       "stream_s": round(fresh_span_us / 1e6, 3),
                       "real_time_factor": round(fresh_span_us / 1e6 / extract_s, 2) if fresh_samples else None},
        "workers": workers if not scheduler and client is None else None, "runner": runner, "scheduler": scheduler or None,
        "timing": timing, "config": asdict(cfg),
        "test_predictions": {"sample_ids": test["sample_ids"].tolist(), "predicted": predicted.astype(int).tolist()},
    }
    if out is not None:
        from apps.replay.report import write_report

        report["files"] = write_report(report, out)
    return report
