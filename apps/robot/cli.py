"""`spikestream robot cartpole|lane`: spiking closed-loop control.

    spikestream robot cartpole --learn --episodes 500 --save cp.json --plot cp.png
    spikestream robot cartpole --load cp.json --episodes 100 --seed 10000   # learning off, unseen starts
    spikestream robot cartpole --load cp.json --loop 10000 --json      # 1 kHz ZeroMQ plant process
    spikestream robot lane --learn --episodes 20 --save lane.json --plot lane.png   # train, then test
    spikestream robot lane --load lane.json --episodes 1 --json        # held-out track, learning off
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "spiking closed-loop control: CartPole-v1 (R-STDP) or lane keeping"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plant", choices=("cartpole", "lane"))
    parser.add_argument("--learn", action="store_true", help="learn online (R-STDP); default when nothing is loaded")
    parser.add_argument("--episodes", type=int, default=None,
                        help="episodes to run (default: cartpole 500 learning, the budget, or 100 with a "
                             "loaded controller, 0 before --loop; lane 20 to train, 1 to test)")
    parser.add_argument("--save", default="", help="save the controller (JSON + .net.npz)")
    parser.add_argument("--load", default="", help="load a saved controller (learning off unless --learn)")
    parser.add_argument("--plot", default="", help="PNG of reward per episode and the last trajectory")
    parser.add_argument("--loop", type=int, default=0, help="then run N steps against the plant process over ZeroMQ")
    parser.add_argument("--rate", type=int, default=1000, help="control rate of --loop, Hz (cartpole; lane runs at its controller's window)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="controller parameter of a new controller, e.g. critic_lambda=0 (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--track", default="", help="lane: track to train on (--learn) or to test on")
    parser.add_argument("--laps", type=float, default=3.0, help="lane: laps of a test episode (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    if args.plant == "lane":
        return run_lane(args)
    if args.episodes is None:  # learning: the budget; a loaded controller: a test, none before --loop
        args.episodes = 500 if (args.learn or not args.load) else (0 if args.loop else 100)
    from apps.robot.controller import CartPoleController
    from apps.robot.train import plot, run_episodes
    from pipeline.errors import ConfigError

    try:
        if args.load:
            ctl = CartPoleController.load(args.load, learning=args.learn)
        else:
            params = _set_params(args.set)
            if params is None:
                return 2
            ctl = CartPoleController(**{"seed": args.seed, **params}, learning=True)
    except (ConfigError, TypeError) as exc:
        print(f"spikestream robot cartpole: {exc}", file=sys.stderr)
        return 2
    report: dict = {"episodes": 0}
    if args.episodes > 0:
        report = run_episodes(ctl, args.episodes, seed=args.seed, progress=not (args.quiet or args.json))
    report["learning"] = ctl.learning
    if args.save:
        report["saved"] = str(ctl.save(args.save))
    if args.plot and report["episodes"]:
        plot(report, args.plot)
    if args.loop:
        from apps.robot.loop import STALL_NS, run_loop

        report["loop"] = run_loop(ctl, n_steps=args.loop, rate_hz=args.rate, seed=args.seed)
    slim = {k: v for k, v in report.items() if k not in ("trajectory", "avg100")}
    if args.json:
        print(json.dumps(slim))
    elif report["episodes"]:
        print(f"episodes {report['episodes']} (learning {'on' if ctl.learning else 'off'})  mean length "
              f"{report['mean_length']}  best 100-episode average {report['best_avg100']}  episodes to avg >= 195: "
              f"{report['episodes_to_195']}, >= 475: {report['episodes_to_475']}")
    if "loop" in report and not args.json:
        lp = report["loop"]
        print(f"loop {lp['steps']} steps at {lp['rate_hz']:.0f} Hz: latency p50 {lp['latency_us']['p50']} µs "
              f"p99 {lp['latency_us']['p99']} µs, jitter p99 {lp['jitter_us']['p99']} µs, compute p50 "
              f"{lp['compute_us']['p50']} µs p99 {lp['compute_us']['p99']} µs, missed deadlines "
              f"{lp['missed_deadlines']} ({lp['missed_with_stall']} in steps where the machine stalled a waiting "
              f"process > {STALL_NS // 1000} µs), load {lp['load_average']}")
    return 0


def _set_params(items: list[str]) -> dict[str, float] | None:
    params: dict[str, float] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            print(f"spikestream robot: --set {item!r}: need KEY=NUMBER", file=sys.stderr)
            return None
    return params


def run_lane(args: argparse.Namespace) -> int:
    """Lane keeping (Bing et al. 2018): train on one track and test on another, or test a
    loaded controller with learning off."""
    from apps.robot.lane import TEST_TRACK, TRACKS, TRAIN_TRACK
    from apps.robot.lane_controller import LaneController
    from apps.robot.lane_train import evaluate, plot, run_episodes
    from pipeline.errors import ConfigError

    if args.track and args.track not in TRACKS:
        print(f"spikestream robot lane: unknown track {args.track!r}; known: {sorted(TRACKS)}", file=sys.stderr)
        return 2
    try:
        if args.load:
            ctl = LaneController.load(args.load, learning=args.learn)
        else:
            params = _set_params(args.set)
            if params is None:
                return 2
            for key in ("width", "height", "columns", "rows", "dt_us", "window_steps", "seed"):
                if key in params:
                    params[key] = int(params[key])
            ctl = LaneController(**{"seed": args.seed, **params}, learning=True)
    except (ConfigError, TypeError) as exc:
        print(f"spikestream robot lane: {exc}", file=sys.stderr)
        return 2
    ctl.warm_up()
    train = None
    report: dict = {"plant": "lane", "learning": ctl.learning}
    if ctl.learning:
        episodes = args.episodes if args.episodes is not None else 20
        train = run_episodes(ctl, episodes, track=args.track or TRAIN_TRACK, seed=args.seed,
                             progress=not (args.quiet or args.json))
        report["train"] = {k: v for k, v in train.items() if k != "trajectory"}
        ctl.learning = False
        ctl.start_episode()
        if args.save:
            report["saved"] = str(ctl.save(args.save))
        # test on a track not used in training
        test_track, test_episodes = next(t for t in (TEST_TRACK, *TRACKS) if t != train["track"]), 1
    else:
        test_track, test_episodes = args.track or TEST_TRACK, args.episodes if args.episodes is not None else 1
    test = evaluate(ctl, track=test_track, laps=args.laps, episodes=test_episodes, seed=1000 + args.seed)
    report["test"] = {k: v for k, v in test.items() if k != "trajectory"}
    if args.plot:
        plot(train, test, args.plot)
    if args.loop:  # the same controller against the robot in its own process, in real time
        from apps.robot.loop import run_loop

        ctl.start_episode()
        rate = int(round(1e6 / (ctl.params["window_steps"] * ctl.params["dt_us"])))
        report["loop"] = run_loop(ctl, n_steps=args.loop, rate_hz=rate, seed=1000 + args.seed, plant="lane",
                                  plant_args={"track": test_track, "laps": args.laps, "control_hz": rate})
    if args.json:
        print(json.dumps(report))
        return 0
    if train is not None:
        last = train["per_episode"][-5:]
        print(f"train on {train['track']}: {train['episodes']} episodes, {train['steps']} steps, {train['wall_s']} s; "
              f"last episodes progress (m) {[r['progress_m'] for r in last]}")
    t = report["test"]
    print(f"test on {t['track']} (learning off): laps {t['laps']}, completed {t['completed']}/{t['episodes']}, "
          f"left the lane {t['left_lane']}x, mean |lateral error| {t['mean_abs_error_m'] * 100:.2f} cm, "
          f"max {t['max_abs_error_m'] * 100:.1f} cm, {t['steps']} steps, {t['wall_s']} s")
    if "loop" in report:
        lp = report["loop"]
        print(f"loop {lp['steps']} steps at {lp['rate_hz']:.0f} Hz against the plant process on {test_track}: "
              f"episodes {lp['episodes']}; latency p50 {lp['latency_us']['p50']} µs p99 {lp['latency_us']['p99']} "
              f"µs, compute p99 {lp['compute_us']['p99']} µs, missed deadlines {lp['missed_deadlines']}")
    return 0
