"""Cochlear front end: ERB-spaced gammatone filterbank -> inner hair cell -> spiking
"auditory nerve" units, one per channel; events x = channel (lowest frequency first), y = 0.

The filterbank is Slaney's 4th-order gammatone (Apple TR #35), coefficient for
coefficient the one in the `gammatone` package, run by a Numba kernel that carries the
filter state across chunks. Two presets: "live" (64 channels, 100 Hz to 4 kHz, square-
root compression, AGC, LIF units: a cheap front end for keyword spotting) and "shd" (700
channels like the Spiking Heidelberg Digits, whose spikes came from Lauscher's cochlea
model with 700 channels; here 50 Hz up to 8 kHz or the Nyquist frequency, stronger
compression, AGC and refractory LIF units). Any parameter left None takes the preset's
value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from encoders._cochlea_kernel import cochlea_run, erb_space, gammatone_coefficients, gammatone_filter
from encoders._signal import SignalEncoder, as_signal, positive_float, positive_int
from pipeline.chunks import Chunk, EventChunk, Geometry, SignalChunk, sample_time
from pipeline.errors import ChunkError, ConfigError
from pipeline.events import EVENT_DTYPE
from pipeline.registry import register_stage
from pipeline.stage import ContractExample

PRESETS: dict[str, dict[str, Any]] = {
    "live": dict(channels=64, f_lo_hz=100.0, f_hi_hz=4000.0, gain=1.0, compression=0.5, agc_tau_ms=100.0,
                 agc_floor=0.03, unit="lif", threshold=0.6, tau_ms=5.0, refractory_ms=2.0),
    "shd": dict(channels=700, f_lo_hz=50.0, f_hi_hz=8000.0, gain=1.0, compression=0.25, agc_tau_ms=100.0,
                agc_floor=0.1, unit="lif", threshold=0.9, tau_ms=2.0, refractory_ms=5.0),
}
UNITS = {"lif": 0, "threshold": 1}


def centre_frequencies(channels: int, f_lo_hz: float, f_hi_hz: float) -> np.ndarray:
    """ERB-spaced centre frequencies (Hz), lowest first: Slaney's ERBSpace between f_lo_hz
    (the lowest centre) and f_hi_hz (just above the highest), as gammatone.filters.
    centre_freqs(fs, channels, f_lo_hz, f_hi_hz) reversed."""
    return erb_space(float(f_lo_hz), float(f_hi_hz), int(channels))[::-1].copy()


def gammatone_filterbank(samples: Any, sample_rate_hz: float, centre_freqs_hz: Any) -> np.ndarray:
    """Filter a mono signal [n] (or [n, 1]) through 4th-order gammatone filters centred at
    `centre_freqs_hz`; returns float32 [n, len(centre_freqs_hz)], columns in that order."""
    x = as_signal(samples)
    if x.shape[1] != 1:
        raise ValueError(f"gammatone_filterbank takes a mono signal, got {x.shape[1]} channels")
    cf = np.asarray(centre_freqs_hz, dtype=np.float64).reshape(-1)
    _check_freqs(cf, sample_rate_hz)
    coefs = gammatone_coefficients(cf, float(sample_rate_hz))
    out = np.empty((x.shape[0], cf.shape[0]), np.float32)
    gammatone_filter(np.ascontiguousarray(x[:, 0]), coefs, np.zeros((8, cf.shape[0]), np.float32), out)
    return out


def _check_freqs(cf: np.ndarray, sample_rate_hz: float) -> None:
    if cf.size == 0 or not np.all(np.isfinite(cf)) or cf.min() <= 0 or cf.max() >= sample_rate_hz / 2:
        raise ConfigError(f"centre frequencies must lie in (0, {sample_rate_hz / 2}) Hz (the Nyquist frequency), "
                          f"got {cf.min() if cf.size else None}..{cf.max() if cf.size else None}")


def cochlea_encode(samples: Any, sample_rate_hz: int, *, t0_us: int = 0, **params: Any) -> np.ndarray:
    """Spike events (x = channel) of a whole mono signal through a Cochlea(**params)."""
    x = as_signal(samples)
    rate = int(sample_rate_hz)
    if rate <= 0:
        raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz!r}")
    chunk = SignalChunk(t_start=int(t0_us), t_end=int(sample_time(int(t0_us), x.shape[0], rate)), samples=x,
                        geometry=Geometry(channels=x.shape[1], sample_rate_hz=rate))
    return Cochlea(**params).process(chunk)[0].events


@register_stage("cochlea")
class Cochlea(SignalEncoder):
    """ERB-spaced gammatone filterbank -> hair cell -> spikes; x = channel (low to high).

    Parameters (None = the preset's value): preset ("live" or "shd"); channels (16..700);
    f_lo_hz, f_hi_hz (ERB range; f_hi_hz above the Nyquist frequency is lowered to the
    Nyquist frequency when it comes from the preset, rejected when given); gain (input scale);
    compression (hair-cell power law exponent; 0.5 and 0.25 are fastest); agc_tau_ms
    (automatic gain control time constant, 0 = off) and agc_floor (its floor, in
    compressed units); unit ("lif": leaky integrate-and-fire with reset, "threshold":
    upward threshold crossing of the hair-cell output); threshold; tau_ms (LIF membrane
    time constant); refractory_ms; sample_rate_hz (required input rate, 0 = the first
    chunk's).
    """

    def __init__(self, preset: str = "live", channels: int | None = None, f_lo_hz: float | None = None,
                 f_hi_hz: float | None = None, gain: float | None = None, compression: float | None = None,
                 agc_tau_ms: float | None = None, agc_floor: float | None = None, unit: str | None = None,
                 threshold: float | None = None, tau_ms: float | None = None, refractory_ms: float | None = None,
                 sample_rate_hz: int = 0) -> None:
        self.preset = preset
        self.channels = channels
        self.f_lo_hz = f_lo_hz
        self.f_hi_hz = f_hi_hz
        self.gain = gain
        self.compression = compression
        self.agc_tau_ms = agc_tau_ms
        self.agc_floor = agc_floor
        self.unit = unit
        self.threshold = threshold
        self.tau_ms = tau_ms
        self.refractory_ms = refractory_ms
        self.sample_rate_hz = sample_rate_hz

    def config(self) -> dict[str, Any]:
        """The effective parameters: the preset's values overridden by those given."""
        if self.preset not in PRESETS:
            raise ConfigError(f"cochlea: preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        cfg = dict(PRESETS[self.preset])
        for key in cfg:
            value = getattr(self, key)
            if value is not None:
                cfg[key] = value
        return cfg

    def centre_freqs_hz(self, sample_rate_hz: int) -> np.ndarray:
        """Centre frequency of each output channel x, in Hz (ascending)."""
        cfg = self.config()
        channels = positive_int("cochlea: channels", cfg["channels"])
        if not 1 <= channels <= 4096:
            raise ConfigError(f"cochlea: channels must be in 1..4096, got {channels}")
        f_lo = positive_float("cochlea: f_lo_hz", cfg["f_lo_hz"])
        f_hi = positive_float("cochlea: f_hi_hz", cfg["f_hi_hz"])
        nyquist = sample_rate_hz / 2
        if f_hi > nyquist:
            if self.f_hi_hz is not None:
                raise ConfigError(f"cochlea: f_hi_hz {f_hi} Hz is above the Nyquist frequency {nyquist} Hz "
                                  f"of {sample_rate_hz} Hz input")
            f_hi = nyquist
        if f_lo >= f_hi:
            raise ConfigError(f"cochlea: f_lo_hz {f_lo} must be below f_hi_hz {f_hi}")
        cf = centre_frequencies(channels, f_lo, f_hi)
        _check_freqs(cf, sample_rate_hz)
        return cf

    def reset(self) -> None:
        super().reset()
        self._coefs: np.ndarray | None = None

    def _setup(self, rate: int) -> None:
        cfg = self.config()
        cf = self.centre_freqs_hz(rate)
        if cfg["unit"] not in UNITS:
            raise ConfigError(f"cochlea: unit must be one of {sorted(UNITS)}, got {cfg['unit']!r}")
        coefs = gammatone_coefficients(cf, float(rate))
        coefs[6] *= float(cfg["gain"])
        agc_tau = positive_float("cochlea: agc_tau_ms", cfg["agc_tau_ms"], allow_zero=True)
        tau = positive_float("cochlea: tau_ms", cfg["tau_ms"])
        self._params = np.array([
            positive_float("cochlea: compression", cfg["compression"]),
            1.0 - np.exp(-1000.0 / (agc_tau * rate)) if agc_tau > 0 else 0.0,
            positive_float("cochlea: agc_floor", cfg["agc_floor"]),
            UNITS[cfg["unit"]],
            np.exp(-1000.0 / (tau * rate)),
            positive_float("cochlea: threshold", cfg["threshold"]),
            round(positive_float("cochlea: refractory_ms", cfg["refractory_ms"], allow_zero=True) * rate / 1000.0),
        ], dtype=np.float64)
        self._coefs = coefs
        self._state = np.zeros((11, cf.shape[0]), np.float32)

    def process(self, chunk: Chunk) -> list[Chunk]:
        samples = self._check(chunk)
        assert isinstance(chunk, SignalChunk)
        if samples.shape[1] != 1:
            raise ChunkError(f"cochlea: signal chunk {chunk.stream!r} seq {chunk.seq} has {samples.shape[1]} "
                             f"channels; the cochlea takes mono audio (mix or pick a channel first)")
        if self._coefs is None:
            self._setup(self._rate)
        m = self._coefs.shape[1]
        rows, cols = cochlea_run(np.ascontiguousarray(samples[:, 0]), self._coefs, self._params, self._state)
        events = np.empty(rows.shape[0], dtype=EVENT_DTYPE)
        t0 = chunk.t_start - (chunk.first_sample * 1_000_000) // self._rate
        events["t"] = t0 + ((rows + chunk.first_sample) * 1_000_000) // self._rate
        events["x"] = cols
        events["y"] = 0
        events["p"] = 1
        return [EventChunk(t_start=chunk.t_start, t_end=chunk.t_end, events=events,
                           geometry=Geometry(width=m, height=1, channels=m), meta=dict(chunk.meta))]

    @classmethod
    def contract_example(cls) -> ContractExample:
        rate = 8000
        t = np.arange(6000) / rate
        audio = (0.2 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t))
                 + 0.05 * np.sin(2 * np.pi * 1500 * t)).astype(np.float32)[:, None]
        chunks = [SignalChunk(t_start=int(sample_time(0, a, rate)), t_end=int(sample_time(0, a + 1500, rate)),
                              samples=audio[a:a + 1500], first_sample=a,
                              geometry=Geometry(channels=1, sample_rate_hz=rate)) for a in range(0, 6000, 1500)]
        return ContractExample({"preset": "live", "channels": 32}, chunks)
