"""The streaming keyword spotter: audio chunks in, detections out.

The spiking front end turns audio into LIF spike counts and a level per hop; the
endpointer finds words (loud stretches above a tracked noise floor); when a word has
ended, the readout classifies its spikes. Everything falls on fixed hops of the stream's
clock, so the output does not depend on how the audio was chunked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from apps.kws._snn_kernel import endpoint_run, lif_layer_run, word_features
from apps.kws.model import KwsConfig, KwsModel
from pipeline.chunks import SignalChunk
from pipeline.errors import ChunkError, ConfigError


@dataclass
class Detection:
    word: str
    t_us: int  # stream time of the hop end at which the decision was taken
    confidence: float
    word_end_us: int  # end of the word's last loud hop, stream time
    word_start_us: int = 0  # start of its first loud hop

    def to_dict(self) -> dict[str, Any]:
        return {"word": self.word, "t_us": self.t_us, "confidence": round(self.confidence, 4),
                "word_end_us": self.word_end_us, "word_start_us": self.word_start_us}


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
        # the level meter listens above level_hp_hz: rumble below the voice's range (which
        # the cochlea does not hear either) must not make a stretch of noise sound like speech
        from scipy.signal import butter

        self.level_sos = butter(2, config.level_hp_hz, "highpass", fs=config.sample_rate_hz, output="sos")
        self.level_zi = np.zeros((self.level_sos.shape[0], 2))

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
        from scipy.signal import sosfilt

        cfg = self.config
        hop_us = cfg.hop_ms * 1000
        x, self.level_zi = sosfilt(self.level_sos, chunk.samples[:, 0].astype(np.float64), zi=self.level_zi)
        t = chunk.t_start + (np.arange(x.shape[0]) * 1_000_000) // cfg.sample_rate_hz
        base = self.steps_done * cfg.dt_ms // cfg.hop_ms - done  # first hop this chunk completes
        idx = np.minimum((t - self.t0) // hop_us - base, done)
        sums = np.bincount(idx, weights=x * x, minlength=done + 1)
        ns = np.bincount(idx, minlength=done + 1).astype(np.float64)
        sums[0] += self.level_sum
        ns[0] += self.level_n
        self.level_sum, self.level_n = float(sums[done]), float(ns[done])
        return 10 * np.log10(sums[:done] / np.maximum(ns[:done], 1) + 1e-12)


RATE_REF_HZ = 30.0  # features are log1p(rate / 30 Hz): near linear for quiet neurons, compressed for busy ones


class Endpointer:
    """Words in a stream of hop levels: runs of hops louder than the noise floor by
    `speech_db`, with gaps shorter than the hangover bridged; `step` returns the words
    that ended, as rows (first hop, end hop, decision hop)."""

    SILENCE_DB = -100.0  # hops below this are digital silence and leave the noise floor alone

    def __init__(self, config: KwsConfig) -> None:
        cfg = config
        hangover = cfg.hops(cfg.hangover_ms)
        if cfg.hops(cfg.pad_ms) > hangover:
            raise ConfigError(f"kws: pad_ms {cfg.pad_ms} must not exceed hangover_ms {cfg.hangover_ms}: the "
                              f"spikes after a word are read when it is declared over")
        self.params = np.array([cfg.speech_db, hangover, max(cfg.hops(cfg.min_word_ms), 1),
                                cfg.hops(cfg.max_word_ms), 1.0 - np.exp(-cfg.hop_ms / cfg.floor_rise_ms),
                                1.0 - np.exp(-cfg.hop_ms / cfg.floor_fall_ms), self.SILENCE_DB], np.float64)
        self.state = np.zeros(6, np.float64)

    @property
    def noise_floor_db(self) -> float:
        return float(self.state[0])

    def step(self, levels_db: np.ndarray, first_hop: int) -> np.ndarray:
        out = np.empty((levels_db.shape[0], 3), np.int64)
        k = endpoint_run(np.ascontiguousarray(levels_db, dtype=np.float64), first_hop, self.params, self.state, out)
        return out[:k]


def word_feature_row(counts: np.ndarray, first_row_hop: int, start: int, end: int, config: KwsConfig) -> np.ndarray:
    """Readout input of the word spanning hops [start, end): log spike rates in `bins` parts
    of its span widened by pad_ms each side, then its log duration (s); counts [hops,
    neurons] holds hops first_row_hop, first_row_hop + 1, ..."""
    pad = config.hops(config.pad_ms)
    lo = max(start - pad - first_row_hop, 0)
    hi = min(end + pad - first_row_hop, counts.shape[0])
    row = np.empty(config.features, np.float64)
    rate_scale = 1000.0 / config.hop_ms / RATE_REF_HZ
    word_features(counts, lo, hi, config.bins, rate_scale, row[:-1])
    row[-1] = np.log((end - start) * config.hop_ms / 1000.0)
    return row


@dataclass
class WordDecision:
    """One word the endpointer found and what the readout made of it (hops of the stream)."""

    start: int
    end: int
    decided: int
    probabilities: np.ndarray


class KeywordSpotter:
    """Streaming decisions of a KwsModel over audio chunks (16 kHz mono SignalChunks)."""

    def __init__(self, model: KwsModel) -> None:
        self.model = model
        cfg = model.config
        self.front = SpikingFrontEnd(cfg, model.w_in, model.threshold)
        self.endpointer = Endpointer(cfg)
        # enough hops to read back the longest word once its hangover has passed
        self.keep = cfg.hops(cfg.max_word_ms) + cfg.hops(cfg.hangover_ms) + 2 * cfg.hops(cfg.pad_ms) + 2
        self.recent = np.zeros((0, cfg.neurons), np.float64)
        self.recent_first = 0  # hop index of recent[0]
        self.hops = 0
        self.keyword_index = model.keyword_index
        self.words: list[WordDecision] = []  # every word decided by the last process() call
        self.levels_db = np.zeros(0)

    def process(self, chunk: SignalChunk) -> list[Detection]:
        cfg = self.model.config
        counts, levels = self.front.process(chunk)
        self.levels_db = levels
        self.words = []
        if counts.shape[0] == 0:
            return []
        self.recent = np.concatenate([self.recent, counts])
        ended = self.endpointer.step(levels, self.hops)
        self.hops += counts.shape[0]
        detections = []
        hop_us = cfg.hop_ms * 1000
        for start, end, decided in ended.tolist():
            row = word_feature_row(self.recent, self.recent_first, start, end, cfg)
            probs = self.model.probabilities(row[None, :])[0]
            self.words.append(WordDecision(start, end, decided, probs))
            k = int(self.keyword_index[np.argmax(probs[self.keyword_index])]) if self.keyword_index.size else 0
            p = float(probs[k]) if k else 0.0
            # the top keyword must also beat every non-keyword class (noise, unknown words)
            if k and p >= cfg.threshold and p >= float(probs.max()):
                t0 = self.front.t0
                detections.append(Detection(self.model.classes[k], int(t0 + (decided + 1) * hop_us), p,
                                            int(t0 + end * hop_us), int(t0 + start * hop_us)))
        drop = self.recent.shape[0] - self.keep
        if drop > 0:
            self.recent = self.recent[drop:]
            self.recent_first += drop
        return detections
