"""`spikestream evaluate TASK`: learning-rule and classification evaluations; each prints its
figures (or one JSON object with --json) and writes its plots / confusion matrix as PNG."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "Evaluate learning rules and readouts (STDP window, triplet, ReSuMe, R-STDP, digits, iris, ...)."

TASKS = {
    "stdp-window": ("apps.evaluate.rule_tasks", "stdp_window_task"),
    "triplet": ("apps.evaluate.rule_tasks", "triplet_task"),
    "resume": ("apps.evaluate.rule_tasks", "resume_task"),
    "rstdp": ("apps.evaluate.rule_tasks", "rstdp_task"),
    "digits": ("apps.evaluate.classify_tasks", "digits_task"),
    "iris": ("apps.evaluate.classify_tasks", "iris_task"),
    "breast-cancer": ("apps.evaluate.classify_tasks", "breast_cancer_task"),
    "spoken-digits": ("apps.evaluate.classify_tasks", "spoken_digits_task"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", choices=sorted(TASKS), help="what to evaluate")
    parser.add_argument("--out", default="evaluate-out", help="folder for PNGs (default: evaluate-out)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smaller run (fewer samples)")
    parser.add_argument("--epochs", type=int, default=0, help="training epochs (0 = the task's default)")
    parser.add_argument("--trials", type=int, default=0, help="R-STDP trials (0 = 400)")
    parser.add_argument("--neurons", type=int, default=0, help="network size (0 = the task's default)")
    parser.add_argument("--data", default="", help="FSDD folder (default: ../shared/data/fsdd)")


def run(args: argparse.Namespace) -> int:
    import importlib

    from apps.evaluate.common import report

    Path(args.out).mkdir(parents=True, exist_ok=True)
    module, name = TASKS[args.task]
    start = time.perf_counter()
    result = getattr(importlib.import_module(module), name)(args)
    result["seconds"] = round(time.perf_counter() - start, 1)
    report(result, args.json)
    return 0
