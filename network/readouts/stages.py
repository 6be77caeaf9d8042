"""Readout stages: spikes (x = neuron) in, decisions out as ValueChunks.

`streaming_readout`: every `period_us` it scores the spikes of the last `window_us` with a
readout model and emits one row [p_<class>..., decision, confidence] stamped at the
decision time τ (spikes with τ - window_us <= t < τ count; times in the window are
measured from its start, so a model trained on windows of that length applies). The
decision is the most probable class, or -1 when the confidence (its probability) is
below `threshold`: keyword spotting and control read it at any time.

`sample_readout`: one decision per sample [p_<class>..., decision, confidence, label],
stamped 1 µs before the sample's end, in the output chunk of the input chunk that ends the
sample: samples are delimited by the `sample_start`/`sample_end` markers of the chunk
meta (the data-set replay convention) or, with sample_us > 0, are consecutive windows of
sample_us from the stream's start. Spike times are measured from the sample's start.
Both copy each input chunk's meta to its output chunk, and output one chunk per input
chunk over the same span (possibly without rows), so outputs tile time.

`model` is a path to a saved readout (.npz, ReadoutModel.save) or an inline spec dict
(ReadoutModel.to_spec()), so a pipeline TOML can hold either.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from network.readouts.label_assignment import softmax
from network.readouts.model import ReadoutModel, load_readout
from pipeline.chunks import Chunk, EventChunk, ValueChunk
from pipeline.errors import ChunkError, ConfigError
from pipeline.events import make_events
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Stage


def _example_model() -> dict[str, Any]:
    """A tiny two-class counts model over 4 neurons: class 1 = neurons 2, 3 busier."""
    return {"format": "spikestream-readout", "version": 1, "kind": "linear",
            "feature": {"type": "counts", "n_neurons": 4, "duration_us": None}, "classes": [0, 1],
            "arrays": {"coef": [[1.0, 1.0, -1.0, -1.0], [-1.0, -1.0, 1.0, 1.0]], "intercept": [0.0, 0.0]}}


def _example_input() -> list[Chunk]:
    rng = np.random.default_rng(3)
    chunks = []
    for k in range(4):
        t = np.sort(rng.integers(k * 50_000, (k + 1) * 50_000, 40))
        x = rng.integers(0, 2, 40) + 2 * (k % 2)
        chunks.append(EventChunk(t_start=k * 50_000, t_end=(k + 1) * 50_000, events=make_events(t, x)))
    return chunks


class _Readout(Stage):
    accepts = ("events",)

    def _model(self) -> ReadoutModel:
        if self._loaded is None:
            self._loaded = load_readout(self.model)
        return self._loaded

    def _names(self) -> tuple[str, ...]:
        return tuple(f"p_{c}" for c in self._model().classes) + ("decision", "confidence")

    def _decide(self, samples: list[np.ndarray]) -> np.ndarray:
        """Rows [p..., decision, confidence] for a list of per-window event arrays."""
        model = self._model()
        p = softmax(model.scores(model.features(samples)))
        best = np.argmax(p, axis=1)
        confidence = p[np.arange(p.shape[0]), best]
        decision = np.asarray(model.classes, np.float64)[best]
        decision = np.where(confidence >= self.threshold, decision, -1.0)
        return np.column_stack([p, decision, confidence])

    def _check(self, chunk: Chunk) -> None:
        self.check_input(chunk)
        n = int(self._model().feature["n_neurons"])
        if chunk.events.shape[0] and int(chunk.events["x"].max()) >= n:
            raise ChunkError(f"{type(self).__name__}: spike from neuron {int(chunk.events['x'].max())} but the "
                             f"readout model reads {n} neurons (stream {chunk.stream!r})")


@register_stage("streaming_readout")
class StreamingReadout(_Readout):
    """Sliding-window decisions at any time (see module docstring).

    Parameters: model (path or spec dict); window_us; period_us (decision interval, from
    the stream's start); threshold (minimum confidence, else decision -1);
    reset_at_sample_start (forget spikes before a chunk marked sample_start).
    """

    def __init__(self, model: str | dict = "", window_us: int = 200_000, period_us: int = 10_000,
                 threshold: float = 0.0, reset_at_sample_start: bool = False) -> None:
        self.model = model
        self.window_us = window_us
        self.period_us = period_us
        self.threshold = threshold
        self.reset_at_sample_start = reset_at_sample_start
        self.reset()

    def reset(self) -> None:
        self._loaded: ReadoutModel | None = None
        self._origin: int | None = None
        self._buffer = make_events([], 0)
        self._decisions = 0
        self._histogram: dict[str, int] = {}

    def process(self, chunk: Chunk) -> list[Chunk]:
        self._check(chunk)
        if int(self.window_us) <= 0 or int(self.period_us) <= 0:
            raise ConfigError(f"streaming_readout: window_us and period_us must be > 0, got "
                              f"{self.window_us}, {self.period_us}")
        if self._origin is None:
            self._origin = chunk.t_start
        if self.reset_at_sample_start and chunk.meta.get("sample_start"):
            self._buffer = self._buffer[:0]
        events = np.concatenate([self._buffer, chunk.events]) if self._buffer.shape[0] else chunk.events
        period = int(self.period_us)
        first = -(-(chunk.t_start - self._origin) // period)
        times = self._origin + period * np.arange(first, -(-(chunk.t_end - self._origin) // period), dtype=np.int64)
        times = times[times > self._origin]
        names = self._names()
        if times.shape[0]:
            lo = np.searchsorted(events["t"], times - int(self.window_us), side="left")
            hi = np.searchsorted(events["t"], times, side="left")
            windows = []
            for a, b, tau in zip(lo, hi, times):
                w = events[a:b].copy()
                w["t"] -= tau - int(self.window_us)
                windows.append(w)
            rows = self._decide(windows).astype(np.float32)
            self._decisions += rows.shape[0]
            for d in rows[:, -2]:
                key = str(int(d)) if float(d).is_integer() else str(d)
                self._histogram[key] = self._histogram.get(key, 0) + 1
        else:
            rows = np.zeros((0, len(names)), np.float32)
        keep_from = chunk.t_end - int(self.window_us)
        self._buffer = events[np.searchsorted(events["t"], keep_from, side="left"):].copy()
        return [ValueChunk(t_start=chunk.t_start, t_end=chunk.t_end, values=rows, times=times, names=names,
                           geometry=chunk.geometry, meta=dict(chunk.meta))]

    def result(self) -> dict[str, Any]:
        return {"decisions": self._decisions, "decision_counts": dict(sorted(self._histogram.items()))}

    @classmethod
    def contract_example(cls) -> ContractExample:
        return ContractExample({"model": _example_model(), "window_us": 30_000, "period_us": 7_000,
                                "threshold": 0.6}, _example_input())


@register_stage("sample_readout")
class SampleReadout(_Readout):
    """One decision per sample (see module docstring).

    Parameters: model (path or spec dict); sample_us (0 = samples by meta markers, else
    fixed windows); threshold (minimum confidence, else decision -1).
    """

    def __init__(self, model: str | dict = "", sample_us: int = 0, threshold: float = 0.0) -> None:
        self.model = model
        self.sample_us = sample_us
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self._loaded = None
        self._origin: int | None = None
        self._parts: list[np.ndarray] | None = None
        self._t0 = 0
        self._n = 0
        self._correct = 0
        self._labelled = 0
        self._confusion: dict[str, int] = {}

    def _names(self) -> tuple[str, ...]:
        return super()._names() + ("label",)

    def _close(self, label: int, t_end: int) -> np.ndarray:
        events = np.concatenate(self._parts) if self._parts else make_events([], 0)
        events = events.copy()
        events["t"] -= self._t0
        row = self._decide([events])[0]
        self._parts = None
        self._n += 1
        if label >= 0:
            self._labelled += 1
            self._correct += int(row[-2] == label)
            key = f"{label}->{int(row[-2])}"
            self._confusion[key] = self._confusion.get(key, 0) + 1
        return np.append(row, float(label))

    def process(self, chunk: Chunk) -> list[Chunk]:
        self._check(chunk)
        if self._origin is None:
            self._origin = chunk.t_start
        rows, times = [], []
        label = int(chunk.meta.get("label", -1))
        if int(self.sample_us) > 0:
            size = int(self.sample_us)
            k0 = (chunk.t_start - self._origin) // size
            ev = chunk.events
            for k in range(k0, (chunk.t_end - 1 - self._origin) // size + 1 if chunk.t_end > chunk.t_start else k0):
                a, b = self._origin + k * size, self._origin + (k + 1) * size
                if self._parts is None:
                    self._parts, self._t0 = [], a
                lo, hi = np.searchsorted(ev["t"], [max(a, chunk.t_start), min(b, chunk.t_end)], side="left")
                self._parts.append(ev[lo:hi])
                if b <= chunk.t_end:
                    rows.append(self._close(label, b))
                    times.append(b - 1)
        else:
            if chunk.meta.get("sample_start"):
                self._parts, self._t0 = [], chunk.t_start
            if self._parts is not None:
                self._parts.append(chunk.events)
                if chunk.meta.get("sample_end"):
                    if chunk.t_end <= chunk.t_start:
                        raise ChunkError(f"sample_readout: sample_end chunk of stream {chunk.stream!r} has an empty "
                                         f"span at {chunk.t_start} µs; no stamp for the decision")
                    rows.append(self._close(label, chunk.t_end))
                    times.append(chunk.t_end - 1)
        names = self._names()
        values = np.array(rows, np.float32).reshape(len(rows), len(names))
        return [ValueChunk(t_start=chunk.t_start, t_end=chunk.t_end, values=values, times=np.array(times, np.int64),
                           names=names, geometry=chunk.geometry, meta=dict(chunk.meta))]

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"samples": self._n, "labelled": self._labelled}
        if self._labelled:
            out["accuracy"] = self._correct / self._labelled
            out["confusion"] = dict(sorted(self._confusion.items()))
        return out

    @classmethod
    def contract_example(cls) -> ContractExample:
        return ContractExample({"model": _example_model(), "sample_us": 40_000}, _example_input())
