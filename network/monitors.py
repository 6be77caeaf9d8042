"""Spike and state monitors with bounded memory, and raster / voltage plots to PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class SpikeMonitor:
    """Spikes of one population as (step, neuron) pairs; keeps at most the last `max_spikes`
    (older ones are dropped and counted in `dropped`)."""

    def __init__(self, population: str, max_spikes: int = 1_000_000) -> None:
        self.population = population
        self.max_spikes = int(max_spikes)
        self.clear()

    def clear(self) -> None:
        self.steps = np.zeros(0, np.int64)
        self.neurons = np.zeros(0, np.int64)
        self.dropped = 0

    def _append(self, steps: np.ndarray, neurons: np.ndarray) -> None:
        self.steps = np.concatenate([self.steps, steps])
        self.neurons = np.concatenate([self.neurons, neurons])
        extra = self.steps.shape[0] - self.max_spikes
        if extra > 0:
            self.steps, self.neurons = self.steps[extra:], self.neurons[extra:]
            self.dropped += extra

    def times_us(self, dt_us: int, origin_us: int = 0) -> np.ndarray:
        return origin_us + self.steps * int(dt_us)

    def counts(self, n: int) -> np.ndarray:
        return np.bincount(self.neurons, minlength=n)


class StateMonitor:
    """One state variable of chosen neurons, sampled at the start of every `every`-th step
    (before that step's update, as Brian2's StateMonitor); keeps the last `max_rows` rows."""

    def __init__(self, population: str, variable: str, neurons: np.ndarray, every: int = 1,
                 max_rows: int = 100_000) -> None:
        self.population = population
        self.variable = variable
        self.neurons = np.asarray(neurons, np.int64)
        self.every = int(every)
        self.max_rows = int(max_rows)
        self.clear()

    def clear(self) -> None:
        self.steps = np.zeros(0, np.int64)
        self.values = np.zeros((0, self.neurons.shape[0]), np.float64)
        self.dropped = 0

    def _append(self, steps: np.ndarray, values: np.ndarray) -> None:
        self.steps = np.concatenate([self.steps, steps])
        self.values = np.concatenate([self.values, values])
        extra = self.steps.shape[0] - self.max_rows
        if extra > 0:
            self.steps, self.values = self.steps[extra:], self.values[extra:]
            self.dropped += extra


def plot_raster(monitors: list[SpikeMonitor], path: str | Path, dt_us: int, *,
                voltage: StateMonitor | None = None, title: str = "") -> Path:
    """Raster of each spike monitor (stacked), optionally above a voltage trace; PNG to path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(monitors) + (1 if voltage is not None else 0)
    fig, axes = plt.subplots(max(rows, 1), 1, figsize=(8, 2.2 * max(rows, 1)), sharex=True, squeeze=False)
    for ax, mon in zip(axes[:, 0], monitors):
        ax.plot(mon.steps * dt_us / 1000.0, mon.neurons, "|", markersize=3, color="k")
        ax.set_ylabel(f"{mon.population}\nneuron")
    if voltage is not None:
        ax = axes[-1, 0]
        ax.plot(voltage.steps * dt_us / 1000.0, voltage.values, linewidth=0.8)
        ax.set_ylabel(f"{voltage.population}.{voltage.variable}")
    axes[-1, 0].set_xlabel("time (ms)")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
