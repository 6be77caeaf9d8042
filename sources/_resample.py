"""Streaming rational resampler: anti-alias FIR, then linear interpolation at exact positions.

Output sample j sits at input position j * rate_in / rate_out, computed with integers, and the
FIR keeps its state between blocks, so the output does not depend on how the input was cut.
"""

from __future__ import annotations

import numpy as np


class StreamingResampler:
    """Resample float32 [n, channels] blocks from rate_in_hz to rate_out_hz.

    Parameters: rate_in_hz, rate_out_hz (Hz); taps (FIR length; low-pass at 0.45 x the lower
    rate, Hamming window).
    """

    def __init__(self, rate_in_hz: int, rate_out_hz: int, channels: int, taps: int = 63) -> None:
        from scipy.signal import firwin

        self.rate_in_hz = int(rate_in_hz)
        self.rate_out_hz = int(rate_out_hz)
        cutoff = 0.45 * min(self.rate_in_hz, self.rate_out_hz)
        self._fir = firwin(taps, cutoff, fs=self.rate_in_hz).astype(np.float64)
        self._zi = np.zeros((taps - 1, channels))
        self._n_in = 0  # input samples consumed so far
        self._n_out = 0  # output samples produced so far
        self._last = np.zeros((1, channels))  # last filtered input sample (for interpolation across blocks)

    def process(self, block: np.ndarray) -> np.ndarray:
        from scipy.signal import lfilter

        if self.rate_in_hz == self.rate_out_hz:
            self._n_in += block.shape[0]
            self._n_out += block.shape[0]
            return np.asarray(block, dtype=np.float32)
        filtered, self._zi = lfilter(self._fir, 1.0, block.astype(np.float64), axis=0, zi=self._zi)
        # history: sample index (n_in - 1) followed by this block's samples n_in .. n_in + n - 1
        history = np.concatenate([self._last, filtered])
        n_total = self._n_in + block.shape[0]
        # output j is at input position j * rate_in / rate_out; it needs samples floor(pos), floor(pos) + 1 <= n_total-1
        j_end = ((n_total - 1) * self.rate_out_hz) // self.rate_in_hz + 1
        j = np.arange(self._n_out, max(j_end, self._n_out), dtype=np.int64)
        num = j * self.rate_in_hz
        base = num // self.rate_out_hz
        frac = ((num - base * self.rate_out_hz) / self.rate_out_hz)[:, None]
        idx = base - (self._n_in - 1)  # index into history
        nxt = np.minimum(idx + 1, history.shape[0] - 1)
        out = history[idx] * (1.0 - frac) + history[nxt] * frac
        self._last = filtered[-1:] if block.shape[0] else self._last
        self._n_in = n_total
        self._n_out += j.shape[0]
        return out.astype(np.float32)
