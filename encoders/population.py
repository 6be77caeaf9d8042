"""Population coding with Gaussian receptive fields (Bohte, Kok and La Poutré 2002): each
channel's value drives `neurons` units whose Gaussian tuning curves tile [v_min, v_max];
a unit's activation a becomes a spike at (1 - a) * t_max_us after the window starts
(units below `min_activation` stay silent). Output x = channel * neurons + unit."""

from __future__ import annotations

from typing import Any

import numpy as np

from encoders._signal import WindowEncoder, encode_whole, positive_float, positive_int, small_contract_stream
from encoders._window import window_events, window_offsets
from pipeline.errors import ConfigError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample


def receptive_fields(neurons: int, v_min: float, v_max: float, beta: float = 1.5) -> tuple[np.ndarray, float]:
    """Centres [neurons] and width of Bohte et al.'s fields: mu_i = v_min + (2i - 3)/2 *
    (v_max - v_min)/(m - 2) for i = 1..m, sigma = (v_max - v_min) / (beta (m - 2))."""
    span = (v_max - v_min) / (neurons - 2)
    i = np.arange(1, neurons + 1)
    return v_min + (2 * i - 3) / 2 * span, span / beta


def population_encode(samples: Any, sample_rate_hz: int, *, t0_us: int = 0, **params: Any) -> np.ndarray:
    """Population-code a whole signal [n] or [n, channels] (window means); params are
    PopulationEncoder's."""
    return encode_whole(PopulationEncoder(**params), samples, sample_rate_hz, t0_us)


def population_decode(events: np.ndarray, channels: int, n_windows: int, *, window_us: int = 10_000,
                      neurons: int = 8, v_min: float = 0.0, v_max: float = 1.0, beta: float = 1.5,
                      t_max_us: int | None = None, t0_us: int = 0) -> np.ndarray:
    """Values [n_windows, channels] from the two most active units of each channel: for
    Gaussian fields ln(a_i / a_j) is linear in v, so the pair gives v exactly up to the
    µs rounding of spike times. NaN where fewer than two units fired."""
    t_max = window_us - 1 if t_max_us is None else t_max_us
    mu, sigma = receptive_fields(neurons, v_min, v_max, beta)
    off = window_offsets(events, window_us, t0_us, n_windows, channels * neurons)
    act = (1.0 - off / t_max).reshape(n_windows, channels, neurons)
    act = np.where(np.isnan(act), -np.inf, act)
    order = np.argsort(-act, axis=2)
    i, j = order[:, :, 0], order[:, :, 1]
    ai = np.take_along_axis(act, i[:, :, None], 2)[:, :, 0]
    aj = np.take_along_axis(act, j[:, :, None], 2)[:, :, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (mu[i] + mu[j]) / 2 + sigma**2 * np.log(ai / aj) / (mu[i] - mu[j])
    return np.where(np.isfinite(aj) & (aj > 0), v, np.nan)


@register_stage("population_encoder")
class PopulationEncoder(WindowEncoder):
    """Gaussian receptive-field population coding of signal chunks per window.

    Parameters: window_us; neurons (units per channel, >= 3); v_min, v_max (value range
    the fields tile; values outside are clipped); beta (field width factor, Bohte et al.
    use 1.5); min_activation (units below it do not fire); t_max_us (latency at zero
    activation, default window_us - 1); sample_rate_hz (0 = first chunk's rate).
    """

    def __init__(self, window_us: int = 10_000, neurons: int = 8, v_min: float = 0.0, v_max: float = 1.0,
                 beta: float = 1.5, min_activation: float = 0.1, t_max_us: int | None = None,
                 sample_rate_hz: int = 0) -> None:
        self.window_us = window_us
        self.neurons = neurons
        self.v_min = v_min
        self.v_max = v_max
        self.beta = beta
        self.min_activation = min_activation
        self.t_max_us = t_max_us
        self.sample_rate_hz = sample_rate_hz

    def _n_outputs(self) -> int:
        return self._channels * int(self.neurons)

    def _validate_params(self) -> None:
        positive_int("population_encoder: window_us", self.window_us)
        positive_int("population_encoder: neurons", self.neurons, minimum=3)
        positive_float("population_encoder: beta", self.beta)
        positive_float("population_encoder: min_activation", self.min_activation, allow_zero=True)
        if not float(self.v_min) < float(self.v_max):
            raise ConfigError(f"population_encoder: v_min {self.v_min} must be below v_max {self.v_max}")
        if self._channels * int(self.neurons) > 65_536:
            raise ConfigError(f"population_encoder: {self._channels} channels x {self.neurons} neurons exceed "
                              f"the 65536 addresses of x")

    def _encode(self, values, starts, ends, counts):
        mu, sigma = receptive_fields(int(self.neurons), float(self.v_min), float(self.v_max), float(self.beta))
        v = np.clip(values, float(self.v_min), float(self.v_max))
        act = np.exp(-((v[:, :, None] - mu[None, None, :]) ** 2) / (2 * sigma**2))
        t_max = self.window_us - 1 if self.t_max_us is None else int(self.t_max_us)
        nw = v.shape[0]
        off = np.rint((1.0 - act) * t_max).astype(np.int64).reshape(nw, -1)
        fire = ((act >= float(self.min_activation)) & (counts[:, None, None] > 0)).reshape(nw, -1)
        return window_events(starts, ends, off, fire)

    @classmethod
    def contract_example(cls) -> ContractExample:
        return ContractExample({"window_us": 20_000, "neurons": 6}, small_contract_stream())
