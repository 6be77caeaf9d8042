"""`spikestream run pipeline.toml [--distributed]`"""

from __future__ import annotations

import argparse
import json
import sys

from pipeline.distributed import run_distributed
from pipeline.errors import ConfigError, StageFailed
from pipeline.graph import load_graph
from pipeline.metrics import format_metrics_table
from pipeline.runner import run_inprocess

HELP = "run a pipeline TOML in this process, or with every stage in its own process (--distributed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", help="pipeline TOML file")
    parser.add_argument("--distributed", action="store_true", help="one OS process per stage, linked by ZeroMQ")
    parser.add_argument("--insecure", action="store_true",
                        help="with --distributed: allow plain-text links off loopback (no CURVE keys)")
    parser.add_argument("--set", action="append", default=[], metavar="STAGE.KEY=VALUE",
                        help="override a stage parameter (value parsed as TOML/JSON, else a string)")
    parser.add_argument("--json", action="store_true", help="print the run's results and metrics as one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no metrics table")


def parse_overrides(items: list[str]) -> dict[str, dict]:
    overrides: dict[str, dict] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        stage, dot, param = key.partition(".")
        if not sep or not dot:
            raise ConfigError(f"--set {item!r}: expected STAGE.KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        overrides.setdefault(stage, {})[param] = value
    return overrides


def run(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.set)
    graph = load_graph(args.pipeline, overrides)
    if args.distributed and overrides:
        raise ConfigError("--set is not supported with --distributed: every process re-reads the TOML file")
    try:
        result = run_distributed(graph, args.pipeline, insecure=args.insecure) if args.distributed else run_inprocess(graph)
    except StageFailed as exc:
        print(f"spikestream run: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    for name, stage_result in result.results.items():
        summary = stage_result.get("summary")
        if summary:
            print(f"{name}: {summary}")
    if not args.quiet:
        print(f"\n{result.pipeline} ({result.mode}) finished in {result.wall_s:.2f} s", file=sys.stderr)
        print(format_metrics_table(result.metrics), file=sys.stderr)
    return 0
