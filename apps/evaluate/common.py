"""Shared pieces of the evaluations: population coding, a fixed spiking hidden layer run
through the engine, confusion-matrix plots, printing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from network.connectivity import fixed_probability
from network.network import Network
from network.populations import InputPopulation, LIFPopulation
from pipeline.events import make_events


def population_code(X: np.ndarray, neurons: int = 12, beta: float = 1.5) -> np.ndarray:
    """Gaussian receptive fields per feature (Bohte, Kok & La Poutré 2002): values [n, f] ->
    activations in [0, 1], [n, f * neurons]; each feature's range from X itself."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    z = (X - lo) / span
    centres = (np.arange(neurons) - 0.5) / (neurons - 2)
    sigma = 1.0 / (beta * (neurons - 2))
    return np.exp(-((z[:, :, None] - centres) ** 2) / (2 * sigma**2)).reshape(X.shape[0], -1)


def poisson_samples(values: np.ndarray, rate_hz: float, duration_us: int, dt_us: int, seed: int) -> list[np.ndarray]:
    """One Poisson event array per row of values (x = input index, t from 0)."""
    rng = np.random.default_rng(seed)
    steps = duration_us // dt_us
    out = []
    for row in values:
        hits = rng.random((steps, row.shape[0])) < np.clip(row * rate_hz * dt_us * 1e-6, 0, 1)
        k, i = np.nonzero(hits)
        out.append(make_events(k.astype(np.int64) * dt_us, i))
    return out


def hidden_layer(n_inputs: int, n_hidden: int, *, p: float = 0.2, weight: float = 0.5, weight_std: float = 0.25,
                 tau_m_ms: float = 20.0, dt_us: int = 500, seed: int = 0, inhibitory_fraction: float = 0.0,
                 recurrent_p: float = 0.0, recurrent_weight: float = 0.0) -> Network:
    """Input -> fixed random LIF layer (optionally recurrent: a small liquid/reservoir)."""
    net = Network(dt_us=dt_us, seed=seed, learning=False)
    net.add(InputPopulation(n_inputs), input=True)
    net.add(LIFPopulation(n_hidden, name="hidden", tau_m_ms=tau_m_ms, tau_exc_ms=5.0, refractory_ms=2.0),
            output=True)
    proj = fixed_probability("input", "hidden", n_inputs, n_hidden, p=p, weight=weight, weight_std=weight_std,
                             seed=seed)
    if inhibitory_fraction > 0:
        rng = np.random.default_rng(seed + 1)
        flip = rng.random(proj.n_synapses) < inhibitory_fraction
        proj.weights[flip] *= -1.0
    net.connect(proj)
    if recurrent_p > 0:
        net.connect(fixed_probability("hidden", "hidden", n_hidden, n_hidden, p=recurrent_p,
                                      weight=recurrent_weight, weight_std=abs(recurrent_weight) / 2,
                                      seed=seed + 2, allow_self=False))
    return net


def run_samples(net: Network, samples: list[np.ndarray], duration_us: int, rest_us: int = 50_000,
                progress: Any = None) -> list[np.ndarray]:
    """Each sample through the network from rest (state reset between samples); output spikes
    with t from the sample's start."""
    out = []
    for ev in samples:
        net.reset_state()
        ev = ev[ev["t"] < duration_us]
        out.append(net.run(ev, duration_us)[net.outputs[0]])
        if progress is not None:
            progress.update(1)
    return out


def confusion_png(path: str | Path, y_true: np.ndarray, y_pred: np.ndarray, labels: list, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y_true, y_pred, labels=labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.5 * len(labels), 0.8 + 0.5 * len(labels)))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color="black" if v < cm.max() / 2 else "white")
    ax.set_xticks(range(len(labels)), [str(c) for c in labels])
    ax.set_yticks(range(len(labels)), [str(c) for c in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        if isinstance(value, float):
            value = f"{value:.4f}"
        print(f"{key:>28}: {value}")
