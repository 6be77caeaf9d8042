"""The espeak-ng keyword set: Speech Commands layout, deterministic from its seed, cached."""

import shutil

import numpy as np
import pytest

from sources.datasets.speech_commands import speech_commands_listing
from sources.datasets.synth_keywords import ensure_keywords, generate_keywords, which_set
from sources.wav import read_wav

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
SMALL = dict(words=("yes", "stop"), speakers=6, repeats=1, validation_percentage=20, testing_percentage=30,
             noise_seconds=1.0)


def test_which_set_is_the_speech_commands_rule():
    # sha1("00000000") % 2**27 * 100 / (2**27 - 1) = 9.56: validation under 10/10, test under 5/10
    assert which_set("00000000", 10, 10) == "validation" and which_set("00000000", 5, 10) == "test"
    assert which_set("00000000", 5, 4) == "train"
    shares = np.array([which_set(f"{i:08x}", 10, 10) for i in range(3000)])
    assert abs(np.mean(shares == "test") - 0.1) < 0.02 and abs(np.mean(shares == "validation") - 0.1) < 0.02


def test_generated_tree_is_deterministic_and_in_layout(tmp_path):
    a = generate_keywords(tmp_path / "a", seed=3, **SMALL)
    b = generate_keywords(tmp_path / "b", seed=3, **SMALL)
    c = generate_keywords(tmp_path / "c", seed=4, **SMALL)
    files = sorted(p.relative_to(a) for p in a.rglob("*.wav"))
    assert len(files) == 2 * 6 + 3
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.wav"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert (a / "yes").is_dir() and (a / "_background_noise_" / "pink_noise.wav").is_file()
    assert sorted(p.name for p in (c / "yes").iterdir()) != sorted(p.name for p in (a / "yes").iterdir())
    samples, rate = read_wav(next((a / "stop").iterdir()))
    assert rate == 16_000 and samples.shape == (16_000, 1) and np.abs(samples).max() > 0.1
    listed = {s: speech_commands_listing(a, s)[0] for s in ("train", "validation", "test")}
    assert sum(len(v) for v in listed.values()) == 12
    for split, refs in listed.items():  # whole speakers per split, by the hashing rule
        assert all(which_set(r.sample_id.split("/")[1].split("_")[0], 20, 30) == split for r in refs)


def test_ensure_keywords_generates_once(tmp_path):
    first = ensure_keywords(tmp_path, seed=1, **SMALL)
    stamp = (first / "yes").stat().st_mtime_ns
    again = ensure_keywords(tmp_path, seed=1, **SMALL)
    assert again == first and (first / "yes").stat().st_mtime_ns == stamp
    assert ensure_keywords(tmp_path, seed=2, **SMALL) != first
    assert len(list(tmp_path.iterdir())) == 2  # no staging folders left behind
