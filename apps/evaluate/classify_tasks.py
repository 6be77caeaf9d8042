"""Classification evaluations through the engine: digits (Diehl & Cook), Iris and breast
cancer (population coding -> spiking layer -> readout), spoken digits (FSDD -> cochlea ->
spiking layer -> readout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from apps.evaluate.common import confusion_png, hidden_layer, poisson_samples, population_code, run_samples
from apps.evaluate.diehl_cook import DiehlCookConfig, DiehlCookNetwork
from network.readouts import LabelAssignmentReadout, make_readout


def _progress(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=quiet, leave=False)


def digits_task(args: Any) -> dict[str, Any]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=args.seed, stratify=y)
    if args.quick:
        Xtr, ytr = Xtr[:500], ytr[:500]
    cfg = DiehlCookConfig(n_neurons=args.neurons or 200, epochs=args.epochs or 1, seed=args.seed)
    dc = DiehlCookNetwork(64, cfg)
    with _progress(cfg.epochs * len(Xtr) + len(Xtr) + len(Xte), "digits", args.json) as bar:
        for _ in range(cfg.epochs):
            dc.responses(Xtr, learn=True, progress=bar)
        rtr = dc.responses(Xtr, learn=False, progress=bar)
        rte = dc.responses(Xte, learn=False, progress=bar)
    readout = LabelAssignmentReadout().fit(rtr, ytr)
    pred = readout.predict(rte)
    acc = float(np.mean(pred == yte))
    png = confusion_png(Path(args.out) / "digits_confusion.png", yte, pred, list(range(10)),
                        f"digits, Diehl & Cook {cfg.n_neurons} neurons: {acc:.3f}")
    return {"task": "digits", "test_accuracy": acc, "train_samples": len(Xtr), "test_samples": len(Xte),
            "neurons": cfg.n_neurons, "epochs": cfg.epochs, "mean_test_spikes": float(rte.sum(1).mean()),
            "target": 0.85, "meets_target": acc >= 0.85, "png": png}


def _tabular(name: str, X: np.ndarray, y: np.ndarray, args: Any) -> dict[str, Any]:
    """Population coding (12 Gaussian fields per feature) -> Poisson spikes (200 ms) -> fixed
    random LIF layer in the engine -> spike-count readout (logistic regression)."""
    codes = population_code(X)
    duration, dt = 200_000, 500
    spikes = poisson_samples(codes, 100.0, duration, dt, args.seed)
    net = hidden_layer(codes.shape[1], args.neurons or 200, p=0.2, weight=0.6, weight_std=0.4, dt_us=dt,
                       seed=args.seed)
    with _progress(len(spikes), name, args.json) as bar:
        hidden = run_samples(net, spikes, duration, progress=bar)
    idx = np.arange(len(y))
    itr, ite = train_test_split(idx, test_size=0.3, random_state=args.seed, stratify=y)
    readout = make_readout("counts", n_neurons=net.populations["hidden"].n)
    readout.fit([hidden[i] for i in itr], y[itr])
    pred = readout.predict([hidden[i] for i in ite])
    acc = float(np.mean(pred == y[ite]))
    labels = sorted(set(y.tolist()))
    png = confusion_png(Path(args.out) / f"{name}_confusion.png", y[ite], pred, labels, f"{name}: {acc:.3f}")
    return {"task": name, "test_accuracy": acc, "train_samples": len(itr), "test_samples": len(ite),
            "hidden_neurons": net.populations["hidden"].n,
            "mean_hidden_spikes": float(np.mean([h.shape[0] for h in hidden])), "target": 0.90,
            "meets_target": acc >= 0.90, "png": png}


def iris_task(args: Any) -> dict[str, Any]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return _tabular("iris", X, y, args)


def breast_cancer_task(args: Any) -> dict[str, Any]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return _tabular("breast-cancer", X, y, args)


def spoken_digits_task(args: Any) -> dict[str, Any]:
    """FSDD recordings -> cochlea (64 channels) -> fixed recurrent LIF layer (engine) ->
    filtered-trace readout; random split (stratified 80/20) and held-out speaker."""
    from encoders.cochlea import cochlea_encode
    from sources.datasets.fsdd import FSDD_RATE_HZ, fsdd_listing, load_mono_wav

    root = Path(args.data) if args.data else Path(__file__).resolve().parents[2].parent / "shared/data/fsdd"
    refs = fsdd_listing(root, split="all")
    if args.quick:
        refs = refs[::5]
    duration, dt, channels = 800_000, 1000, 64
    inputs, labels, speakers = [], [], []
    with _progress(len(refs), "cochlea", args.json) as bar:
        for ref in refs:
            audio = load_mono_wav(ref.key, FSDD_RATE_HZ)[: FSDD_RATE_HZ * duration // 1_000_000]
            ev = cochlea_encode(audio, FSDD_RATE_HZ, channels=channels)
            inputs.append(ev[ev["t"] < duration])
            labels.append(int(ref.label))
            speakers.append(str(ref.extra.get("speaker", "")))
            bar.update(1)
    y = np.array(labels)
    spk = np.array(speakers)
    net = hidden_layer(channels, args.neurons or 256, p=0.15, weight=0.4, weight_std=0.2, dt_us=dt, seed=args.seed,
                       recurrent_p=0.05, recurrent_weight=0.1)
    with _progress(len(inputs), "network", args.json) as bar:
        hidden = run_samples(net, inputs, duration, progress=bar)
    n_hidden = net.populations["hidden"].n

    def evaluate(itr, ite, tag):
        readout = make_readout("traces", n_neurons=n_hidden, duration_us=duration, tau_ms=50.0, n_bins=8)
        readout.set_params(classifier__C=0.1)
        readout.fit([hidden[i] for i in itr], y[itr])
        pred = readout.predict([hidden[i] for i in ite])
        return float(np.mean(pred == y[ite])), pred

    idx = np.arange(len(y))
    itr, ite = train_test_split(idx, test_size=0.2, random_state=args.seed, stratify=y)
    acc_random, pred = evaluate(itr, ite, "random")
    png = confusion_png(Path(args.out) / "spoken_digits_confusion.png", y[ite], pred, list(range(10)),
                        f"FSDD random split: {acc_random:.3f}")
    per_speaker = {}
    for s in sorted(set(speakers)):
        acc, _ = evaluate(idx[spk != s], idx[spk == s], s)
        per_speaker[s] = acc
    return {"task": "spoken-digits", "samples": len(y), "random_split_accuracy": acc_random,
            "held_out_speaker_accuracy": per_speaker,
            "held_out_speaker_mean": float(np.mean(list(per_speaker.values()))),
            "hidden_neurons": n_hidden, "target_random_split": 0.90, "meets_target": acc_random >= 0.90, "png": png}
