"""`spikestream bench NAME [args]`: run a benchmark module from benchmarks/ (or `list`, `all`)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import benchmarks

HELP = "run a benchmark against its peer in one run and print ratios (`list` shows them)"


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__)
                  if not m.name.startswith("_") and m.name != "cli")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="benchmark name, `list`, or `all`")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the benchmark (e.g. --quick --json)")


def run(args: argparse.Namespace) -> int:
    names = available()
    if args.name == "list":
        print("\n".join(names))
        return 0
    chosen = names if args.name == "all" else [args.name]
    status = 0
    for name in chosen:
        if name not in names:
            print(f"unknown benchmark {name!r}; available: {', '.join(names)}")
            return 2
        module = importlib.import_module(f"benchmarks.{name}")
        status |= int(module.main(list(args.args)) or 0)
    return status
