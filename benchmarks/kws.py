"""Live keyword-spotting chain cost: real-time factor on one core and per-chunk latency at
10 ms chunks (cochlea -> LIF layer -> endpointer -> per-word readout), next to the peer `gammatone`
package's ERB filterbank alone on the same audio (the first stage of the chain only)."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _chunks(audio: np.ndarray, chunk_samples: int, rate: int):
    from pipeline.chunks import Geometry, SignalChunk, sample_time

    g = Geometry(channels=1, sample_rate_hz=rate)
    for a in range(0, audio.shape[0], chunk_samples):
        x = np.ascontiguousarray(audio[a:a + chunk_samples, None])
        yield SignalChunk(t_start=int(sample_time(0, a, rate)), t_end=int(sample_time(0, a + x.shape[0], rate)),
                          samples=x, first_sample=a, geometry=g)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.kws", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 s of audio instead of 120 s")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--model", help="model folder (default: the default model; trained if missing)")
    parser.add_argument("--chunk-ms", type=int, default=10)
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from apps.kws.model import KwsModel
    from apps.kws.script import make_script
    from apps.kws.spotter import KeywordSpotter
    from apps.kws.train import default_model_dir, ensure_default_keywords
    from pipeline.errors import FormatError

    folder = args.model or default_model_dir()
    try:
        model = KwsModel.load(folder)
    except FormatError:
        if args.model:
            raise
        from apps.kws.train import train_model

        model = train_model(ensure_default_keywords())  # the default model is missing or of an older format
        model.save(folder)
    words = ["yes", "no", "cat", "up", "down", "left", "house", "right", "on", "off", "stop", "go"]
    pieces = []
    seconds = 20 if args.quick else 120
    seed = 0
    while sum(p.shape[0] for p in pieces) < seconds * 16000:
        pieces.append(make_script(ensure_default_keywords(), words, model.keywords, seed=seed)[0])
        seed += 1
    audio = np.concatenate(pieces)[: seconds * 16000]
    rate = model.config.sample_rate_hz
    chunk_samples = args.chunk_ms * rate // 1000
    with threadpool_limits(1):  # one core
        warm = KeywordSpotter(model)  # compile/warm the kernels outside the timing
        for c in _chunks(audio[: rate], chunk_samples, rate):
            warm.process(c)
        spotter = KeywordSpotter(model)
        chunks = list(_chunks(audio, chunk_samples, rate))
        per_chunk = np.empty(len(chunks))
        began = time.perf_counter()
        for i, c in enumerate(chunks):
            t = time.perf_counter()
            spotter.process(c)
            per_chunk[i] = time.perf_counter() - t
        ours_s = time.perf_counter() - began
        from gammatone.filters import centre_freqs, erb_filterbank, make_erb_filters

        cf = centre_freqs(rate, int(model.config.cochlea.get("channels", 64)), 100.0)
        filters = make_erb_filters(rate, cf)
        began = time.perf_counter()
        erb_filterbank(audio.astype(np.float64), filters)
        peer_s = time.perf_counter() - began
    audio_s = audio.shape[0] / rate
    result = {"benchmark": "kws", "audio_s": audio_s, "chunk_ms": args.chunk_ms, "chunks": len(chunks),
              "ours_s": round(ours_s, 4), "real_time_factor": round(audio_s / ours_s, 1),
              "chunk_latency_ms_p50": round(float(np.percentile(per_chunk, 50)) * 1000, 4),
              "chunk_latency_ms_p99": round(float(np.percentile(per_chunk, 99)) * 1000, 4),
              "peer": "gammatone.filters.erb_filterbank (filterbank only)", "peer_s": round(peer_s, 4),
              "peer_real_time_factor": round(audio_s / peer_s, 1), "ratio_ours_vs_peer_speed": round(peer_s / ours_s, 2)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"KWS chain on {audio_s:.0f} s of audio, {args.chunk_ms} ms chunks, one core")
    print(f"  ours (cochlea + LIF layer + readout): {ours_s:.3f} s  real-time factor {result['real_time_factor']}x  "
          f"per-chunk p50 {result['chunk_latency_ms_p50']:.3f} ms  p99 {result['chunk_latency_ms_p99']:.3f} ms")
    print(f"  peer gammatone erb_filterbank alone:  {peer_s:.3f} s  real-time factor "
          f"{result['peer_real_time_factor']}x")
    print(f"  ratio (whole chain vs peer filterbank alone): {result['ratio_ours_vs_peer_speed']}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
