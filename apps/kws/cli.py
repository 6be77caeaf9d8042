"""`spikestream kws train|evaluate|listen`: train the keyword spotter, score it offline on scripted
sequences, then listen live (or to a WAV)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HELP = "keyword spotting: `kws train` a model, `kws evaluate` it offline, `kws listen` to the microphone or a WAV"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kws_command", metavar="ACTION", required=True)
    train = sub.add_parser("train", help="train a model on a Speech-Commands-layout folder or the generated set")
    train.add_argument("--data", help="Speech Commands v0.02-layout folder (default: the espeak-ng generated set)")
    train.add_argument("--default", action="store_true",
                       help="train the default model on the generated keyword set into the default model folder")
    train.add_argument("--out", help="model folder to write (default: ~/.cache/spikestream/kws/default)")
    train.add_argument("--if-missing", action="store_true",
                       help="do nothing when the model folder already holds a model of this version")
    train.add_argument("--max-per-class", type=int, default=0, help="use at most this many clips per word")
    train.add_argument("--hidden", type=int, help="readout hidden units (0: logistic regression; default: 128)")
    train.add_argument("--alpha", type=float, default=0.3, help="L2 penalty of the readout")
    train.add_argument("--augment", type=int, default=2,
                       help="extra hearings of each clip, sped up or slowed down by up to 12%%")
    train.add_argument("--json", action="store_true", help="print the training summary as JSON")
    evaluate = sub.add_parser("evaluate", help="score a model offline on scripted keyword sequences (as the live test)")
    evaluate.add_argument("--model", help="model folder (default: the default model)")
    evaluate.add_argument("--data", help="Speech-Commands-layout folder (default: the generated set)")
    evaluate.add_argument("--split", default="validation", choices=("validation", "test", "train"))
    evaluate.add_argument("--seeds", type=int, default=8, help="scripts to play (seeds 0..N-1)")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    listen = sub.add_parser("listen", help="detect keywords live from a microphone, or in a WAV file")
    listen.add_argument("--model", help="model folder (default: the default model)")
    listen.add_argument("--wav", help="listen to this WAV file (16 kHz) instead of a microphone")
    listen.add_argument("--device", help="input device index or name (see --list-devices)")
    listen.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    listen.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    listen.add_argument("--chunk-ms", type=int, default=10, help="audio chunk length (ms)")
    listen.add_argument("--threshold", type=float, help="detection probability threshold (default: the model's)")
    listen.add_argument("--record", help="also save the audio heard to this WAV file")
    listen.add_argument("--json", action="store_true", help="print one JSON object with every detection at the end")
    listen.add_argument("--quiet", action="store_true", help="no live display")


def run(args: argparse.Namespace) -> int:
    if args.kws_command == "train":
        return _train(args)
    if args.kws_command == "evaluate":
        return _evaluate(args)
    return _listen(args)


def _train(args: argparse.Namespace) -> int:
    from apps.kws.model import KwsConfig, KwsModel
    from apps.kws.train import default_model_dir, ensure_default_keywords, train_model
    from pipeline.errors import FormatError

    if args.data and args.default:
        print("kws train: --default trains on the generated set; give --data or --default, not both", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_model_dir()
    if args.if_missing:
        try:
            KwsModel.load(out)
        except FormatError:
            pass
        else:
            print(json.dumps({"model": str(out), "trained": False}) if args.json else f"kws model: {out} is "
                  "up to date (--if-missing)")
            return 0
    root = Path(args.data) if args.data else ensure_default_keywords(progress=not args.json)
    config = KwsConfig() if args.hidden is None else KwsConfig(hidden=args.hidden)
    model = train_model(root, config=config, max_per_class=args.max_per_class, alpha=args.alpha,
                        augment=args.augment, progress=not args.json)
    model.save(out)
    summary = {"model": str(out), "classes": model.classes, **model.info}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"kws model saved to {out}: {len(model.keywords)} keywords ({', '.join(model.keywords)}), "
              f"{model.info['clips']} clips, train word accuracy {model.info['train_word_accuracy']:.3f}, "
              f"{model.info['train_seconds']} s")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from apps.kws.evaluate import evaluate_scripts
    from apps.kws.model import KwsModel
    from apps.kws.train import default_model_dir, ensure_default_keywords

    model = KwsModel.load(args.model or default_model_dir())
    root = Path(args.data) if args.data else ensure_default_keywords(progress=not args.json)
    report = evaluate_scripts(model, root, split=args.split, seeds=args.seeds)
    if args.json:
        print(json.dumps(report))
        return 0
    for row in report["rows"]:
        print(f"script {row['seed']}: {row['detected']}/{row['keywords']} detected, {row['false_detections']} false "
              f"{row['false'] or ''}{'' if row['in_order'] else ', out of order'}  {'pass' if row['passed'] else 'FAIL'}")
    print(f"{report['split']} split of {report['data']}: detection {report['detection_rate']:.3f}, "
          f"{report['false_per_script']:.2f} false per script, {report['passed']}/{report['scripts']} scripts pass; "
          f"latency p50 {report['latency_ms_p50']:.0f} ms, p99 {report['latency_ms_p99']:.0f} ms")
    return 0


class _Display:
    """One status line on a terminal: level meter, last detections (redrawn in place)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last: list[str] = []
        self.drawn = 0.0

    def update(self, level_db: float, t_s: float) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.drawn < 0.05:
            return
        self.drawn = now
        bars = int(max(0.0, min(1.0, (level_db + 60.0) / 60.0)) * 30)
        line = f"\r{t_s:7.1f} s  [{'#' * bars}{' ' * (30 - bars)}] {level_db:6.1f} dBFS  last: {' '.join(self.last[-4:])}"
        sys.stderr.write(line[:140].ljust(140))
        sys.stderr.flush()

    def detection(self, text: str, word: str) -> None:
        self.last.append(word)
        if self.enabled:
            sys.stderr.write("\r" + " " * 140 + "\r")
        print(text, flush=True)


def _warm_up(model: Any) -> None:
    """Load (or compile) the spotter's Numba kernels, and its readout, on a throwaway spotter
    before audio flows: on a cold cache that takes seconds, and a live stream would overrun
    meanwhile; the first word would be decided hundreds of ms late."""
    import numpy as np

    from apps.kws.evaluate import spot

    rate = model.config.sample_rate_hz
    x = np.random.default_rng(0).normal(0.0, 0.003, rate)
    t = np.arange(rate // 4) / rate
    x[rate // 2: rate // 2 + t.shape[0]] += 0.3 * np.sin(2 * np.pi * 440 * t)  # a "word" for the endpointer
    spot(model, x)


def _listen(args: argparse.Namespace) -> int:
    from apps.kws.model import KwsModel
    from apps.kws.spotter import KeywordSpotter
    from apps.kws.train import default_model_dir

    if args.list_devices:
        from sources.microphone import list_input_devices

        for d in list_input_devices():
            print(f"[{d['index']}] {d['name']} ({d['hostapi']}, {d['channels']} ch, {d['default_rate_hz']} Hz)")
        return 0
    model = KwsModel.load(args.model or default_model_dir())
    if args.threshold is not None:
        model.config.threshold = args.threshold
    rate = model.config.sample_rate_hz
    _warm_up(model)
    spotter = KeywordSpotter(model)
    chunk_us = args.chunk_ms * 1000
    if args.wav:
        from sources.wav import WavSource

        source: Any = WavSource(path=args.wav, chunk_us=chunk_us, sample_rate_hz=rate)
        clock = None
    else:
        from sources.microphone import Microphone

        device = int(args.device) if args.device and args.device.isdigit() else args.device
        source = Microphone(device=device, sample_rate_hz=rate, chunk_us=chunk_us, duration_s=args.duration)
        clock = source.clock_us
    display = _Display(enabled=not args.quiet and not args.json and sys.stderr.isatty())
    detections: list[dict[str, Any]] = []
    recorded: list[Any] = []
    per_chunk_ms: list[float] = []
    t0_us = None
    try:
        for chunk in source.chunks():
            if chunk.kind != "signal":
                continue
            if t0_us is None:
                t0_us = chunk.t_start
                # said once audio flows, not before: opening a device can take seconds, and
                # whatever is spoken before then is never heard
                print(f"listening for: {', '.join(model.keywords)}" + (f" in {args.wav}" if args.wav else
                      " (Ctrl-C to stop)"), file=sys.stderr, flush=True)
            if args.wav and args.duration and chunk.t_start - t0_us >= args.duration * 1e6:
                break
            began = time.perf_counter()
            found = spotter.process(chunk)
            per_chunk_ms.append((time.perf_counter() - began) * 1000)
            if args.record:
                recorded.append(chunk.samples.copy())
            for d in found:
                # latency: from the word's end to now (stream clock); offline, to the decision
                # plus the time spent computing it
                at_us = clock() if clock else d.t_us + int(per_chunk_ms[-1] * 1000)
                item = {**d.to_dict(), "at_us": int(at_us), "latency_ms": round((at_us - d.word_end_us) / 1000, 1),
                        "time_s": round((d.t_us - t0_us) / 1e6, 3)}
                detections.append(item)
                if not args.json:
                    display.detection(f"{item['time_s']:8.2f} s  {d.word:<6} confidence {d.confidence:.2f}  "
                                      f"latency {item['latency_ms']:.0f} ms", d.word)
            if spotter.levels_db.shape[0]:
                display.update(float(spotter.levels_db[-1]), (chunk.t_end - t0_us) / 1e6)
    except KeyboardInterrupt:
        pass
    if display.enabled:
        sys.stderr.write("\n")
    if args.record and recorded:
        import numpy as np

        from sources.wav import write_wav

        write_wav(args.record, np.concatenate(recorded), rate)
    if args.json:
        import numpy as np

        lat = np.array(per_chunk_ms) if per_chunk_ms else np.zeros(1)
        result = {"t0_us": t0_us, "detections": detections, "chunks": len(per_chunk_ms),
                  "chunk_ms_p50": round(float(np.percentile(lat, 50)), 3),
                  "chunk_ms_p99": round(float(np.percentile(lat, 99)), 3),
                  "source": source.result() if hasattr(source, "result") else {}}
        print(json.dumps(result))
    return 0
