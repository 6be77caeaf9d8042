"""Phase coding (Kim et al. 2018, "Deep neural networks with weighted spikes"): each
window is one period of a global oscillator with `bits` phases; a value quantised to
`bits` bits spikes at phase i when bit i (most significant first) is set, and a spike at
phase i weighs 2**-(i + 1), so the weighted spike sum of a window is the value."""

from __future__ import annotations

from typing import Any

import numpy as np

from encoders._signal import WindowEncoder, encode_whole, positive_int, small_contract_stream
from encoders._window import window_events
from pipeline.errors import ConfigError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample


def phase_encode(samples: Any, sample_rate_hz: int, *, t0_us: int = 0, **params: Any) -> np.ndarray:
    """Phase-code a whole signal [n] or [n, channels] (window means); params are PhaseEncoder's.
    x = channel, one spike per set bit per window."""
    return encode_whole(PhaseEncoder(**params), samples, sample_rate_hz, t0_us)


def phase_decode(events: np.ndarray, channels: int, n_windows: int, *, window_us: int = 8_000, bits: int = 8,
                 t0_us: int = 0, gain: float = 1.0) -> np.ndarray:
    """Values [n_windows, channels]: sum of 2**-(phase + 1) over each window's spikes.
    Exact to within 2**-(bits + 1) of clip(gain * value, 0, 1 - 2**-bits), divided by gain."""
    slot = window_us // bits
    out = np.zeros((n_windows, channels), np.float64)
    if events.size:
        rel = events["t"] - t0_us
        w = rel // window_us
        phase = (rel - w * window_us) // slot
        keep = (w >= 0) & (w < n_windows) & (phase < bits) & (events["x"] < channels)
        np.add.at(out, (w[keep], events["x"][keep].astype(np.int64)), 2.0 ** -(phase[keep] + 1.0))
    return out / gain


@register_stage("phase_encoder")
class PhaseEncoder(WindowEncoder):
    """Phase coding of signal chunks; x = channel.

    Parameters: window_us (oscillator period = window; phase slot window_us // bits);
    bits (phases per period, 1..16); gain (window mean x gain, clipped to [0, 1), is
    coded); sample_rate_hz (0 = first chunk's rate).
    """

    def __init__(self, window_us: int = 8_000, bits: int = 8, gain: float = 1.0, sample_rate_hz: int = 0) -> None:
        self.window_us = window_us
        self.bits = bits
        self.gain = gain
        self.sample_rate_hz = sample_rate_hz

    def _validate_params(self) -> None:
        bits = positive_int("phase_encoder: bits", self.bits)
        if bits > 16:
            raise ConfigError(f"phase_encoder: bits must be <= 16, got {bits}")
        if positive_int("phase_encoder: window_us", self.window_us) < bits:
            raise ConfigError(f"phase_encoder: window_us {self.window_us} is shorter than one µs per phase "
                              f"({bits} phases)")

    def _encode(self, values, starts, ends, counts):
        bits = int(self.bits)
        levels = 1 << bits
        v = np.clip(values * float(self.gain), 0.0, 1.0)
        q = np.minimum(np.rint(v * levels), levels - 1).astype(np.int64)
        q[counts == 0] = 0
        nw, m = q.shape
        shifts = bits - 1 - np.arange(bits)  # phase i carries bit (bits - 1 - i)
        fire = ((q[:, :, None] >> shifts[None, None, :]) & 1).astype(bool)  # [nw, m, bits]
        slot = int(self.window_us) // bits
        offsets = np.broadcast_to(np.arange(bits) * slot, (nw, m, bits))
        # one column per (channel, phase) for window_events, then x back to the channel
        ev = window_events(starts, ends, offsets.transpose(0, 2, 1).reshape(nw, bits * m),
                           fire.transpose(0, 2, 1).reshape(nw, bits * m))
        ev["x"] = ev["x"] % m
        return ev

    @classmethod
    def contract_example(cls) -> ContractExample:
        return ContractExample({"window_us": 16_000, "bits": 6}, small_contract_stream())
