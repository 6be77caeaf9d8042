"""Offline check of the keyword spotter on scripted sequences: the live test's scoring
(`script.make_script` + `script.score`) over several script seeds, with the spotter fed
the script's audio in chunks as `kws listen --wav` would feed it, so detection rates,
false detections and latencies can be measured without an audio stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from apps.kws.model import KwsModel
from apps.kws.spotter import KeywordSpotter
from pipeline.chunks import Geometry, SignalChunk, sample_time

SCRIPT_WORDS = ("yes", "no", "cat", "up", "down", "left", "house", "right", "on", "off", "stop", "go")


def spot(model: KwsModel, audio: np.ndarray, chunk_ms: int = 10) -> list[dict[str, Any]]:
    """Detections (dicts as `kws listen --json` prints them, without at_us) in mono audio
    [n] whose first sample is at stream time 0."""
    rate = model.config.sample_rate_hz
    size = max(chunk_ms * rate // 1000, 1)
    geometry = Geometry(channels=1, sample_rate_hz=rate)
    spotter = KeywordSpotter(model)
    found = []
    for a in range(0, audio.shape[0], size):
        x = np.ascontiguousarray(audio[a:a + size, None], dtype=np.float32)
        chunk = SignalChunk(t_start=int(sample_time(0, a, rate)), t_end=int(sample_time(0, a + x.shape[0], rate)),
                            samples=x, first_sample=a, geometry=geometry)
        found += [d.to_dict() for d in spotter.process(chunk)]
    return found


def evaluate_scripts(model: KwsModel, root: str | Path, *, split: str = "validation", seeds: int = 8,
                     words: tuple[str, ...] | list[str] = SCRIPT_WORDS, chunk_ms: int = 10) -> dict[str, Any]:
    """Score one script per seed 0..seeds-1 from `split` of a Speech-Commands-layout folder;
    returns per-seed rows and totals (a script passes with >= 80% of its keywords detected
    in order and at most one false detection, the live test's criteria)."""
    from apps.kws.script import make_script, score

    rows, latencies = [], []
    for seed in range(seeds):
        audio, script = make_script(root, list(words), model.keywords, split=split, seed=seed)
        report = score(spot(model, audio, chunk_ms), script, 0, rate=model.config.sample_rate_hz)
        passed = report["detection_rate"] >= 0.8 and report["in_order"] and report["false_detections"] <= 1
        rows.append({"seed": seed, "detected": report["detected"], "keywords": report["keywords"],
                     "false_detections": report["false_detections"], "in_order": report["in_order"],
                     "passed": passed, "false": [d["word"] for d in report["false"]]})
        latencies += report["latencies_ms"]
    lat = np.array(latencies) if latencies else np.zeros(1)
    keywords = sum(r["keywords"] for r in rows)
    return {"data": str(root), "split": split, "scripts": len(rows),
            "detection_rate": round(sum(r["detected"] for r in rows) / max(keywords, 1), 4),
            "false_per_script": round(sum(r["false_detections"] for r in rows) / max(len(rows), 1), 3),
            "passed": sum(r["passed"] for r in rows),
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 1),
            "latency_ms_p99": round(float(np.percentile(lat, 99)), 1), "rows": rows}
