"""Burst coding (Park et al. 2019, "Fast and efficient information transmission with burst
spikes in deep spiking neural networks"): a value v in [0, 1] becomes a burst of
N = ceil(v * max_spikes) spikes with inter-spike interval ISI = ceil(isi_max - (isi_max
- isi_min) * v) µs at the start of each window: stronger inputs, more and denser spikes."""

from __future__ import annotations

from typing import Any

import numpy as np

from encoders._signal import WindowEncoder, encode_whole, positive_int, small_contract_stream
from encoders._window import window_events
from pipeline.errors import ConfigError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample


def burst_encode(samples: Any, sample_rate_hz: int, *, t0_us: int = 0, **params: Any) -> np.ndarray:
    """Burst-code a whole signal [n] or [n, channels] (window means); params are BurstEncoder's."""
    return encode_whole(BurstEncoder(**params), samples, sample_rate_hz, t0_us)


def burst_decode(events: np.ndarray, channels: int, n_windows: int, *, window_us: int = 10_000,
                 max_spikes: int = 5, isi_min_us: int = 200, isi_max_us: int = 2_000, t0_us: int = 0,
                 gain: float = 1.0) -> np.ndarray:
    """Values [n_windows, channels] from each burst: from its ISI when it has >= 2 spikes
    (error < 1 / (isi_max_us - isi_min_us)), else the middle of (0, 1 / max_spikes]
    for a single spike, 0 for none; divided by gain."""
    out = np.zeros((n_windows, channels), np.float64)
    if events.size == 0:
        return out
    rel = events["t"] - t0_us
    w = rel // window_us
    keep = (w >= 0) & (w < n_windows) & (events["x"] < channels)
    flat = w[keep] * channels + events["x"][keep].astype(np.int64)
    t = rel[keep]
    count = np.bincount(flat, minlength=n_windows * channels)
    first = np.full(n_windows * channels, np.iinfo(np.int64).max)
    second = np.full(n_windows * channels, np.iinfo(np.int64).max)
    np.minimum.at(first, flat, t)
    later = t > first[flat]
    np.minimum.at(second, flat[later], t[later])
    isi = np.where(count >= 2, second - first, 0).astype(np.float64)
    v = np.where(count >= 2, (isi_max_us - isi) / (isi_max_us - isi_min_us), np.where(count == 1, 0.5 / max_spikes, 0.0))
    # the count bounds the value to ((N - 1) / max_spikes, N / max_spikes]
    v = np.clip(v, np.maximum(count - 1, 0) / max_spikes, count / max_spikes)
    return v.reshape(n_windows, channels) / gain


@register_stage("burst_encoder")
class BurstEncoder(WindowEncoder):
    """Burst coding of signal chunks; x = channel.

    Parameters: window_us; max_spikes (spikes at value 1); isi_min_us, isi_max_us (ISI at
    value 1 and value 0; (max_spikes - 1) * isi_max_us must fit in the window); gain
    (window mean x gain, clipped to [0, 1], is coded); sample_rate_hz (0 = first chunk's).
    """

    def __init__(self, window_us: int = 10_000, max_spikes: int = 5, isi_min_us: int = 200,
                 isi_max_us: int = 2_000, gain: float = 1.0, sample_rate_hz: int = 0) -> None:
        self.window_us = window_us
        self.max_spikes = max_spikes
        self.isi_min_us = isi_min_us
        self.isi_max_us = isi_max_us
        self.gain = gain
        self.sample_rate_hz = sample_rate_hz

    def _validate_params(self) -> None:
        window = positive_int("burst_encoder: window_us", self.window_us)
        n = positive_int("burst_encoder: max_spikes", self.max_spikes)
        lo = positive_int("burst_encoder: isi_min_us", self.isi_min_us)
        hi = positive_int("burst_encoder: isi_max_us", self.isi_max_us)
        if lo >= hi:
            raise ConfigError(f"burst_encoder: isi_min_us {lo} must be below isi_max_us {hi}")
        if (n - 1) * hi >= window:
            raise ConfigError(f"burst_encoder: a burst of {n} spikes {hi} µs apart does not fit a {window} µs window")

    def _encode(self, values, starts, ends, counts):
        n_max, lo, hi = int(self.max_spikes), int(self.isi_min_us), int(self.isi_max_us)
        v = np.clip(values * float(self.gain), 0.0, 1.0)
        v[counts == 0] = 0.0
        n = np.ceil(v * n_max).astype(np.int64)
        isi = np.ceil(hi - (hi - lo) * v).astype(np.int64)
        nw, m = v.shape
        j = np.arange(n_max)
        offsets = (isi[:, :, None] * j[None, None, :]).transpose(0, 2, 1).reshape(nw, n_max * m)
        fire = (j[None, None, :] < n[:, :, None]).transpose(0, 2, 1).reshape(nw, n_max * m)
        ev = window_events(starts, ends, offsets, fire)
        ev["x"] = ev["x"] % m
        return ev

    @classmethod
    def contract_example(cls) -> ContractExample:
        return ContractExample({"window_us": 20_000, "max_spikes": 4}, small_contract_stream())
