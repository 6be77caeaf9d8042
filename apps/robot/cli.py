"""`spikestream robot cartpole|lane`: spiking closed-loop control.

    spikestream robot cartpole --learn --episodes 500 --save cp.json --plot cp.png
    spikestream robot cartpole --load cp.json --episodes 100          # learning off
    spikestream robot cartpole --load cp.json --loop 10000 --json      # 1 kHz ZeroMQ plant process
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "spiking closed-loop control: CartPole-v1 (R-STDP) or lane keeping"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plant", choices=("cartpole", "lane"))
    parser.add_argument("--learn", action="store_true", help="learn online (R-STDP); default when nothing is loaded")
    parser.add_argument("--episodes", type=int, default=300, help="episodes to run (default %(default)s)")
    parser.add_argument("--save", default="", help="save the controller (JSON + .net.npz)")
    parser.add_argument("--load", default="", help="load a saved controller (learning off unless --learn)")
    parser.add_argument("--plot", default="", help="PNG of reward per episode and the last trajectory")
    parser.add_argument("--loop", type=int, default=0, help="then run N steps against the plant process over ZeroMQ")
    parser.add_argument("--rate", type=int, default=1000, help="control rate of --loop, Hz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="controller parameter of a new controller, e.g. critic_lambda=0 (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.plant == "lane":
        print("spikestream robot lane: not built yet (see issue 11)", file=sys.stderr)
        return 2
    from apps.robot.controller import CartPoleController
    from apps.robot.train import plot, run_episodes

    if args.load:
        ctl = CartPoleController.load(args.load, learning=args.learn)
    else:
        params: dict[str, float] = {}
        for item in args.set:
            key, _, value = item.partition("=")
            try:
                params[key.strip()] = float(value)
            except ValueError:
                print(f"spikestream robot: --set {item!r}: need KEY=NUMBER", file=sys.stderr)
                return 2
        try:
            ctl = CartPoleController(**{"seed": args.seed, **params}, learning=True)
        except TypeError as exc:
            print(f"spikestream robot: --set: {exc}", file=sys.stderr)
            return 2
    report = run_episodes(ctl, args.episodes, seed=args.seed, progress=not (args.quiet or args.json))
    report["learning"] = ctl.learning
    if args.save:
        report["saved"] = str(ctl.save(args.save))
    if args.plot:
        plot(report, args.plot)
    if args.loop:
        from apps.robot.loop import run_loop

        report["loop"] = run_loop(ctl, n_steps=args.loop, rate_hz=args.rate, seed=args.seed)
    slim = {k: v for k, v in report.items() if k not in ("trajectory", "avg100")}
    if args.json:
        print(json.dumps(slim))
    else:
        print(f"episodes {report['episodes']}  mean length {report['mean_length']}  best 100-episode average "
              f"{report['best_avg100']}  episodes to avg >= 195: {report['episodes_to_195']}")
        if "loop" in report:
            lp = report["loop"]
            print(f"loop {lp['steps']} steps at {lp['rate_hz']:.0f} Hz: latency p50 {lp['latency_us']['p50']} µs "
                  f"p99 {lp['latency_us']['p99']} µs, jitter p99 {lp['jitter_us']['p99']} µs, compute p99 "
                  f"{lp['compute_us']['p99']} µs, missed deadlines {lp['missed_deadlines']}, load {lp['load_average']}")
    return 0
