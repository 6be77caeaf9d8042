"""Quantisation study: a small spoken-digit SNN trained in float, deployed on every chip profile,
its accuracy on each beside the float model's.

Data: FSDD recordings (digits 0..7: Xylo Audio 2 has 8 output neurons) -> the cochlea encoder
(`encoders.cochlea`, live preset, 12 channels) -> a spike raster of `steps` time steps per
recording (time normalised: each recording is stretched to the same number of steps, as the
replay features align their bins on the sample's spike quantiles) plus 4 "phase" inputs, each
firing on every step of one quarter of the sample, so hidden neurons can respond to when in the
word a band is active. 16 inputs in all (Xylo's input limit).

Network: 16 inputs -> `hidden` LIF neurons (fixed random weights, seeded) -> 8 LIF outputs. The
output weights are trained in float: hidden spike counts of the float model -> multinomial
logistic regression (no intercept; weights centred over classes) -> weights scaled so the output
neurons fire in proportion to their class score (the scale picked among OUT_SCALES by the float
SNN's accuracy on the training split). The decision is the output neuron with the most spikes (the readout a chip reports).
Each chip profile then runs the same network after `deploy()` (its weight, state, decay and
threshold formats), on the same test rasters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from network.chips.deploy import deploy
from network.chips.mapping import MappingError
from network.chips.model import SpikingModel
from network.chips.registry import chip_names

CLASSES = 8
CHANNELS = 12
PHASES = 4
OUT_SCALES = (12.0, 16.0, 24.0, 32.0)


@dataclass
class DigitData:
    rasters: np.ndarray   # uint8 [n, steps, 16]
    labels: np.ndarray    # int64 [n]
    speakers: np.ndarray  # str [n]


def default_root() -> Path:
    return Path(__file__).resolve().parents[2].parent / "shared/data/fsdd"


def load_digits(root: str | Path | None = None, per_class: int = 0, steps: int = 64, seed: int = 0) -> DigitData:
    """FSDD digits 0..7 as input rasters (see the module docstring); `per_class` > 0 keeps that
    many recordings per digit (a seeded draw), 0 keeps all."""
    from encoders.cochlea import cochlea_encode
    from sources.datasets.fsdd import FSDD_RATE_HZ, fsdd_listing, load_mono_wav

    refs = [r for r in fsdd_listing(Path(root) if root else default_root(), split="all") if int(r.label) < CLASSES]
    if per_class:
        rng = np.random.default_rng(seed)
        keep = []
        for c in range(CLASSES):
            idx = [i for i, r in enumerate(refs) if int(r.label) == c]
            keep += sorted(rng.choice(idx, size=min(per_class, len(idx)), replace=False).tolist())
        refs = [refs[i] for i in sorted(keep)]
    rasters = np.zeros((len(refs), steps, CHANNELS + PHASES), np.uint8)
    phase_of_step = np.arange(steps) * PHASES // steps
    for i, ref in enumerate(refs):
        audio = load_mono_wav(ref.key, FSDD_RATE_HZ)
        ev = cochlea_encode(audio, FSDD_RATE_HZ, preset="live", channels=CHANNELS, threshold=0.2, agc_floor=0.1)
        span = max(len(audio) * 1_000_000 // FSDD_RATE_HZ, 1)
        k = np.minimum(ev["t"].astype(np.int64) * steps // span, steps - 1)
        np.add.at(rasters[i], (k, ev["x"].astype(np.int64)), 1)
        rasters[i, np.arange(steps), CHANNELS + phase_of_step] = 1
    np.minimum(rasters, 1, out=rasters)  # one spike per input per step (every chip accepts that)
    return DigitData(rasters, np.array([int(r.label) for r in refs]),
                     np.array([str(r.extra.get("speaker", "")) for r in refs]))


def _hidden_weights(hidden: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0, (CHANNELS + PHASES, hidden))
    w[:CHANNELS] *= 0.9
    w[CHANNELS:] = np.where(rng.random((PHASES, hidden)) < 0.5, 1.2, -1.2)  # each neuron likes some quarters
    return w


def _model(w_in: np.ndarray, w_out: np.ndarray, dt_ms: float) -> SpikingModel:
    sizes = [w_in.shape[0], w_in.shape[1], w_out.shape[1]]
    return SpikingModel.from_layers(sizes, [w_in, w_out], tau_m_ms=40.0, tau_syn_ms=10.0, v_th=1.0, dt_ms=dt_ms)


def _counts(d, rasters: np.ndarray, lo: int, hi: int) -> np.ndarray:
    out = np.zeros((len(rasters), hi - lo), np.int64)
    for i, r in enumerate(rasters):
        d.infer(r)
        out[i] = d._last[0][lo:hi]
    return out


@dataclass
class TrainedDigits:
    model: SpikingModel
    train: np.ndarray
    test: np.ndarray


def train(data: DigitData, hidden: int = 60, seed: int = 0, dt_ms: float = 10.0, test_size: float = 0.25) -> TrainedDigits:
    """Fixed random hidden layer, output weights fitted by logistic regression on the float
    model's hidden spike counts (training split only)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(data.labels))
    itr, ite = train_test_split(idx, test_size=test_size, random_state=seed, stratify=data.labels)
    w_in = _hidden_weights(hidden, seed)
    probe = _model(w_in, np.zeros((hidden, CLASSES)), dt_ms)
    d = deploy(probe, None)
    n_in = w_in.shape[0]
    h = _counts(d, data.rasters[itr], n_in, n_in + hidden).astype(np.float64)
    clf = LogisticRegression(C=1.0, max_iter=5000, fit_intercept=False).fit(h, data.labels[itr])
    # the class scores are linear in the hidden counts; centring each hidden neuron's weights over
    # the classes leaves the arg-max unchanged and balances excitation and inhibition; the scale
    # (largest weight in units of the threshold) sets how often the winning output fires
    coef = clf.coef_ - clf.coef_.mean(axis=0, keepdims=True)
    best = None
    for scale in OUT_SCALES:  # picked on the training split: the float SNN's own accuracy
        model = _model(w_in, coef.T / np.abs(coef).max() * scale, dt_ms)
        acc = accuracy(deploy(model, None), data, itr)[0]
        if best is None or acc > best[0]:
            best = (acc, model)
    return TrainedDigits(best[1], itr, ite)


def accuracy(d, data: DigitData, idx: np.ndarray) -> tuple[float, float]:
    """(accuracy, mean output spikes per sample) of a deployed network on samples `idx`."""
    n = d.q.n
    out = _counts(d, data.rasters[idx], n - CLASSES, n)
    pred = np.argmax(out, axis=1)
    return float(np.mean(pred == data.labels[idx])), float(out.sum(axis=1).mean())


def study(data: DigitData, chips: list[str] | None = None, hidden: int = 60, seed: int = 0) -> dict[str, Any]:
    """Float vs every chip profile on the held-out test split."""
    t = train(data, hidden, seed)
    rows = {}
    acc, spk = accuracy(deploy(t.model, None), data, t.test)
    rows["float"] = {"accuracy": acc, "output_spikes": spk}
    for chip in chips or chip_names(spiking_only=True):
        try:
            d = deploy(t.model, chip, seed=seed)
        except MappingError as e:
            rows[chip] = {"accuracy": None, "error": str(e)}
            continue
        acc, spk = accuracy(d, data, t.test)
        rows[chip] = {"accuracy": acc, "output_spikes": spk, "delta_vs_float": acc - rows["float"]["accuracy"]}
    return {"task": "FSDD digits 0-7, cochlea 12 ch + 4 phase inputs", "samples": int(len(data.labels)),
            "train": int(len(t.train)), "test": int(len(t.test)), "hidden": hidden, "steps": int(data.rasters.shape[1]),
            "chance": 1.0 / CLASSES, "results": rows}
