"""Replay benchmark, side by side in one run:

1. reading an SHD-format file (made by our converter from FSDD): our reader vs tonic's
   SHD reader on the same file, samples/s and the ratio;
2. replaying FSDD through the pipeline (cochlea -> spike-count features -> readout) in
   this process, on a local Dask cluster of 1 worker and of 2 workers: samples/s,
   real-time factor, the 2-vs-1 speed-up, and whether the accuracies agree.

    python -m benchmarks.replay [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

FSDD = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fsdd"


def bench_reader(n: int) -> dict:
    import numpy as np
    import tonic

    from sources.datasets.convert import convert_to_hsd
    from sources.datasets.fsdd import FSDDReplay
    from sources.datasets.shd import HSDFile

    with tempfile.TemporaryDirectory() as tmp:
        path = convert_to_hsd(FSDDReplay(root=str(FSDD), split="train", limit=n), Path(tmp) / "fsdd_train.h5",
                              cochlea={"preset": "shd", "channels": 700}, compression=None)
        t0 = time.perf_counter()
        with HSDFile(path) as f:
            ours = [f.events(i) for i in range(len(f))]
        ours_s = time.perf_counter() - t0
        reader = object.__new__(tonic.datasets.SHD)
        reader.location_on_system, reader.data_filename = str(path.parent), path.name
        reader.transform = reader.target_transform = None
        t0 = time.perf_counter()
        theirs = [reader[i][0] for i in range(len(reader))]
        tonic_s = time.perf_counter() - t0
        same = all(np.array_equal(a["x"], b["x"]) for a, b in zip(ours, theirs))
        events = sum(e.shape[0] for e in ours)
    return {"samples": n, "events": events, "ours_samples_per_s": round(n / ours_s, 1),
            "tonic_samples_per_s": round(n / tonic_s, 1), "speedup_vs_tonic": round(tonic_s / ours_s, 2),
            "same_channels": bool(same)}


def bench_replay(limit: int, repeats: int) -> dict:
    """Each configuration `repeats` times, interleaved (the machine is shared: other load
    drifts), median throughput; the load average before and after is reported with it."""
    import os
    import statistics

    from apps.replay.model import ReplayConfig
    from apps.replay.replay import replay

    cfg = ReplayConfig("fsdd", str(FSDD), limit=limit)
    configs = (("in-process", 0), ("dask-1", 1), ("dask-2", 2))
    reports: dict[str, list] = {name: [] for name, _ in configs}
    load_before = os.getloadavg()
    for _ in range(repeats):
        for name, workers in configs:
            reports[name].append(replay(cfg, workers=workers, resume=False))
    load_after = os.getloadavg()
    rows = {}
    for name, got in reports.items():
        tp = [r["throughput"] for r in got]
        rows[name] = {"accuracy": got[0]["accuracy"], "samples": tp[0]["samples"],
                      "wall_s": round(statistics.median(t["wall_s"] for t in tp), 3),
                      "samples_per_s": round(statistics.median(t["samples_per_s"] for t in tp), 1),
                      "samples_per_s_all": [t["samples_per_s"] for t in tp],
                      "real_time_factor": round(statistics.median(t["real_time_factor"] for t in tp), 1)}
    predictions = [r["test_predictions"]["predicted"] for got in reports.values() for r in got]
    same = all(p == predictions[0] for p in predictions)
    return {"runs": rows, "repeats": repeats, "identical_predictions": same,
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in load_after], "cpus": os.cpu_count(),
            "speedup_2_vs_1_workers": round(rows["dask-2"]["samples_per_s"] / rows["dask-1"]["samples_per_s"], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (200 files read, 600 replayed)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each replay configuration (median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = {"reader": bench_reader(200 if args.quick else 1000),
              "replay": bench_replay(600 if args.quick else 0, max(1, args.repeats))}
    if args.json:
        print(json.dumps(result))
        return 0
    r = result["reader"]
    print(f"SHD-format read ({r['samples']} samples, {r['events']} events): ours {r['ours_samples_per_s']} samples/s, "
          f"tonic {r['tonic_samples_per_s']} samples/s, ratio {r['speedup_vs_tonic']}x, "
          f"same channels: {r['same_channels']}")
    rep = result["replay"]
    for name, row in rep["runs"].items():
        print(f"FSDD replay {name:<10} accuracy {row['accuracy']:.4f}  {row['samples_per_s']:7.1f} samples/s  "
              f"real-time factor {row['real_time_factor']:6.1f}x  ({row['samples']} samples in {row['wall_s']:.1f} s)")
    print(f"2 vs 1 Dask workers: {rep['speedup_2_vs_1_workers']}x (median of {rep['repeats']}); identical "
          f"predictions: {rep['identical_predictions']}; load average before {rep['load_average_before']}, after "
          f"{rep['load_average_after']} on {rep['cpus']} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
