"""`spikestream replay DATASET PATH --model ...`: train on the train split, score the test
split, print accuracy, per-class recall and throughput, write a confusion-matrix PNG and
a JSON report. Shards run here, on a local Dask cluster (--workers N) or on a running
one (--scheduler tcp://HOST:PORT); finished shards are kept in OUT, so a rerun resumes.

    spikestream replay keywords ~/.cache/spikestream --workers 2   # generated default set
    spikestream replay fsdd ../shared/data/fsdd
    spikestream replay speech_commands /data/speech_commands_v0.02 --task 12class
    spikestream replay shd /data/shd        # shd_train.h5(.gz), shd_test.h5(.gz)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "replay a data set (fsdd, speech_commands, keywords, shd, ssc): train, score, report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from apps.replay.model import DATASETS, MODELS, READOUTS, ReplayConfig

    d = ReplayConfig("fsdd", "")
    parser.add_argument("dataset", choices=DATASETS, help="data set layout (keywords: the generated espeak-ng set)")
    parser.add_argument("path", help="data set folder (shd/ssc: folder of {name}_{split}.h5[.gz]; keywords: the "
                                     "cache folder it is generated into if missing)")
    parser.add_argument("--model", choices=MODELS, default=d.model,
                        help="counts: cochlear spike counts per time bin and channel -> linear readout; "
                             "lif: a random LIF layer in between (default %(default)s)")
    parser.add_argument("--channels", type=int, default=d.channels, help="cochlea channels (default %(default)s)")
    parser.add_argument("--threshold", type=float, default=d.threshold, help="cochlea unit threshold")
    parser.add_argument("--bins", type=int, default=d.bins, help="time bins per sample (default %(default)s)")
    parser.add_argument("--groups", type=int, default=d.groups, help="channel groups, 0 = one per channel")
    parser.add_argument("--align", choices=("span", "activity", "quantile"), default=d.align,
                        help="how time bins are placed in a sample (default %(default)s)")
    parser.add_argument("--hidden", type=int, default=d.hidden, help="LIF layer size (--model lif)")
    parser.add_argument("--c", type=float, default=d.c, help="readout inverse regularisation (default %(default)s)")
    parser.add_argument("--readout", choices=READOUTS, default=d.readout,
                        help="logistic: batch logistic regression; online: softmax layer learned one sample at a "
                             "time (delta rule) (default %(default)s)")
    parser.add_argument("--task", choices=("words", "12class"), default=d.task, help="speech commands task")
    parser.add_argument("--split-kind", choices=("standard", "speaker"), default=d.split_kind,
                        help="fsdd split: standard (index 0-4 test) or held-out speaker")
    parser.add_argument("--test-speaker", default=d.test_speaker, help="fsdd held-out speaker")
    parser.add_argument("--limit", type=int, default=0, help="replay a seeded subset of N samples per split")
    parser.add_argument("--shard-size", type=int, default=d.shard_size, help="samples per task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed", type=float, default=0.0, help="pace the replay: 1 = real time, 0 = flat out")
    parser.add_argument("--workers", type=int, default=0, help="start a local Dask cluster of N worker processes")
    parser.add_argument("--scheduler", default="", help="use a running Dask scheduler, tcp://HOST:PORT")
    parser.add_argument("--out", default="", help="output folder (report, PNG, shard cache); default replay-DATASET")
    parser.add_argument("--no-resume", action="store_true", help="recompute every shard")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from apps.replay.model import ReplayConfig
    from apps.replay.replay import replay
    from apps.replay.report import format_table

    cfg = ReplayConfig(args.dataset, str(Path(args.path).expanduser()), model=args.model, channels=args.channels,
                       threshold=args.threshold, bins=args.bins, groups=args.groups, align=args.align,
                       hidden=args.hidden, c=args.c, readout=args.readout, task=args.task, split_kind=args.split_kind,
                       test_speaker=args.test_speaker, limit=args.limit, shard_size=args.shard_size, seed=args.seed)
    out = Path(args.out or f"replay-{args.dataset}")
    report = replay(cfg, workers=args.workers, scheduler=args.scheduler, out_dir=out,
                    progress=not args.quiet and not args.json, speed=args.speed, resume=not args.no_resume)
    if args.json:
        slim = {k: v for k, v in report.items() if k != "test_predictions"}
        print(json.dumps(slim))
    else:
        print(format_table(report), file=sys.stdout)
    return 0
