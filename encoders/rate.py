"""Rate coding: Bernoulli, Poisson or deterministic (integrate-and-fire) spike trains whose
rate follows the input value, for signals (x = channel) and frames (x, y = pixel)."""

from __future__ import annotations

from typing import Any

import numpy as np

from encoders._kernels import rate_counts
from encoders._signal import (
    SignalEncoder,
    as_signal,
    events_from_counts,
    frame_values,
    positive_float,
    stamps_of,
)
from pipeline.chunks import Chunk, EventChunk, FrameChunk, Geometry, SignalChunk, sample_time
from pipeline.errors import ChunkError, ConfigError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample

MODES = {"bernoulli": 0, "poisson": 1, "deterministic": 2}


def _mode(mode: str) -> int:
    if mode not in MODES:
        raise ConfigError(f"rate_encoder: mode must be one of {sorted(MODES)}, got {mode!r}")
    return MODES[mode]


def rate_encode(samples: Any, sample_rate_hz: int, *, mode: str = "bernoulli", gain: float = 1.0,
                max_rate_hz: float = 1000.0, signed: bool = False, seed: int = 0, t0_us: int = 0) -> np.ndarray:
    """Rate-code a whole signal [n] or [n, channels] into events (x = channel).

    A value v fires at rate clip(gain*v, 0, 1) * max_rate_hz (|v| with polarity p = sign
    when `signed`); spikes are stamped at their sample's time. Bernoulli: at most one
    spike per sample; Poisson: a Poisson count per sample (several spikes share the stamp
    when max_rate_hz nears the sample rate); deterministic: integrate-and-fire, regular.
    """
    x = as_signal(samples)
    code = _mode(mode)
    rate = int(sample_rate_hz)
    if rate <= 0:
        raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz!r}")
    p_scale = positive_float("max_rate_hz", max_rate_hz) / rate
    if code == 0 and p_scale > 1.0:
        raise ConfigError(f"rate_encoder: bernoulli mode fires at most once per sample; max_rate_hz "
                          f"{max_rate_hz} exceeds the sample rate {rate} Hz (use mode='poisson')")
    n, m = x.shape
    counts = np.zeros((n, m), np.int32)
    signs = np.ones((n, m), np.int8)
    acc = np.zeros(m, np.float64)
    rate_counts(x, np.arange(n, dtype=np.int64), p_scale, float(gain), bool(signed), code, int(seed), acc,
                counts, signs)
    return events_from_counts(counts, sample_time(int(t0_us), np.arange(n, dtype=np.int64), rate), signs)


def rate_decode(events: np.ndarray, channels: int, duration_us: int, *, gain: float = 1.0,
                max_rate_hz: float = 1000.0) -> np.ndarray:
    """Estimate each channel's value from its spike count over `duration_us`: the inverse
    of the rate map (count / duration / max_rate_hz / gain), float64 [channels]."""
    if duration_us <= 0:
        raise ValueError(f"duration_us must be > 0, got {duration_us}")
    counts = np.bincount(events["x"].astype(np.int64), weights=events["p"].astype(np.float64), minlength=channels)
    return counts[:channels] / (duration_us * 1e-6) / max_rate_hz / gain


@register_stage("rate_encoder")
class RateEncoder(SignalEncoder):
    """Rate coding of signal chunks (x = channel) or frame chunks (x, y = pixel).

    Parameters: mode ("bernoulli", "poisson", "deterministic"); gain (value scale before
    clipping to [0, 1]); max_rate_hz (rate at value 1, signals); signed (code |v| with
    polarity -1 for negative values instead of clipping them to 0); seed; sample_rate_hz
    (required input rate, 0 = that of the first chunk). Frames: pixel/255 scaled by gain
    is the spike probability per frame (max_rate_hz does not apply); random draws are
    keyed by the frame's stamp, so frames need distinct stamps.
    """

    accepts = ("signal", "frames")

    def __init__(self, mode: str = "bernoulli", gain: float = 1.0, max_rate_hz: float = 1000.0,
                 signed: bool = False, seed: int = 0, sample_rate_hz: int = 0) -> None:
        self.mode = mode
        self.gain = gain
        self.max_rate_hz = max_rate_hz
        self.signed = signed
        self.seed = seed
        self.sample_rate_hz = sample_rate_hz

    def reset(self) -> None:
        super().reset()
        self._acc: np.ndarray | None = None

    def state_dict(self) -> dict[str, Any]:
        """Rate, channel count and integrate-and-fire accumulators (for checkpoints)."""
        if not hasattr(self, "_rate"):
            self.reset()
        acc = self._acc if self._acc is not None else np.zeros(0, np.float64)
        return {"rate": int(self._rate), "channels": int(self._channels), "acc": acc.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reset()
        self._rate, self._channels = int(state["rate"]), int(state["channels"])
        acc = np.array(state["acc"], dtype=np.float64)
        self._acc = acc if acc.size else None

    def process(self, chunk: Chunk) -> list[Chunk]:
        if isinstance(chunk, FrameChunk):
            return self._process_frames(chunk)
        samples = self._check(chunk)
        assert isinstance(chunk, SignalChunk)
        code = _mode(self.mode)
        p_scale = positive_float("max_rate_hz", self.max_rate_hz) / self._rate
        if code == 0 and p_scale > 1.0:
            raise ConfigError(f"rate_encoder: bernoulli mode fires at most once per sample; max_rate_hz "
                              f"{self.max_rate_hz} exceeds the sample rate {self._rate} Hz (use mode='poisson')")
        return [self._encode(samples, np.arange(chunk.first_sample, chunk.first_sample + samples.shape[0],
                                                dtype=np.int64), stamps_of(chunk), p_scale, code, chunk, 0)]

    def _process_frames(self, chunk: FrameChunk) -> list[Chunk]:
        self.check_input(chunk)
        if not hasattr(self, "_rate"):
            self.reset()
        chunk.validate()
        where = f"rate_encoder: frame chunk {chunk.stream!r} seq {chunk.seq}"
        height, width = chunk.frames.shape[1:3]
        if self._channels >= 0 and height * width != self._channels:
            raise ChunkError(f"{where}: frames of {width}x{height} pixels, but the stream started with "
                             f"{self._channels} pixels")
        self._channels = height * width
        values = frame_values(chunk, where)
        return [self._encode(values, chunk.times, chunk.times, 1.0, _mode(self.mode), chunk, width,
                             Geometry(width=width, height=height))]

    def _encode(self, values: np.ndarray, index: np.ndarray, times: np.ndarray, p_scale: float, code: int,
                chunk: Chunk, width: int, geometry: Geometry | None = None) -> EventChunk:
        n, m = values.shape
        if self._acc is None or self._acc.shape[0] != m:
            self._acc = np.zeros(m, np.float64)
        counts = np.zeros((n, m), np.int32)
        signs = np.ones((n, m), np.int8)
        rate_counts(values, index, p_scale, float(self.gain), bool(self.signed), code, int(self.seed),
                    self._acc, counts, signs)
        events = events_from_counts(counts, times, signs, width)
        return EventChunk(t_start=chunk.t_start, t_end=chunk.t_end, events=events,
                          geometry=geometry or Geometry(width=m, height=1, channels=m), meta=dict(chunk.meta))

    @classmethod
    def contract_example(cls) -> ContractExample:
        rng = np.random.default_rng(5)
        rate = 8000
        samples = np.abs(rng.normal(0.3, 0.3, size=(4000, 3))).astype(np.float32)
        chunks = [SignalChunk(t_start=int(sample_time(0, a, rate)), t_end=int(sample_time(0, a + 1000, rate)),
                              samples=samples[a:a + 1000], first_sample=a,
                              geometry=Geometry(channels=3, sample_rate_hz=rate)) for a in range(0, 4000, 1000)]
        return ContractExample({"mode": "poisson", "max_rate_hz": 2000.0, "seed": 7}, chunks)
