"""The `spikestream` command. Each subcommand lives in its own module exposing
`HELP: str`, `add_arguments(parser)` and `run(args) -> int`; this table is the one place
that names them, and a module is imported only when its command runs."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from pipeline.errors import SpikestreamError

COMMANDS: dict[str, str] = {
    "run": "pipeline.commands.run",
    "stage": "pipeline.commands.stage",
    "stages": "pipeline.commands.stages",
    "tap": "pipeline.commands.tap",
    "demo": "pipeline.commands.demo",
    "bench": "benchmarks.cli",
    "inspect": "sources.inspect_cmd",
    "replay": "apps.replay.cli",
    "kws": "apps.kws.cli",
    "evaluate": "apps.evaluate.cli",
    "deploy": "network.chips.cli",
    "robot": "apps.robot.cli",
    "keys": "pipeline.commands.keys",
    "soak": "pipeline.commands.soak",
}


def _available() -> dict[str, str]:
    found = {}
    for name, module in COMMANDS.items():
        try:
            if importlib.util.find_spec(module) is not None:
                found[name] = module
        except ModuleNotFoundError:
            pass
    return found


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="spikestream", description="Sensors -> spikes -> SNN -> decisions.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    available = _available()
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, module_name in available.items():
        if wanted == name:  # import only the command being run; others show a short help line
            module = importlib.import_module(module_name)
            modules[name] = module
            p = sub.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(p)
        else:
            sub.add_parser(name, help=f"(see spikestream {name} --help)", add_help=False)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser, modules = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(modules[args.command].run(args) or 0)
    except SpikestreamError as exc:
        print(f"spikestream {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spikestream {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
