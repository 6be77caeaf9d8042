"""`spikestream deploy MODEL --chip NAME|all`: deploy a saved network on emulated chips and
report energy per inference (table, --json, --png bar chart)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

HELP = "deploy a saved network on emulated neuromorphic chips and report energy per inference"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="saved network (.npz from Network.save); not needed with --accuracy")
    parser.add_argument("--accuracy", action="store_true",
                        help="quantisation study instead: train the spoken-digit SNN (FSDD digits 0-7) in float and "
                             "report its test accuracy on each chip profile beside the float model's")
    parser.add_argument("--per-class", type=int, default=0,
                        help="with --accuracy: recordings per digit (default 0: all)")
    parser.add_argument("--data", help="with --accuracy: FSDD root (default ../shared/data/fsdd)")
    parser.add_argument("--chip", default="loihi", help="chip profile name, or 'all' (default loihi)")
    parser.add_argument("--steps", type=int, default=100, help="time steps per inference (default 100)")
    parser.add_argument("--input-rate", type=float, default=0.05,
                        help="input spike probability per input neuron and step for the synthetic input (default 0.05)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic input and analog mismatch")
    parser.add_argument("--ann-frames", type=int, default=1, help="frames per inference for the CPU/GPU reference")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", help="save the JSON report to this file")
    parser.add_argument("--png", help="draw a bar chart of energy per inference to this PNG file")


def evaluate(net: Any, chips: list[str], raster: np.ndarray, seed: int = 0, ann_frames: int = 1) -> list[dict]:
    """One row per chip: its energy report, or the mapping error that stops it."""
    from network.chips.deploy import deploy
    from network.chips.mapping import MappingError

    rows = []
    for chip in chips:
        try:
            d = deploy(net, chip, seed=seed)
        except MappingError as exc:
            rows.append({"chip": chip, "fits": False, "error": str(exc)})
            continue
        inf = d.infer(raster)
        rows.append({"fits": True, **d.energy_report(inf.counts, ann_frames=ann_frames),
                     "output_spikes": int(inf.output_counts.sum())})
    return rows


def table(rows: list[dict]) -> str:
    head = f"{'chip':13s} {'J/inference':>12s} {'dynamic':>10s} {'static':>10s} {'latency':>10s} {'inf/s':>9s} " \
           f"{'cores':>6s} {'CPU/chip':>9s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        if not r["fits"]:
            lines.append(f"{r['chip']:13s} does not fit: {r['error']}")
            continue
        cpu = r["reference"]["cpu"]["ratio_to_chip"]
        lines.append(f"{r['chip']:13s} {r['energy_j']:12.3e} {r['dynamic_j']:10.3e} {r['static_j']:10.3e} "
                     f"{r['latency_s']:10.3e} {r['inferences_per_s'] or 0:9.1f} {r['mapping']['cores']:6d} "
                     f"{cpu:9.3g}")
    if rows and rows[0].get("fits"):
        ref = rows[0]["reference"]
        lines.append("reference (equivalent non-spiking network): " + ", ".join(
            f"{k} {v['energy_j']:.3e} J" for k, v in ref.items()))
    return "\n".join(lines)


def bar_chart(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r["fits"]]
    if not ok:
        return
    names = [r["chip"] for r in ok] + list(ok[0]["reference"])
    dyn = [r["dynamic_j"] for r in ok] + [v["energy_j"] for v in ok[0]["reference"].values()]
    sta = [r["static_j"] for r in ok] + [0.0] * len(ok[0]["reference"])
    fig, ax = plt.subplots(figsize=(max(6, len(names) * 0.7), 4))
    x = np.arange(len(names))
    ax.bar(x, dyn, label="dynamic")
    ax.bar(x, sta, bottom=dyn, label="static")
    ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylabel("energy per inference (J)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from network.chips.registry import chip_names
    from network.network import Network

    if args.accuracy:
        return run_accuracy(args)
    if not args.model:
        print("deploy: a MODEL is needed (or --accuracy)", file=sys.stderr)
        return 2
    net = Network.load(args.model)
    chips = chip_names(spiking_only=True) if args.chip == "all" else [args.chip]
    n_in = net.populations[net.input].n if net.input else 0
    rng = np.random.default_rng(args.seed)
    raster = rng.random((args.steps, n_in)) < args.input_rate
    rows = evaluate(net, chips, raster, args.seed, args.ann_frames)
    result = {"model": args.model, "steps": args.steps, "input_rate": args.input_rate, "chips": rows}
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1, default=float)
    if args.png:
        bar_chart(rows, args.png)
    if args.json:
        print(json.dumps(result, default=float))
    else:
        print(table(rows))
    return 0 if any(r["fits"] for r in rows) else 2


def accuracy_table(out: dict) -> str:
    lines = [f"{out['task']}: {out['samples']} recordings ({out['train']} train / {out['test']} test), "
             f"{out['hidden']} hidden, {out['steps']} steps; chance {out['chance']:.3f}",
             f"{'chip':13s} {'accuracy':>9s} {'vs float':>9s} {'out spikes':>11s}"]
    for chip, r in out["results"].items():
        if r["accuracy"] is None:
            lines.append(f"{chip:13s} does not fit: {r['error']}")
            continue
        delta = r.get("delta_vs_float")
        lines.append(f"{chip:13s} {r['accuracy']:9.3f} {'' if delta is None else f'{delta:+9.3f}':>9s} "
                     f"{r['output_spikes']:11.1f}")
    return "\n".join(lines)


def run_accuracy(args: argparse.Namespace) -> int:
    from network.chips.accuracy import load_digits, study
    from network.chips.registry import chip_names

    chips = chip_names(spiking_only=True) if args.chip == "all" else [args.chip]
    data = load_digits(args.data, per_class=args.per_class, seed=args.seed)
    out = study(data, chips, seed=args.seed)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1, default=float)
    print(json.dumps(out, default=float) if args.json else accuracy_table(out))
    return 0


if __name__ == "__main__":
    from pipeline.cli import main

    sys.exit(main(["deploy", *sys.argv[1:]]))
