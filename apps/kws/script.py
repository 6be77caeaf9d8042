"""Scripted keyword sequences for checking the spotter end to end, and their scoring.

A script strings held-out clips (speakers the model never heard) together with silence
between words; `score` matches detections to the words in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from apps.kws.train import word_bounds


@dataclass
class ScriptedWord:
    word: str
    start: int  # first sample of the word in the script
    end: int  # sample just after the word
    keyword: bool


def make_script(root: str | Path, words: list[str], keywords: list[str], *, split: str = "test",
                gap_s: float = 1.0, lead_s: float = 1.0, noise_level: float = 0.002, seed: int = 0,
                rate: int = 16000) -> tuple[np.ndarray, list[ScriptedWord]]:
    """Audio [n] of `words` (one clip each from `split`, trimmed to the word) separated by gap_s
    of quiet noise, and where each word lies."""
    from sources.datasets.speech_commands import speech_commands_listing
    from sources.wav import read_wav

    refs, names = speech_commands_listing(root, split=split, task="words")
    rng = np.random.default_rng(seed)
    pieces = [np.zeros(int(lead_s * rate))]
    where, cursor = [], pieces[0].shape[0]
    for word in words:
        candidates = [r for r in refs if names[r.label] == word]
        if not candidates:
            raise ValueError(f"no {split} clip of {word!r} in {root}")
        x = read_wav(candidates[int(rng.integers(len(candidates)))].key, sample_rate_hz=rate)[0][:, 0]
        a, b = word_bounds(x, rate)
        a, b = max(a - rate // 50, 0), min(b + rate // 50, x.shape[0])
        clip = x[a:b] / max(float(np.abs(x[a:b]).max()), 1e-6) * 0.5
        where.append(ScriptedWord(word, cursor + rate // 50, cursor + clip.shape[0] - rate // 50, word in keywords))
        pieces += [clip, np.zeros(int(gap_s * rate))]
        cursor += clip.shape[0] + int(gap_s * rate)
    audio = np.concatenate(pieces)
    audio += noise_level * np.random.default_rng(seed + 1).standard_normal(audio.shape[0])
    return audio.astype(np.float32), where


def align_script(heard: np.ndarray, played: np.ndarray, script: list[ScriptedWord], *, rate: int = 16000,
                 search_s: float = 0.4) -> list[ScriptedWord]:
    """Where each scripted word lies in a recording of the played script: one offset from
    the whole recording, then each word (with 100 ms either side) found again within
    search_s of it, since a live path can insert or drop audio on the way (a player's
    underrun adds silence), which shifts the words after it."""
    from scipy.signal import correlate

    n = 1 << int(np.ceil(np.log2(heard.shape[0] + played.shape[0])))
    xc = np.fft.irfft(np.fft.rfft(heard, n) * np.conj(np.fft.rfft(played, n)), n)
    offset = int(np.argmax(xc[: heard.shape[0]]))
    margin, search = rate // 10, int(search_s * rate)
    placed = []
    for item in script:
        a, b = max(item.start - margin, 0), min(item.end + margin, played.shape[0])
        lo = max(offset + a - search, 0)
        hi = min(offset + b + search, heard.shape[0])
        local = offset
        if hi - lo > b - a:
            c = correlate(heard[lo:hi], played[a:b], mode="valid")
            local = lo + int(np.argmax(c)) - a
            offset = local  # later words follow this one's shift
        placed.append(ScriptedWord(item.word, item.start + local, item.end + local, item.keyword))
    return placed


def score(detections: list[dict[str, Any]], script: list[ScriptedWord], t0_us: int, rate: int = 16000,
          max_late_us: int = 700_000) -> dict[str, Any]:
    """Match detections (dicts with word, t_us and optionally at_us, the clock when shown)
    to scripted keywords in order: a detection counts for a keyword if it names it and falls
    between the word's start and max_late_us after its end. Latency = at_us (or t_us) minus
    the word's end on the stream clock (t0_us = stream time of script sample 0)."""
    matched, latencies, false = [], [], []
    used = set()
    for k, item in enumerate(script):
        start = t0_us + item.start * 1_000_000 // rate
        end = t0_us + item.end * 1_000_000 // rate
        for i, d in enumerate(detections):
            if i not in used and item.keyword and d["word"] == item.word and start <= d["t_us"] <= end + max_late_us:
                used.add(i)
                matched.append(k)
                latencies.append((d.get("at_us", d["t_us"]) - end) / 1000.0)
                break
    false = [d for i, d in enumerate(detections) if i not in used]
    n_keywords = sum(1 for s in script if s.keyword)
    in_order = [script[k].word for k in matched] == [d["word"] for i, d in enumerate(detections) if i in used]
    lat = np.array(latencies) if latencies else np.zeros(1)
    return {"keywords": n_keywords, "detected": len(matched),
            "detection_rate": round(len(matched) / max(n_keywords, 1), 4), "false_detections": len(false),
            "false": false, "in_order": bool(in_order),
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 1),
            "latency_ms_p99": round(float(np.percentile(lat, 99)), 1),
            "latencies_ms": [round(v, 1) for v in latencies]}
