"""Latency (time-to-first-spike) coding: one spike per channel per window, earlier for
larger values, with a linear or logarithmic map; also rank-order coding (Thorpe and
Gautrais 1998), where only the order of the channels' first spikes carries the value."""

from __future__ import annotations

from typing import Any

import numpy as np

from encoders._signal import WindowEncoder, encode_whole, positive_float, positive_int, small_contract_stream
from encoders._window import window_events, window_offsets
from pipeline.errors import ConfigError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample

MAPPINGS = ("linear", "log", "rank")


def latency_offsets(values: np.ndarray, *, mapping: str = "linear", t_max_us: int = 9_999, tau_us: float = 2_000.0,
                    threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Spike offsets (int64 µs) and firing mask for values [nw, channels] already in [0, 1].

    linear: offset = round((1 - v) * t_max_us), fires when v >= threshold.
    log: offset = round(tau_us * ln(v / (v - threshold))) (an RC neuron charged by v
    reaching `threshold`), fires when v > threshold and the offset is <= t_max_us.
    rank: offset = rank * (t_max_us // (channels - 1)) by descending value (ties: lower
    channel first), fires when v > threshold.
    """
    v = np.clip(values, 0.0, 1.0)
    if mapping == "linear":
        return np.rint((1.0 - v) * t_max_us).astype(np.int64), v >= threshold
    if mapping == "log":
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"latency_encoder: log mapping needs 0 < threshold < 1, got {threshold}")
        fire = v > threshold
        with np.errstate(divide="ignore", invalid="ignore"):
            off = np.where(fire, tau_us * np.log(np.where(fire, v, 1.0) / np.where(fire, v - threshold, 1.0)), 0.0)
        off = np.rint(off).astype(np.int64)
        return off, fire & (off <= t_max_us)
    if mapping == "rank":
        channels = v.shape[1]
        order = np.argsort(-v, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(channels)[None, :].repeat(v.shape[0], 0), axis=1)
        step = t_max_us // max(channels - 1, 1)
        return rank.astype(np.int64) * step, v > threshold
    raise ConfigError(f"latency_encoder: mapping must be one of {MAPPINGS}, got {mapping!r}")


def latency_encode(samples: Any, sample_rate_hz: int, *, t0_us: int = 0, **params: Any) -> np.ndarray:
    """Latency-code a whole signal [n] or [n, channels] (window means) into events;
    params are LatencyEncoder's."""
    return encode_whole(LatencyEncoder(**params), samples, sample_rate_hz, t0_us)


def latency_decode(events: np.ndarray, channels: int, n_windows: int, *, window_us: int = 10_000, t0_us: int = 0,
                   mapping: str = "linear", t_max_us: int | None = None, tau_us: float = 2_000.0,
                   threshold: float = 0.0, gain: float = 1.0) -> np.ndarray:
    """Values [n_windows, channels] from first-spike times (NaN where a channel did not
    fire); for "rank", the rank of each channel (0 = first) instead of a value."""
    t_max = window_us - 1 if t_max_us is None else t_max_us
    off = window_offsets(events, window_us, t0_us, n_windows, channels)
    if mapping == "linear":
        return (1.0 - off / t_max) / gain
    if mapping == "log":
        return threshold / (1.0 - np.exp(-off / tau_us)) / gain
    if mapping == "rank":
        return off / (t_max // max(channels - 1, 1))
    raise ConfigError(f"latency_decode: mapping must be one of {MAPPINGS}, got {mapping!r}")


@register_stage("latency_encoder")
class LatencyEncoder(WindowEncoder):
    """Time-to-first-spike coding of signal chunks per window; x = channel.

    Parameters: window_us (window length; windows start at the stream's first stamp and
    restart after a `sample_end` chunk); mapping ("linear", "log", "rank"); gain (window
    mean x gain, clipped to [0, 1], is the coded value); t_max_us (latest offset, default
    window_us - 1); tau_us (log mapping time constant); threshold (no spike below it;
    required in (0, 1) for "log"); sample_rate_hz (0 = first chunk's rate).
    """

    def __init__(self, window_us: int = 10_000, mapping: str = "linear", gain: float = 1.0,
                 t_max_us: int | None = None, tau_us: float = 2_000.0, threshold: float = 0.0,
                 sample_rate_hz: int = 0) -> None:
        self.window_us = window_us
        self.mapping = mapping
        self.gain = gain
        self.t_max_us = t_max_us
        self.tau_us = tau_us
        self.threshold = threshold
        self.sample_rate_hz = sample_rate_hz

    def _validate_params(self) -> None:
        positive_int("latency_encoder: window_us", self.window_us)
        if self.t_max_us is not None:
            positive_int("latency_encoder: t_max_us", self.t_max_us, minimum=0)
        positive_float("latency_encoder: tau_us", self.tau_us)
        if self.mapping not in MAPPINGS:
            raise ConfigError(f"latency_encoder: mapping must be one of {MAPPINGS}, got {self.mapping!r}")
        if self.mapping == "log" and not 0.0 < float(self.threshold) < 1.0:
            raise ConfigError(f"latency_encoder: log mapping needs 0 < threshold < 1, got {self.threshold}")

    def _encode(self, values, starts, ends, counts):
        t_max = self.window_us - 1 if self.t_max_us is None else int(self.t_max_us)
        off, fire = latency_offsets(values * float(self.gain), mapping=self.mapping, t_max_us=t_max,
                                    tau_us=float(self.tau_us), threshold=float(self.threshold))
        return window_events(starts, ends, off, fire & (counts[:, None] > 0))

    @classmethod
    def contract_example(cls) -> ContractExample:
        return ContractExample({"window_us": 20_000, "mapping": "linear"}, small_contract_stream())
