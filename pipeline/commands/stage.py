"""`spikestream stage NAME pipeline.toml`: host one stage of a pipeline in this process.

Started by the distributed runner (with --plan), or by hand on another host, where the
input addresses come from the TOML's `address` keys (tcp:// endpoints).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from pipeline.distributed import StagePlan, default_addresses, run_stage_process
from pipeline.errors import ConfigError
from pipeline.graph import load_graph

HELP = "run one stage of a pipeline TOML in this process (for multi-host runs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="stage name in the TOML")
    parser.add_argument("pipeline", help="pipeline TOML file")
    parser.add_argument("--plan", help=argparse.SUPPRESS)  # written by the supervisor
    parser.add_argument("--insecure", action="store_true",
                        help="allow plain-text (no CURVE) links to and from non-loopback addresses")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format=f"[{args.name}] %(levelname)s %(message)s")
    graph = load_graph(args.pipeline)
    if args.name not in graph.nodes:
        raise ConfigError(f"{args.pipeline}: no stage named {args.name!r}; stages: {list(graph.nodes)}")
    if args.plan:
        with open(args.plan) as f:
            plan = json.load(f)
        stage_plan = StagePlan(args.name, plan["addresses"], plan["control"], acks=plan.get("acks"),
                               checkpoints=plan.get("checkpoints"), insecure=bool(plan.get("insecure")))
    else:
        needed = [n for n in [args.name, *graph.consumers(args.name)] if graph.nodes[n].inputs]
        missing = [n for n in needed if "address" not in graph.nodes[n].options]
        if missing:
            raise ConfigError(f"{args.pipeline}: stage(s) {missing} need an 'address' to run stage {args.name!r} alone")
        stage_plan = StagePlan(args.name, default_addresses(graph), insecure=args.insecure)
    return run_stage_process(graph, stage_plan)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="spikestream stage", description=HELP)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
