"""Replay outputs: the JSON report, a confusion-matrix PNG and the printed table."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def plot_confusion(confusion: list[list[int]], class_names: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(confusion, dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    k = len(class_names)
    size = max(4.0, 0.45 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), class_names, rotation=90 if k > 12 else 45, ha="right" if k <= 12 else "center")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, label="recall share")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report: dict[str, Any], out: Path) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    png = out / "confusion.png"
    title = f"{report['dataset']} / {report['model']}: accuracy {report['accuracy']:.3f} on {report['n_test']}"
    plot_confusion(report["confusion"], report["classes"], png, title)
    files = {"report": str(out / "report.json"), "confusion_png": str(png)}
    fd, tmp = tempfile.mkstemp(suffix=".json", dir=out)
    with os.fdopen(fd, "w") as f:
        json.dump({**report, "files": files}, f, indent=1)
    os.replace(tmp, out / "report.json")
    return files


def format_table(report: dict[str, Any]) -> str:
    tp = report["throughput"]
    lines = [f"replay {report['dataset']} ({report['root']}), model {report['model']}, "
             f"{report['features']} features per sample",
             f"  train {report['n_train']} samples (train accuracy {report['train_accuracy']:.4f}), "
             f"test {report['n_test']} samples",
             f"  test accuracy      {report['accuracy']:.4f}",
             "  per-class recall   " + "  ".join(f"{k}:{'-' if v is None else f'{v:.2f}'}"
                                               for k, v in report["per_class_recall"].items())]
    if tp["samples"]:
        lines.append(f"  throughput         {tp['samples_per_s']:.1f} samples/s, real-time factor "
                     f"{tp['real_time_factor']:.1f}x ({tp['samples']} samples, {tp['stream_s']:.1f} s of stream "
                     f"in {tp['wall_s']:.1f} s; {_where(report)})")
    if tp["resumed_samples"]:
        lines.append(f"  resumed            {tp['resumed_samples']} samples from finished shards")
    timing = report["timing"]
    lines.append(f"  total {timing['total_s']:.1f} s (readout fit {timing['fit_s']:.2f} s)")
    for name, path in report.get("files", {}).items():
        lines.append(f"  {name:<18} {path}")
    return "\n".join(lines)


def _where(report: dict[str, Any]) -> str:
    if report.get("scheduler"):
        return f"Dask scheduler {report['scheduler']}"
    if report.get("workers"):
        return f"local Dask cluster, {report['workers']} workers"
    if report.get("runner") == "distributed":
        return "from this process, one OS process per stage over ZeroMQ"
    return "in this process"
