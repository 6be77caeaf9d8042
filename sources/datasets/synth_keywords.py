"""A small Speech-Commands-layout keyword set synthesised with espeak-ng: the project's
bundled default for demos and tests on machines without the real data sets.

Each synthetic "speaker" is an espeak-ng voice (accent + voice variant) with its own
pitch and speaking rate; every utterance jitters those, lands at a random
offset in a 1 s, 16 kHz clip, gets a random level and additive noise at a random SNR.
Speakers go to the validation/test splits by the Speech Commands hashing rule (sha1 of
the speaker id), so test speakers are never heard in training. Everything is drawn
from `seed`: the same espeak-ng version gives the same files.

    generate_keywords(out_dir, seed=0)        # write the tree
    ensure_keywords(cache_dir, seed=0)        # generate into a cache folder if missing
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import SpikestreamError
from sources.datasets.speech_commands import GSC_RATE_HZ, KEYWORDS, NOISE_DIR
from sources.wav import read_wav, write_wav

ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "klatt3", "adam", "andy", "john", "david", "max", "paul", "steph", "linda", "annie", "benjamin",
            "edward", "rob", "robert", "quincy", "zac", "shelby", "norbert", "travis", "victor", "michel")
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1  # the Speech Commands split rule's constant
MANIFEST = "synth_manifest.json"
FORMAT_VERSION = 1


def which_set(speaker_id: str, validation_percentage: float, testing_percentage: float) -> str:
    """The Speech Commands split rule: a stable hash of the speaker id picks the split."""
    hashed = int(hashlib.sha1(speaker_id.encode()).hexdigest(), 16)
    percentage = (hashed % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + testing_percentage:
        return "test"
    return "train"


def espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpikestreamError("espeak-ng not found on PATH: install it (Debian: apt-get install espeak-ng)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"text-to-speech:\s*(\S+)", out)
    return m.group(1) if m else out.strip()


def _speak(text: str, voice: str, pitch: int, rate_wpm: int, work: Path, name: str) -> np.ndarray:
    path = work / f"{name}.wav"
    cmd = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(rate_wpm), "-w", str(path), text]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not path.is_file():  # it exits 0 on some bad options
        raise SpikestreamError(f"espeak-ng failed for {text!r} with voice {voice}: {done.stderr.strip()}")
    samples, rate = read_wav(path)
    path.unlink()
    from scipy.signal import resample_poly

    g = np.gcd(GSC_RATE_HZ, rate)
    return resample_poly(samples[:, 0].astype(np.float64), GSC_RATE_HZ // g, rate // g)


def _trim(x: np.ndarray, rel_threshold: float = 0.02) -> np.ndarray:
    loud = np.flatnonzero(np.abs(x) > rel_threshold * max(float(np.max(np.abs(x))), 1e-9))
    return x[loud[0]:loud[-1] + 1] if loud.size else x


def _colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power spectrum 1/f^exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    noise = np.fft.irfft(spectrum / f ** (exponent / 2.0), n)
    return noise / np.sqrt(np.mean(noise**2))


def speaker_table(speakers: int, seed: int) -> list[dict[str, Any]]:
    """Per synthetic speaker: id, espeak voice, pitch, speaking rate."""
    rng = np.random.default_rng([seed, 1])
    table = []
    for i in range(speakers):
        voice = f"{ACCENTS[int(rng.integers(len(ACCENTS)))]}+{VARIANTS[int(rng.integers(len(VARIANTS)))]}"
        speaker_id = hashlib.sha1(f"synth-{seed}-{i}".encode()).hexdigest()[:8]
        table.append({"id": speaker_id, "voice": voice, "pitch": int(rng.integers(15, 86)),
                      "rate_wpm": int(rng.integers(120, 221))})
    return table


def _utterance_jobs(words: list[str], speakers: list[dict[str, Any]], repeats: int, seed: int
                    ) -> list[dict[str, Any]]:
    jobs = []
    for s, speaker in enumerate(speakers):
        for w, word in enumerate(words):
            for r in range(repeats):
                rng = np.random.default_rng([seed, 2, s, w, r])
                jobs.append({"word": word, "speaker": speaker["id"], "repeat": r, "voice": speaker["voice"],
                             "pitch": int(np.clip(speaker["pitch"] + rng.integers(-8, 9), 0, 99)),
                             "rate_wpm": int(np.clip(speaker["rate_wpm"] * rng.uniform(0.85, 1.15), 80, 300)),
                             "level": float(rng.uniform(0.2, 0.9)), "snr_db": float(rng.uniform(10.0, 35.0)),
                             "noise_color": float(rng.uniform(0.0, 2.0)), "offset": float(rng.uniform()),
                             "noise_seed": int(rng.integers(2**31))})
    return jobs


def _render(job: dict[str, Any], work: Path) -> np.ndarray:
    name = f"{job['speaker']}_{job['word']}_{job['repeat']}"
    x = _trim(_speak(job["word"], job["voice"], job["pitch"], job["rate_wpm"], work, name))
    n = GSC_RATE_HZ
    if x.shape[0] > n:  # fast enough voices fit; a slow one is cut at 1 s like a real clip
        x = x[:n]
    clip = np.zeros(n)
    start = int(job["offset"] * (n - x.shape[0]))
    clip[start:start + x.shape[0]] = x * (job["level"] / max(float(np.max(np.abs(x))), 1e-9))
    speech_rms = np.sqrt(np.mean(x**2)) * job["level"] / max(float(np.max(np.abs(x))), 1e-9)
    noise = _colored_noise(np.random.default_rng(job["noise_seed"]), n, job["noise_color"])
    clip += noise * speech_rms / 10 ** (job["snr_db"] / 20.0)
    return np.clip(clip, -1.0, 1.0).astype(np.float32)


def generate_keywords(out_dir: str | Path, *, words: tuple[str, ...] | list[str] = KEYWORDS, speakers: int = 40,
                      repeats: int = 2, seed: int = 0, validation_percentage: float = 10.0,
                      testing_percentage: float = 20.0, noise_seconds: float = 10.0, workers: int = 2,
                      progress: bool = False) -> Path:
    """Write a Speech-Commands-layout keyword set to `out_dir` (created; must be empty)."""
    version = espeak_version()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise SpikestreamError(f"synth keywords: {out} is not empty")
    words = list(words)
    table = speaker_table(speakers, seed)
    jobs = _utterance_jobs(words, table, repeats, seed)
    split_of = {s["id"]: which_set(s["id"], validation_percentage, testing_percentage) for s in table}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            clips = pool.map(lambda job: _render(job, work), jobs)
            if progress:
                from tqdm import tqdm

                clips = tqdm(clips, total=len(jobs), desc="synthesising keywords", unit="clip")
            lists: dict[str, list[str]] = {"validation": [], "test": []}
            for job, clip in zip(jobs, clips):
                relative = f"{job['word']}/{job['speaker']}_nohash_{job['repeat']}.wav"
                (out / job["word"]).mkdir(exist_ok=True)
                write_wav(out / relative, clip, GSC_RATE_HZ)
                if split_of[job["speaker"]] in lists:
                    lists[split_of[job["speaker"]]].append(relative)
    (out / "validation_list.txt").write_text("".join(f"{r}\n" for r in sorted(lists["validation"])))
    (out / "testing_list.txt").write_text("".join(f"{r}\n" for r in sorted(lists["test"])))
    noise_dir = out / NOISE_DIR
    noise_dir.mkdir()
    for k, (name, exponent) in enumerate((("white_noise", 0.0), ("pink_noise", 1.0), ("brown_noise", 2.0))):
        noise = _colored_noise(np.random.default_rng([seed, 3, k]), int(noise_seconds * GSC_RATE_HZ), exponent)
        write_wav(noise_dir / f"{name}.wav", np.clip(0.25 * noise, -1.0, 1.0), GSC_RATE_HZ)
    manifest = {"format_version": FORMAT_VERSION, "espeak_ng": version,
                "params": _params(words, speakers, repeats, seed, validation_percentage, testing_percentage,
                                  noise_seconds),
                "speakers": [{**s, "split": split_of[s["id"]]} for s in table],
                "counts": {split: sum(1 for j in jobs if split_of[j["speaker"]] == split)
                           for split in ("train", "validation", "test")}}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return out


def _params(words, speakers, repeats, seed, validation_percentage, testing_percentage, noise_seconds) -> dict:
    return {"words": list(words), "speakers": int(speakers), "repeats": int(repeats), "seed": int(seed),
            "validation_percentage": float(validation_percentage), "testing_percentage": float(testing_percentage),
            "noise_seconds": float(noise_seconds)}


def ensure_keywords(cache_dir: str | Path, *, words: tuple[str, ...] | list[str] = KEYWORDS, speakers: int = 40,
                    repeats: int = 2, seed: int = 0, validation_percentage: float = 10.0,
                    testing_percentage: float = 20.0, noise_seconds: float = 10.0, workers: int = 2,
                    progress: bool = False) -> Path:
    """The generated set for these parameters under `cache_dir`, generating it if missing.

    The folder name is a hash of the parameters; generation writes a temporary folder
    and renames it into place, so an interrupted run never leaves a half set behind."""
    params = _params(words, speakers, repeats, seed, validation_percentage, testing_percentage, noise_seconds)
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    target = Path(cache_dir) / f"synth_keywords-{digest}"
    manifest = target / MANIFEST
    if manifest.is_file():
        try:
            if json.loads(manifest.read_text()).get("params") == params:
                return target
        except json.JSONDecodeError:
            pass
        raise SpikestreamError(f"synth keywords: {target} holds another or a damaged set; remove it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".tmp", dir=target.parent))
    try:
        generate_keywords(staging / "set", words=words, speakers=speakers, repeats=repeats, seed=seed,
                          validation_percentage=validation_percentage, testing_percentage=testing_percentage,
                          noise_seconds=noise_seconds, workers=workers, progress=progress)
        try:
            (staging / "set").rename(target)
        except OSError:
            if not manifest.is_file():  # not a concurrent generator that won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def contract_tree() -> Path:
    """A tiny Speech-Commands tree of tones (no espeak-ng needed) for the stage contract
    test, made once in the temporary folder (renamed into place, so concurrent tests agree)."""
    root = Path(tempfile.gettempdir()) / f"spikestream-gsc-contract-v{FORMAT_VERSION}"
    if (root / "testing_list.txt").is_file():
        return root
    staging = Path(tempfile.mkdtemp(prefix=root.name + ".tmp", dir=root.parent))
    t = np.arange(GSC_RATE_HZ // 4) / GSC_RATE_HZ
    for w, word in enumerate(("yes", "no", "cat")):
        (staging / word).mkdir()
        for s in range(2):
            write_wav(staging / word / f"spk{s}_nohash_0.wav",
                      0.3 * np.sin(2 * np.pi * (300 + 200 * w + 50 * s) * t), GSC_RATE_HZ)
    (staging / "validation_list.txt").write_text("")
    (staging / NOISE_DIR).mkdir()
    write_wav(staging / NOISE_DIR / "white_noise.wav",
              0.1 * np.random.default_rng(0).standard_normal(GSC_RATE_HZ), GSC_RATE_HZ)
    (staging / "testing_list.txt").write_text("yes/spk1_nohash_0.wav\n")
    try:
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return root
