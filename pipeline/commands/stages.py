"""`spikestream stages`: list the registered stage types and their parameters."""

from __future__ import annotations

import argparse
import inspect
import json

from pipeline.registry import registered_stages

HELP = "list the stage types a pipeline TOML can use, with their parameters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    table = {}
    for name, cls in registered_stages().items():
        params = {p.name: (None if p.default is p.empty else p.default)
                  for p in list(inspect.signature(cls.__init__).parameters.values())[1:]}
        doc = (cls.__doc__ or "").strip().splitlines()
        table[name] = {"class": f"{cls.__module__}.{cls.__qualname__}", "doc": doc[0] if doc else "", "params": params}
    if args.json:
        print(json.dumps(table, default=str))
    else:
        for name, info in table.items():
            params = ", ".join(f"{k}={v!r}" for k, v in info["params"].items())
            print(f"{name:22s} {info['doc']}\n{'':22s} {params}")
    return 0
