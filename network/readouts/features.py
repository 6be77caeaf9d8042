"""Spike features as scikit-learn transformers.

X format (every readout here): a sequence (list or 1-D object array) with one entry per
sample, each an event array (EVENT_DTYPE or any structured array with fields t and x) of
that sample's output spikes: x = neuron index, t = µs since the sample's start. Use
`samples_from_chunks` to cut a stream of event chunks into such samples at the
`sample_start`/`sample_end` markers. The transformers turn X into a float64 feature matrix
[n_samples, n_features] that any scikit-learn classifier takes, so a readout is a Pipeline
(see `make_readout`) and works with GridSearchCV and cross_val_score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from network.readouts._kernels import trace_bins
from pipeline.chunks import Chunk, EventChunk
from pipeline.errors import ChunkError, ConfigError


def _flatten(X: Any, where: str) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(n_samples, sample index, t, x) of all spikes of X, validated."""
    if isinstance(X, np.ndarray) and X.dtype.names is not None:
        raise ValueError(f"{where}: X must be a sequence of per-sample event arrays, got one event array "
                         "(wrap it in a list for a single sample)")
    if isinstance(X, np.ndarray) and X.dtype != object:
        raise ValueError(f"{where}: X must be a sequence of per-sample event arrays (fields t, x), "
                         f"got a {X.dtype} array of shape {X.shape}")
    samples = list(X)
    ts, xs, idx = [], [], []
    for i, ev in enumerate(samples):
        names = getattr(getattr(ev, "dtype", None), "names", None) or ()
        if "t" not in names or "x" not in names:
            raise ValueError(f"{where}: sample {i} is not an event array with fields t and x "
                             f"(got {type(ev).__name__} {getattr(ev, 'dtype', '')})")
        ts.append(np.asarray(ev["t"], np.int64))
        xs.append(np.asarray(ev["x"], np.int64))
        idx.append(np.full(ev.shape[0], i, np.int64))
    if not samples:
        raise ValueError(f"{where}: X holds no samples")
    return len(samples), np.concatenate(idx), np.concatenate(ts), np.concatenate(xs)


class _SpikeFeatures(TransformerMixin, BaseEstimator):
    """Shared fit/validation: n_neurons given, or learned from the largest x seen in fit."""

    def fit(self, X: Sequence[np.ndarray], y: Any = None) -> _SpikeFeatures:
        self._check_params()
        _, _, _, x = _flatten(X, type(self).__name__)
        seen = int(x.max()) + 1 if x.size else 1
        self.n_neurons_ = int(self.n_neurons) if self.n_neurons is not None else seen
        if self.n_neurons is not None and seen > self.n_neurons_:
            raise ValueError(f"{type(self).__name__}: spike from neuron {seen - 1} but n_neurons={self.n_neurons}")
        self.n_features_out_ = self._n_out()
        return self

    def _check_params(self) -> None:
        if self.n_neurons is not None and int(self.n_neurons) < 1:
            raise ConfigError(f"{type(self).__name__}: n_neurons must be >= 1, got {self.n_neurons}")

    def _prepare(self, X: Sequence[np.ndarray]) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        check_is_fitted(self, "n_neurons_")
        n, idx, t, x = _flatten(X, type(self).__name__)
        if x.size and int(x.max()) >= self.n_neurons_:
            raise ValueError(f"{type(self).__name__}: spike from neuron {int(x.max())} but the readout was "
                             f"fitted for {self.n_neurons_} neurons")
        return n, idx, t, x

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "n_neurons_")
        return np.array([f"{type(self).__name__.lower()}{i}" for i in range(self.n_features_out_)], dtype=object)

    def spec(self) -> dict[str, Any]:
        """JSON description used by saved readouts and the readout stages."""
        check_is_fitted(self, "n_neurons_")
        return {"type": FEATURE_NAMES[type(self)], **self.get_params(), "n_neurons": self.n_neurons_}


class SpikeCounts(_SpikeFeatures):
    """Spike count per neuron over the sample (optionally only t < duration_us)."""

    def __init__(self, n_neurons: int | None = None, duration_us: int | None = None) -> None:
        self.n_neurons = n_neurons
        self.duration_us = duration_us

    def _n_out(self) -> int:
        return self.n_neurons_

    def transform(self, X: Sequence[np.ndarray]) -> np.ndarray:
        n, idx, t, x = self._prepare(X)
        if self.duration_us is not None:
            keep = (t >= 0) & (t < self.duration_us)
            idx, x = idx[keep], x[keep]
        return np.bincount(idx * self.n_neurons_ + x, minlength=n * self.n_neurons_).reshape(n, -1).astype(np.float64)


class FirstSpikeTimes(_SpikeFeatures):
    """Latency code per neuron: 1 - t_first / duration_us (1 = fired at the start, 0 = never
    fired within duration_us), so earlier spikes give larger features."""

    def __init__(self, n_neurons: int | None = None, duration_us: int = 1_000_000) -> None:
        self.n_neurons = n_neurons
        self.duration_us = duration_us

    def _check_params(self) -> None:
        super()._check_params()
        if not self.duration_us > 0:
            raise ConfigError(f"FirstSpikeTimes: duration_us must be > 0, got {self.duration_us}")

    def _n_out(self) -> int:
        return self.n_neurons_

    def transform(self, X: Sequence[np.ndarray]) -> np.ndarray:
        n, idx, t, x = self._prepare(X)
        first = np.full(n * self.n_neurons_, float(self.duration_us))
        keep = (t >= 0) & (t < self.duration_us)
        np.minimum.at(first, idx[keep] * self.n_neurons_ + x[keep], t[keep].astype(np.float64))
        return (1.0 - first / self.duration_us).reshape(n, -1)


class FilteredTraces(_SpikeFeatures):
    """Exponentially filtered spike trains (tau_ms) averaged over n_bins equal time bins of
    [0, duration_us); columns bin-major ([bin0: neurons..., bin1: ...])."""

    def __init__(self, n_neurons: int | None = None, duration_us: int = 1_000_000, tau_ms: float = 20.0,
                 n_bins: int = 10) -> None:
        self.n_neurons = n_neurons
        self.duration_us = duration_us
        self.tau_ms = tau_ms
        self.n_bins = n_bins

    def _check_params(self) -> None:
        super()._check_params()
        if not self.duration_us > 0 or not self.tau_ms > 0 or int(self.n_bins) < 1:
            raise ConfigError(f"FilteredTraces: need duration_us > 0, tau_ms > 0, n_bins >= 1; got "
                              f"{self.duration_us}, {self.tau_ms}, {self.n_bins}")

    def _n_out(self) -> int:
        return self.n_neurons_ * int(self.n_bins)

    def transform(self, X: Sequence[np.ndarray]) -> np.ndarray:
        n, idx, t, x = self._prepare(X)
        out = np.zeros((n, self.n_features_out_))
        trace_bins(idx, t, x, self.n_neurons_, float(self.duration_us), float(self.tau_ms) * 1000.0,
                   int(self.n_bins), out)
        return out


FEATURE_NAMES: dict[type, str] = {SpikeCounts: "counts", FirstSpikeTimes: "first_spike", FilteredTraces: "traces"}
FEATURE_TYPES: dict[str, type[_SpikeFeatures]] = {v: k for k, v in FEATURE_NAMES.items()}


def feature_from_spec(spec: dict[str, Any]) -> _SpikeFeatures:
    """A fitted feature transformer from its JSON spec (see _SpikeFeatures.spec)."""
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind not in FEATURE_TYPES:
        raise ConfigError(f"readout feature type must be one of {sorted(FEATURE_TYPES)}, got {kind!r}")
    if not spec.get("n_neurons"):
        raise ConfigError(f"readout feature {kind!r} needs n_neurons")
    feature = FEATURE_TYPES[kind](**spec)
    feature._check_params()
    feature.n_neurons_ = int(feature.n_neurons)
    feature.n_features_out_ = feature._n_out()
    return feature


def samples_from_chunks(chunks: Sequence[Chunk]) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Cut a stream of event chunks into per-sample event arrays at the sample markers.

    Returns (X, y, sample_ids): event times rebased to the t_start of the sample's
    `sample_start` chunk; y from meta["label"] (-1 when absent). Chunks outside a sample
    (between sample_end and the next sample_start) are ignored.
    """
    X, y, ids = [], [], []
    parts: list[np.ndarray] | None = None
    t0 = 0
    for chunk in chunks:
        if not isinstance(chunk, EventChunk):
            continue
        if chunk.meta.get("sample_start"):
            parts, t0 = [], chunk.t_start
        if parts is None:
            continue
        ev = chunk.events.copy()
        ev["t"] -= t0
        parts.append(ev)
        if chunk.meta.get("sample_end"):
            X.append(np.concatenate(parts))
            y.append(int(chunk.meta.get("label", -1)))
            ids.append(str(chunk.meta.get("sample_id", len(ids))))
            parts = None
    if parts is not None:
        raise ChunkError("samples_from_chunks: the stream ends inside a sample (no sample_end chunk)")
    return X, np.asarray(y, np.int64), ids
