"""`spikestream demo`: the README's main job, on a generated default (no download, no hardware).

It synthesises a small spoken-keyword set with espeak-ng (deterministic from a seed,
cached), then replays its train and test splits through the pipeline with every stage
in its own OS process linked by ZeroMQ (replay source -> cochlear encoder -> per-sample
spike-count features), fits the readout on train and reports test accuracy, per-class
recall, the confusion matrix (PNG) and throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HELP = "the main job on a generated default: synthesised keywords -> distributed pipeline -> readout"

DEFAULT_CACHE = Path(os.environ.get("SPIKESTREAM_CACHE", Path.home() / ".cache" / "spikestream")) / "datasets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speakers", type=int, default=40,
                        help="synthetic speakers (espeak-ng voices; test speakers never heard in training)")
    parser.add_argument("--repeats", type=int, default=2, help="utterances per word and speaker")
    parser.add_argument("--test-percent", type=float, default=20.0, help="share of speakers held out for test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where the generated set is kept")
    parser.add_argument("--out", default="out/demo", help="report.json and confusion.png go here")
    parser.add_argument("--shard-size", type=int, default=200, help="samples per distributed pipeline run")
    parser.add_argument("--inprocess", action="store_true", help="run each pipeline in this process instead")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from apps.replay.model import ReplayConfig
    from apps.replay.replay import prepare_root, replay
    from apps.replay.report import format_table
    from sources.datasets.speech_commands import KEYWORDS

    quiet = args.json
    t0 = time.perf_counter()
    keywords = {"words": list(KEYWORDS), "speakers": args.speakers, "repeats": args.repeats, "seed": args.seed,
                "testing_percentage": args.test_percent}
    cfg = ReplayConfig("keywords", str(Path(args.cache).expanduser()), shard_size=args.shard_size,
                       seed=args.seed, extra={"keywords": keywords})
    runner = "inprocess" if args.inprocess else "distributed"
    _say(f"demo: 1/3 keyword set: {len(KEYWORDS)} words x {args.speakers} espeak-ng speakers x {args.repeats} "
         f"(generated once into {cfg.path})", quiet)
    prepare_root(cfg, progress=not quiet)
    _say(f"demo: 2/3 replaying train and test through {runner} pipelines "
         "(replay source -> cochlea -> spike-count features; one process per stage over ZeroMQ)", quiet)
    report = replay(cfg, out_dir=Path(args.out), progress=not quiet, resume=False, runner=runner)
    _say("demo: 3/3 readout fitted on train, scored on test", quiet)
    report["demo_wall_s"] = round(time.perf_counter() - t0, 2)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "test_predictions"}))
        return 0
    print(format_table(report))
    print(f"\ndemo finished in {report['demo_wall_s']:.1f} s; report and confusion matrix in {args.out}/")
    return 0
