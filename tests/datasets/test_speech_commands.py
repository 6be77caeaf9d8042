"""Speech Commands v0.02 layout: split rules, tasks and background mixing on a generated tree."""

import numpy as np
import pytest

from pipeline.errors import FormatError
from pipeline.testing import run_source
from sources.datasets.speech_commands import (
    KEYWORDS,
    SILENCE,
    UNKNOWN,
    SpeechCommandsReplay,
    speech_commands_listing,
)
from sources.wav import write_wav

RATE = 16_000
WORDS = ["yes", "no", "go", "bed", "cat"]  # three keywords, two unknown words


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("gsc")
    t = np.arange(RATE // 8) / RATE
    for w, word in enumerate(WORDS):
        (root / word).mkdir()
        for s in range(6):
            tone = 0.2 * np.sin(2 * np.pi * (200 + 150 * w + 10 * s) * t)
            write_wav(root / word / f"spk{s:02d}ab_nohash_0.wav", tone, RATE)
    # speakers 0-3 train, 4 validation, 5 test; one of speaker 5's files in both lists goes to test
    val = [f"{w}/spk04ab_nohash_0.wav" for w in WORDS] + ["yes/spk05ab_nohash_0.wav"]
    test = [f"{w}/spk05ab_nohash_0.wav" for w in WORDS]
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    (root / "_background_noise_").mkdir()
    write_wav(root / "_background_noise_" / "white_noise.wav", 0.3 * np.random.default_rng(0).uniform(-1, 1, RATE * 3),
              RATE)
    return root


def test_files_named_in_lists_land_in_their_split_the_rest_in_train(tree):
    splits = {s: speech_commands_listing(tree, s)[0] for s in ("train", "validation", "test")}
    ids = {s: {r.sample_id for r in refs} for s, refs in splits.items()}
    assert ids["test"] == {f"{w}/spk05ab_nohash_0.wav" for w in WORDS}
    assert ids["validation"] == {f"{w}/spk04ab_nohash_0.wav" for w in WORDS}
    assert ids["train"] == {f"{w}/spk{s:02d}ab_nohash_0.wav" for w in WORDS for s in range(4)}
    assert not any("_background_noise_" in i for i in ids["train"])


def test_words_task_labels_are_sorted_folders(tree):
    refs, classes = speech_commands_listing(tree, "train", "words")
    assert classes == sorted(WORDS)
    assert all(classes[r.label] == r.sample_id.split("/")[0] for r in refs)


def test_12class_task(tree):
    refs, classes = speech_commands_listing(tree, "train", "12class", silence_fraction=0.5, unknown_fraction=0.25)
    assert classes == [SILENCE, UNKNOWN, *KEYWORDS]
    labels = [classes[r.label] for r in refs]
    assert sum(label in KEYWORDS for label in labels) == 12  # yes, no, go x 4 train speakers
    assert labels.count(UNKNOWN) == 3 and labels.count(SILENCE) == 6
    unknown = [r.sample_id.split("/")[0] for r in refs if classes[r.label] == UNKNOWN]
    assert set(unknown) <= {"bed", "cat"}
    assert refs == speech_commands_listing(tree, "train", "12class", 0.5, 0.25)[0]  # deterministic


def test_background_mixing_is_per_sample_and_order_free(tree):
    def audio(**kw):
        source = SpeechCommandsReplay(root=str(tree), split="train", chunk_us=10**7, background_frequency=1.0, **kw)
        out = {}
        for c in run_source(source):
            out.setdefault(c.meta["sample_id"], []).append(c.samples)
        return {k: np.concatenate(v) for k, v in out.items()}

    plain = audio(indices=[0, 5])
    shuffled = audio(shuffle=True, seed=0)
    assert all(np.array_equal(plain[k], shuffled[k]) for k in plain)
    clean = audio(indices=[0], background_volume=0.0)
    key = next(iter(clean))
    assert clean[key].shape == (RATE, 1)  # padded to 1 s
    assert not np.array_equal(clean[key], plain[key])
    test_split = SpeechCommandsReplay(root=str(tree), split="test", chunk_us=10**7, background_frequency=1.0)
    sample = np.concatenate([c.samples for c in run_source(test_split)][:1])
    assert np.all(sample[RATE // 8:] == 0)  # no mixing outside background_splits


def test_silence_clips_come_from_noise(tree):
    source = SpeechCommandsReplay(root=str(tree), split="test", task="12class", silence_fraction=1.0, chunk_us=10**7)
    chunks = run_source(source)
    silence = [c for c in chunks if c.meta["label"] == 0]
    assert len(silence) == 3 and all(c.samples.shape == (RATE, 1) and np.abs(c.samples).max() > 0 for c in silence)


def test_missing_list_file_is_named(tmp_path, tree):
    (tmp_path / "yes").mkdir()
    write_wav(tmp_path / "yes" / "a_nohash_0.wav", np.zeros(100), RATE)
    (tmp_path / "validation_list.txt").write_text("")
    with pytest.raises(FormatError, match="testing_list.txt"):
        speech_commands_listing(tmp_path, "train")
