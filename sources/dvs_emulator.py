"""Frame-to-event emulation: a DVS pixel model that makes a frame camera behave like an
event camera (in the spirit of v2e, Hu et al. 2021, without its low-pass photoreceptor)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.chunks import Chunk, EventChunk, FrameChunk, Geometry
from pipeline.errors import ChunkError, ConfigError
from pipeline.events import EVENT_DTYPE
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Stage


@register_stage("dvs_emulator")
class DVSEmulator(Stage):
    """Frames -> ON/OFF events.

    Each pixel compares its log intensity, interpolated linearly between frames, with a
    reference level; crossing it by the pixel's ON (OFF) threshold emits an ON (OFF) event
    at the interpolated crossing time and moves the reference by one threshold. Thresholds
    vary from pixel to pixel (mismatch); events within `refractory_us` of a pixel's last one
    are dropped; the reference leaks down (ON "leak" events at about leak_rate_hz in a
    static scene) and shot noise adds Poisson events of random polarity.

    Parameters: on_threshold, off_threshold (log-intensity contrast, natural log);
    threshold_sigma (relative std of the per-pixel mismatch); refractory_us; leak_rate_hz;
    shot_noise_rate_hz (per pixel, both polarities together); log_eps (intensity offset in
    log(I/255 + eps)); seed. Colour frames are converted to luma. Event p: 1 ON, 0 OFF.
    """

    accepts = ("frames",)

    def __init__(self, on_threshold: float = 0.2, off_threshold: float = 0.2, threshold_sigma: float = 0.03,
                 refractory_us: int = 0, leak_rate_hz: float = 0.0, shot_noise_rate_hz: float = 0.0,
                 log_eps: float = 0.02, seed: int = 0) -> None:
        self.on_threshold = on_threshold
        self.off_threshold = off_threshold
        self.threshold_sigma = threshold_sigma
        self.refractory_us = refractory_us
        self.leak_rate_hz = leak_rate_hz
        self.shot_noise_rate_hz = shot_noise_rate_hz
        self.log_eps = log_eps
        self.seed = seed

    def reset(self) -> None:
        self._log: np.ndarray | None = None
        self._t = 0
        self._frame = 0
        self._out_start: int | None = None
        self._in_end: int | None = None
        self.events_ = 0

    def _setup(self, n: int, log0: np.ndarray) -> None:
        from sources._dvs_emulator_kernels import pixel_thresholds

        for name in ("on_threshold", "off_threshold"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"dvs_emulator: {name} must be > 0, got {getattr(self, name)!r}")
        for name in ("threshold_sigma", "refractory_us", "leak_rate_hz", "shot_noise_rate_hz"):
            if float(getattr(self, name)) < 0:
                raise ConfigError(f"dvs_emulator: {name} must be >= 0, got {getattr(self, name)!r}")
        self._on, self._off, phase = np.empty(n), np.empty(n), np.empty(n)
        pixel_thresholds(int(self.seed), n, float(self.on_threshold), float(self.off_threshold),
                         float(self.threshold_sigma), self._on, self._off, phase)
        # references start a random fraction of a threshold below the first image, so that
        # leak events of a uniform scene do not fire in lockstep
        self._ref = log0 - phase * self._on if self.leak_rate_hz > 0 else log0.copy()
        self._last_t = np.full(n, -(2**62), np.int64)

    def _luma_log(self, frame: np.ndarray) -> np.ndarray:
        f = frame.astype(np.float64)
        if f.ndim == 3:
            f = f[..., 2] * 0.299 + f[..., 1] * 0.587 + f[..., 0] * 0.114  # OpenCV frames are BGR
        return np.log(f.reshape(-1) / 255.0 + float(self.log_eps))

    def process(self, chunk: Chunk) -> list[Chunk]:
        from sources._dvs_emulator_kernels import interval_events

        self.check_input(chunk)
        if not hasattr(self, "_frame"):
            self.reset()
        assert isinstance(chunk, FrameChunk)
        if self._out_start is None:
            self._out_start = chunk.t_start
        self._in_end = chunk.t_end
        if chunk.frames.shape[0] == 0:
            return []
        h, w = chunk.frames.shape[1], chunk.frames.shape[2]
        geometry = Geometry(width=w, height=h, channels=2)
        pieces = []
        for frame, t in zip(chunk.frames, chunk.times.tolist()):
            log1 = self._luma_log(frame)
            if self._log is None:
                self._setup(log1.shape[0], log1)
            elif log1.shape != self._log.shape:
                raise ChunkError(f"dvs_emulator: frame size changed to {w}x{h} in stream {chunk.stream!r}")
            else:
                dt = t - self._t
                expected = int(np.abs(log1 - self._log).sum() / min(self._on.min(), self._off.min()))
                expected += int(4 * self.shot_noise_rate_hz * dt * 1e-6 * log1.shape[0]) + 64
                while True:
                    out_t = np.empty(expected, np.int64)
                    out_i = np.empty(expected, np.int64)
                    out_p = np.empty(expected, np.int8)
                    ref, last = self._ref.copy(), self._last_t.copy()
                    k = interval_events(self._log, log1, self._t, t, self._frame, ref, last, self._on, self._off,
                                        int(self.refractory_us), float(self.leak_rate_hz) * 1e-6,
                                        float(self.shot_noise_rate_hz) * 1e-6, int(self.seed), w, out_t, out_i,
                                        out_p)
                    if k >= 0:
                        break
                    expected *= 4
                self._ref, self._last_t = ref, last
                order = np.lexsort((out_i[:k], out_t[:k]))
                ev = np.empty(k, EVENT_DTYPE)
                ev["t"] = out_t[:k][order]
                ev["x"] = out_i[:k][order] % w
                ev["y"] = out_i[:k][order] // w
                ev["p"] = out_p[:k][order]
                pieces.append(ev)
            self._log, self._t = log1, t
            self._frame += 1
        events = np.concatenate(pieces) if pieces else np.empty(0, EVENT_DTYPE)
        self.events_ += events.shape[0]
        out = EventChunk(t_start=self._out_start, t_end=self._t + 1, events=events, geometry=geometry,
                         meta=dict(chunk.meta))
        self._out_start = self._t + 1
        self._geometry = geometry
        return [out]

    def flush(self) -> list[Chunk]:
        if not hasattr(self, "_frame") or self._out_start is None or self._in_end is None:
            return []
        end = max(self._in_end, self._out_start)
        if end == self._out_start:
            return []
        geometry = getattr(self, "_geometry", Geometry())
        out = EventChunk(t_start=self._out_start, t_end=end, events=np.empty(0, EVENT_DTYPE), geometry=geometry)
        self._out_start = end
        return [out]

    def result(self) -> dict[str, Any]:
        return {"events": int(getattr(self, "events_", 0))}

    @classmethod
    def contract_example(cls) -> ContractExample:
        from sources._test_video import moving_bar_frames

        frames = moving_bar_frames(12, width=24, height=8, speed_px=1.5, bar_px=4)
        times = np.arange(12, dtype=np.int64) * 10_000
        chunks = [FrameChunk(t_start=int(a * 10_000), t_end=int((a + 4) * 10_000), frames=frames[a:a + 4],
                             times=times[a:a + 4], geometry=Geometry(width=24, height=8, channels=1))
                  for a in range(0, 12, 4)]
        params = {"threshold_sigma": 0.05, "refractory_us": 500, "leak_rate_hz": 5.0, "shot_noise_rate_hz": 20.0,
                  "seed": 3}
        return ContractExample(params, chunks)
