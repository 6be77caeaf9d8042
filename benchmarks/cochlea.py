"""Cochlear front end against the `gammatone` package (Slaney's ERB filterbank) on the same
real speech, in one run: real-time factor at 64 and 700 channels and the ratio.

Input: FSDD recordings (8 kHz) concatenated to 10 s (2 s with --quick). Rows time, on one
core: the `gammatone` package's `erb_filterbank` (scipy lfilter per channel); our filter
alone (same coefficients, same output array); and our whole front end (filterbank, hair
cell, AGC, LIF units, events: preset "live" at 64 channels, "shd" at 700) streamed in 10 ms
chunks and on the whole array. brian2hears is not timed: it does
not import with numpy 2 (brian2's Quantity uses the removed ndarray.ptp).

    python -m benchmarks.cochlea [--quick] [--json] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import time
import wave
from functools import partial
from pathlib import Path

import numpy as np

FSDD = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fsdd" / "recordings"
RATE = 8000
CHANNELS = (64, 700)
F_LO = 100.0


def speech(seconds: float) -> np.ndarray:
    """FSDD recordings in name order, concatenated and cut to `seconds` (float32)."""
    parts, total = [], 0
    for path in sorted(FSDD.glob("*.wav")):
        with wave.open(str(path), "rb") as w:
            if w.getframerate() != RATE or w.getsampwidth() != 2:
                continue
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        parts.append(x)
        total += x.size
        if total >= seconds * RATE:
            break
    if total < seconds * RATE:
        raise SystemExit(f"benchmarks.cochlea: not enough FSDD audio under {FSDD}")
    return np.concatenate(parts)[: int(seconds * RATE)]


def _best(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def _stream(x: np.ndarray, channels: int, preset: str) -> int:
    from encoders.cochlea import Cochlea
    from pipeline.chunks import Geometry, SignalChunk, sample_time

    stage = Cochlea(preset=preset, channels=channels, f_lo_hz=F_LO)
    geometry = Geometry(channels=1, sample_rate_hz=RATE)
    step = RATE // 100
    spikes = 0
    x2 = x[:, None]
    for a in range(0, x.size, step):
        b = min(a + step, x.size)
        chunk = SignalChunk(t_start=int(sample_time(0, a, RATE)), t_end=int(sample_time(0, b, RATE)),
                            samples=x2[a:b], first_sample=a, geometry=geometry)
        spikes += stage.process(chunk)[0].events.size
    return spikes


def _peer(x: np.ndarray, cf: np.ndarray) -> np.ndarray:
    from gammatone.filters import erb_filterbank, make_erb_filters

    return erb_filterbank(x, make_erb_filters(RATE, cf))


def run(seconds: float, repeat: int) -> dict:
    from gammatone.filters import centre_freqs

    from encoders.cochlea import cochlea_encode, gammatone_filterbank

    x = speech(seconds)
    x64 = x.astype(np.float64)
    gammatone_filterbank(x[:256], RATE, np.array([500.0]))  # compile / load the kernels first
    _stream(x[:800], 16, "live")
    rows = []
    for channels in CHANNELS:
        cf = centre_freqs(RATE, channels, F_LO)
        peer_s, peer_out = _best(partial(_peer, x64, cf), 1 if channels > 100 else repeat)
        ours_s, ours_out = _best(partial(gammatone_filterbank, x, RATE, cf), repeat)
        corr = min(float(np.corrcoef(peer_out[c], ours_out[:, c])[0, 1]) for c in range(channels))
        del peer_out, ours_out
        preset = "live" if channels <= 64 else "shd"
        front_s, spikes = _best(partial(_stream, x, channels, preset), repeat)
        whole_s, events = _best(partial(cochlea_encode, x, RATE, preset=preset, channels=channels,
                                                  f_lo_hz=F_LO), repeat)
        if events.size != spikes:
            raise SystemExit(f"benchmarks.cochlea: streamed and whole-array spikes differ ({spikes} vs {events.size})")
        rows.append({
            "channels": channels, "seconds_of_audio": seconds,
            "gammatone_pkg_s": peer_s, "gammatone_pkg_rtf": seconds / peer_s,
            "ours_filter_s": ours_s, "ours_filter_rtf": seconds / ours_s,
            "ours_front_end_preset": preset, "ours_front_end_s": front_s, "ours_front_end_rtf": seconds / front_s,
            "ours_whole_s": whole_s, "ours_whole_rtf": seconds / whole_s, "spikes": int(spikes),
            "filter_speedup": peer_s / ours_s, "front_end_speedup": peer_s / front_s,
            "whole_speedup": peer_s / whole_s,
            "min_channel_correlation": corr,
        })
    return {"benchmark": "cochlea", "sample_rate_hz": RATE, "f_lo_hz": F_LO, "rows": rows,
            "brian2hears": "skipped: brian2 does not import under numpy 2 (ndarray.ptp removed)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.cochlea", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s of speech instead of 10 s")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (best is kept)")
    args = parser.parse_args(argv)
    result = run(2.0 if args.quick else 10.0, max(1, args.repeat))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"Cochlear front end vs gammatone package, {result['rows'][0]['seconds_of_audio']:.0f} s of FSDD speech "
          f"at {RATE} Hz, one core (real-time factor = audio seconds / wall seconds)")
    print(f"{'channels':>8} {'gammatone RTF':>13} {'ours filter RTF':>15} {'front end 10ms RTF':>18} "
          f"{'front end whole RTF':>19} {'filter x':>8} {'10ms x':>7} {'whole x':>7} {'min corr':>9} {'spikes':>8}")
    for r in result["rows"]:
        print(f"{r['channels']:>8} {r['gammatone_pkg_rtf']:>13.1f} {r['ours_filter_rtf']:>15.1f} "
              f"{r['ours_front_end_rtf']:>18.1f} {r['ours_whole_rtf']:>19.1f} {r['filter_speedup']:>8.1f} "
              f"{r['front_end_speedup']:>7.1f} {r['whole_speedup']:>7.1f} "
              f"{r['min_channel_correlation']:>9.6f} {r['spikes']:>8}")
    print(f"brian2hears: {result['brian2hears']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
