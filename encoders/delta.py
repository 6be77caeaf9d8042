"""Delta (send-on-delta) and sigma-delta coding: spikes with ON/OFF polarity when a signal
moves by a threshold, for IMU and robot sensors, and DVS-like pixel change on frames.

delta: each channel keeps a reference, initialised to its first sample; when the input
is k thresholds above (below) it, k ON (OFF) events are stamped at that sample and the
reference moves by k thresholds, so reference = first sample + threshold x (ON - OFF)
tracks the input within one threshold. sigma_delta: the input is integrated and a pulse
is sent each time the integral passes a threshold (pulse-density modulation), so
threshold x (ON - OFF) tracks the running sum of the input within one threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from encoders._kernels import delta_counts, sigma_delta_counts
from encoders._signal import (
    SignalEncoder,
    encode_whole,
    events_from_counts,
    frame_values,
    positive_float,
    small_contract_stream,
    stamps_of,
)
from pipeline.chunks import Chunk, EventChunk, FrameChunk, Geometry, SignalChunk
from pipeline.errors import ChunkError, ConfigError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample

MODES = ("delta", "sigma_delta")


def delta_encode(samples: Any, sample_rate_hz: int, *, t0_us: int = 0, **params: Any) -> np.ndarray:
    """Delta-code a whole signal [n] or [n, channels]; params are DeltaEncoder's. x =
    channel, p = +1 (ON) / -1 (OFF)."""
    return encode_whole(DeltaEncoder(**params), samples, sample_rate_hz, t0_us)


def delta_decode(events: np.ndarray, n_samples: int, channels: int, sample_rate_hz: int, *, threshold: float,
                 initial: np.ndarray | float = 0.0, t0_us: int = 0) -> np.ndarray:
    """Reconstruction [n_samples, channels]: initial + threshold x running sum of
    polarities up to each sample (delta mode: within one threshold of the input when
    `initial` is the first sample; sigma_delta mode with initial 0: the running sum)."""
    steps = np.zeros((n_samples, channels), np.float64)
    if events.size:
        k = -((-(events["t"] - t0_us) * sample_rate_hz) // 1_000_000)  # first sample stamped at or after t
        keep = (k >= 0) & (k < n_samples) & (events["x"] < channels)
        np.add.at(steps, (k[keep], events["x"][keep].astype(np.int64)), events["p"][keep].astype(np.float64))
    return np.asarray(initial, np.float64) + threshold * np.cumsum(steps, axis=0)


@register_stage("delta_encoder")
class DeltaEncoder(SignalEncoder):
    """Send-on-delta / sigma-delta coding of signal chunks (x = channel) or of frames
    (x, y = pixel; DVS-like on log intensity ln(1 + pixel) when log_intensity).

    Parameters: mode ("delta", "sigma_delta"); threshold (signal units, or log-intensity
    units for frames); log_intensity (frames only); sample_rate_hz (0 = first chunk's).
    """

    accepts = ("signal", "frames")

    def __init__(self, mode: str = "delta", threshold: float = 0.1, log_intensity: bool = True,
                 sample_rate_hz: int = 0) -> None:
        self.mode = mode
        self.threshold = threshold
        self.log_intensity = log_intensity
        self.sample_rate_hz = sample_rate_hz

    def reset(self) -> None:
        super().reset()
        self._state: np.ndarray | None = None

    def _counts(self, values: np.ndarray) -> np.ndarray:
        if self.mode not in MODES:
            raise ConfigError(f"delta_encoder: mode must be one of {MODES}, got {self.mode!r}")
        threshold = positive_float("delta_encoder: threshold", self.threshold)
        counts = np.zeros(values.shape, np.int32)
        if values.shape[0] == 0:
            return counts
        if self._state is None:
            # delta: reference = first value (no event for it); sigma-delta: empty integrator
            self._state = (values[0].astype(np.float64) if self.mode == "delta"
                           else np.zeros(values.shape[1], np.float64))
        if self.mode == "delta":
            delta_counts(values, self._state, threshold, counts)
        else:
            sigma_delta_counts(values, self._state, threshold, counts)
        return counts

    def process(self, chunk: Chunk) -> list[Chunk]:
        if isinstance(chunk, FrameChunk):
            self.check_input(chunk)
            if not hasattr(self, "_rate"):
                self.reset()
            chunk.validate()
            height, width = chunk.frames.shape[1:3]
            if self._channels >= 0 and height * width != self._channels:
                raise ChunkError(f"delta_encoder: frame chunk {chunk.stream!r} seq {chunk.seq}: frames of "
                                 f"{width}x{height} pixels, but the stream started with {self._channels} pixels")
            self._channels = height * width
            values = frame_values(chunk, "delta_encoder")
            if self.log_intensity:
                values = np.log1p(values * np.float32(255.0))
            events = events_from_counts(self._counts(values), chunk.times, width=width)
            return [EventChunk(t_start=chunk.t_start, t_end=chunk.t_end, events=events,
                               geometry=Geometry(width=width, height=height), meta=dict(chunk.meta))]
        samples = self._check(chunk)
        assert isinstance(chunk, SignalChunk)
        m = samples.shape[1]
        events = events_from_counts(self._counts(samples), stamps_of(chunk))
        return [EventChunk(t_start=chunk.t_start, t_end=chunk.t_end, events=events,
                           geometry=Geometry(width=m, height=1, channels=m), meta=dict(chunk.meta))]

    @classmethod
    def contract_example(cls) -> ContractExample:
        return ContractExample({"mode": "delta", "threshold": 0.2}, small_contract_stream())
