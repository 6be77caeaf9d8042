"""The streaming keyword spotter: audio chunks in, class probabilities per hop and
detections out. Decisions fall on fixed hops of the stream's clock, so the output does
not depend on how the audio was chunked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from apps.kws._snn_kernel import lif_layer_run, window_features
from apps.kws.model import KwsConfig, KwsModel
from pipeline.chunks import SignalChunk
from pipeline.errors import ChunkError


@dataclass
class Detection:
    word: str
    t_us: int  # stream time of the hop end at which the decision was taken
    confidence: float
    word_end_us: int  # estimated end of the word (last loud hop), stream time

    def to_dict(self) -> dict[str, Any]:
        return {"word": self.word, "t_us": self.t_us, "confidence": round(self.confidence, 4),
                "word_end_us": self.word_end_us}


class SpikingFrontEnd:
    """Cochlea + LIF layer; `process` returns spike counts [hops completed, neurons] and the
    RMS level (dBFS) of each completed hop."""

    def __init__(self, config: KwsConfig, w_in: np.ndarray, threshold: np.ndarray) -> None:
        from encoders.cochlea import Cochlea

        config.check()
        self.config = config
        self.w_in = np.ascontiguousarray(w_in, dtype=np.float64)
        self.threshold = np.ascontiguousarray(threshold, dtype=np.float64)
        self.cochlea = Cochlea(**config.cochlea, sample_rate_hz=config.sample_rate_hz)
        self.decay_syn = float(np.exp(-config.dt_ms / config.tau_syn_ms))
        self.decay_mem = float(np.exp(-config.dt_ms / config.tau_mem_ms))
        self.state = np.zeros((2, self.w_in.shape[1]), np.float64)
        self.t0: int | None = None
        self.steps_done = 0
        self.pending = np.zeros(0, dtype=[("s", "<i8"), ("x", "<u2")])
        self.hop_counts = np.zeros((0, self.w_in.shape[1]), np.float64)
        self.level_sum = 0.0
        self.level_n = 0

    def process(self, chunk: SignalChunk) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        if chunk.kind != "signal":
            raise ChunkError(f"kws: expected signal chunks, got a {chunk.kind} chunk")
        if chunk.geometry.sample_rate_hz != cfg.sample_rate_hz:
            raise ChunkError(f"kws: audio at {chunk.geometry.sample_rate_hz} Hz, the model needs "
                             f"{cfg.sample_rate_hz} Hz")
        if self.t0 is None:
            self.t0 = chunk.t_start
        events = self.cochlea.process(chunk)[0].events
        new = np.empty(events.shape[0], self.pending.dtype)
        new["s"] = (events["t"] - self.t0) // (cfg.dt_ms * 1000)
        new["x"] = events["x"]
        pending = np.concatenate([self.pending, new])
        steps_total = (chunk.t_end - self.t0) // (cfg.dt_ms * 1000)
        n_steps = int(steps_total - self.steps_done)
        hop_steps = cfg.hop_ms // cfg.dt_ms
        phase = self.steps_done % hop_steps
        counts = np.zeros(((phase + n_steps) // hop_steps + 1, self.w_in.shape[1]), np.float64)
        counts[0] = self.hop_counts[0] if self.hop_counts.shape[0] else 0.0
        if n_steps > 0:
            local = pending["s"] - self.steps_done
            take = int(np.searchsorted(local, n_steps))
            lif_layer_run(local[:take], pending["x"][:take].astype(np.int64), n_steps, self.w_in, self.decay_syn,
                          self.decay_mem, self.threshold, self.state, hop_steps, phase, counts)
            pending = pending[take:]
            self.steps_done += n_steps
        self.pending = pending
        done = (phase + max(n_steps, 0)) // hop_steps
        self.hop_counts = counts[done:done + 1]
        levels = self._levels(chunk, done)
        return counts[:done], levels

    def _levels(self, chunk: SignalChunk, done: int) -> np.ndarray:
        """RMS level (dBFS) of each hop completed by this chunk, from the samples inside it."""
        cfg = self.config
        hop_us = cfg.hop_ms * 1000
        x = chunk.samples[:, 0].astype(np.float64)
        t = chunk.t_start + (np.arange(x.shape[0]) * 1_000_000) // cfg.sample_rate_hz
        base = self.steps_done * cfg.dt_ms // cfg.hop_ms - done  # first hop this chunk completes
        idx = np.minimum((t - self.t0) // hop_us - base, done)
        sums = np.bincount(idx, weights=x * x, minlength=done + 1)
        ns = np.bincount(idx, minlength=done + 1).astype(np.float64)
        sums[0] += self.level_sum
        ns[0] += self.level_n
        self.level_sum, self.level_n = float(sums[done]), float(ns[done])
        return 10 * np.log10(sums[:done] / np.maximum(ns[:done], 1) + 1e-12)


class KeywordSpotter:
    """Streaming decisions of a KwsModel over audio chunks (16 kHz mono SignalChunks)."""

    def __init__(self, model: KwsModel) -> None:
        self.model = model
        cfg = model.config
        self.front = SpikingFrontEnd(cfg, model.w_in, model.threshold)
        self.history = np.zeros((cfg.bins * cfg.hops_per_bin - 1, cfg.neurons), np.float64)
        self.hops = 0
        self.armed = True
        self.last_detection_hop = -10**9
        self.last_loud_hop = -1
        self.noise_floor_db = -60.0
        self.probabilities = np.zeros((0, len(model.classes)))
        self.levels_db = np.zeros(0)

    def process(self, chunk: SignalChunk) -> list[Detection]:
        cfg = self.model.config
        counts, levels = self.front.process(chunk)
        self.levels_db = levels
        if counts.shape[0] == 0:
            self.probabilities = np.zeros((0, len(self.model.classes)))
            return []
        rows = np.concatenate([self.history, counts])
        feats = np.empty((counts.shape[0], cfg.bins * cfg.neurons), np.float64)
        window_features(rows, cfg.hops_per_bin, cfg.bins, feats)
        self.history = rows[counts.shape[0]:]
        probs = self.model.probabilities(feats)
        self.probabilities = probs
        detections = []
        hop_us = cfg.hop_ms * 1000
        min_gap = cfg.min_gap_ms // cfg.hop_ms
        for i in range(probs.shape[0]):
            hop = self.hops + i
            level = levels[i]
            # a slowly adapting noise floor; a hop 12 dB above it is speech
            self.noise_floor_db += (0.002 if level > self.noise_floor_db else 0.2) * (level - self.noise_floor_db)
            if level > self.noise_floor_db + 12.0:
                self.last_loud_hop = hop
            k = int(np.argmax(probs[i, 1:])) + 1
            p = float(probs[i, k])
            if not self.armed and float(probs[i, 1:].max()) < cfg.release:
                self.armed = True
            if self.armed and p >= cfg.threshold and hop - self.last_detection_hop >= min_gap:
                t_us = self.front.t0 + (hop + 1) * hop_us
                word_end = self.front.t0 + (self.last_loud_hop + 1) * hop_us if self.last_loud_hop >= 0 else t_us
                detections.append(Detection(self.model.classes[k], int(t_us), p, int(min(word_end, t_us))))
                self.armed = False
                self.last_detection_hop = hop
        self.hops += probs.shape[0]
        return detections
