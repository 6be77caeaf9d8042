"""Pacing a source against the wall clock: real time, N x, or as fast as possible."""

from __future__ import annotations

import time


class Pacer:
    """Sleeps so that stream time t (µs) is reached no earlier than wall time start + t/speed."""

    def __init__(self, speed: float) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0 (0 = as fast as possible), got {speed}")
        self.speed = speed
        self._wall0: float | None = None
        self._stream0 = 0

    def wait_until(self, t_us: int) -> None:
        if self.speed == 0:
            return
        now = time.perf_counter()
        if self._wall0 is None:
            self._wall0, self._stream0 = now, t_us
            return
        due = self._wall0 + (t_us - self._stream0) / 1e6 / self.speed
        if due > now:
            time.sleep(due - now)
