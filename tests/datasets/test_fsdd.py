"""FSDD parsing and splits on the real recordings in ../shared/data/fsdd; bad files."""

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import ConfigError, FormatError
from pipeline.testing import run_source
from sources.datasets.fsdd import FSDDReplay, fsdd_listing, parse_name
from sources.wav import write_wav

FSDD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fsdd"
SPEAKERS = {"george", "jackson", "lucas", "nicolas", "theo"}


def test_parse_name():
    assert parse_name("7_jackson_32.wav") == (7, "jackson", 32)
    assert parse_name("7_jackson.wav") is None
    assert parse_name("x_jackson_1.wav") is None


def test_standard_split_on_real_recordings():
    train, test = fsdd_listing(FSDD, "train"), fsdd_listing(FSDD, "test")
    assert (len(train), len(test)) == (2250, 250)
    assert {int(r.sample_id.rsplit("_", 1)[1]) for r in test} == {0, 1, 2, 3, 4}
    assert min(int(r.sample_id.rsplit("_", 1)[1]) for r in train) == 5
    assert not {r.sample_id for r in train} & {r.sample_id for r in test}
    assert {r.extra["speaker"] for r in test} == SPEAKERS
    assert np.bincount([r.label for r in test]).tolist() == [25] * 10
    assert all(r.label == int(r.sample_id[0]) for r in train)


def test_held_out_speaker_split():
    test = fsdd_listing(FSDD, "test", "speaker", "lucas")
    train = fsdd_listing(FSDD, "train", "speaker", "lucas")
    assert len(test) == 500 and {r.extra["speaker"] for r in test} == {"lucas"}
    assert len(train) == 2000 and "lucas" not in {r.extra["speaker"] for r in train}
    with pytest.raises(ConfigError, match="nobody"):
        fsdd_listing(FSDD, "test", "speaker", "nobody")


def test_replay_chunks_carry_sample_meta_and_tile():
    source = FSDDReplay(root=str(FSDD), split="test", indices=[0, 1, 2], chunk_us=20_000)
    chunks = run_source(source)
    starts = [c for c in chunks if c.meta.get("sample_start")]
    ends = [c for c in chunks if c.meta.get("sample_end")]
    assert [c.meta["sample_id"] for c in starts] == ["0_george_0", "0_george_1", "0_george_2"]
    assert [c.meta["sample_id"] for c in ends] == [c.meta["sample_id"] for c in starts]
    for prev, nxt in zip(chunks[:-1], chunks[1:]):
        assert nxt.t_start == prev.t_end and nxt.first_sample == prev.first_sample + prev.samples.shape[0]
        if nxt.meta["sample_id"] != prev.meta["sample_id"]:
            assert prev.meta.get("sample_end") and nxt.meta.get("sample_start")
    audio = np.concatenate([c.samples for c in chunks if c.meta["sample_id"] == "0_george_1"])
    with wave.open(str(FSDD / "recordings" / "0_george_1.wav")) as w:
        assert audio.shape[0] == w.getnframes()
    assert source.result()["samples"] == 3


def test_shuffle_is_seeded():
    ids = lambda seed: [c.meta["sample_id"] for c in run_source(  # noqa: E731
        FSDDReplay(root=str(FSDD), split="test", shuffle=True, seed=seed, limit=5, chunk_us=10**7))]
    assert ids(1) == ids(1) and ids(1) != ids(2)


@pytest.fixture
def bad_tree(tmp_path):
    for name in ("1_theo_7.wav", "2_theo_8.wav"):
        shutil.copy(FSDD / "recordings" / name, tmp_path / name)
    write_wav(tmp_path / "3_theo_1.wav", np.zeros(800), 16_000)  # wrong rate
    write_wav(tmp_path / "4_theo_1.wav", np.zeros((800, 2)), 8_000)  # two channels
    write_wav(tmp_path / "5_theo_1.wav", np.zeros(0), 8_000)  # empty
    raw = (FSDD / "recordings" / "6_theo_9.wav").read_bytes()
    (tmp_path / "6_theo_1.wav").write_bytes(raw[: len(raw) // 2])  # truncated
    (tmp_path / "notes_here.wav").write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize("name, field", [("3_theo_1", "framerate"), ("4_theo_1", "nchannels"),
                                         ("5_theo_1", "nframes"), ("6_theo_1", "truncated")])
def test_bad_file_raises_naming_file_and_field(bad_tree, name, field):
    with pytest.warns(UserWarning, match="notes_here"):
        refs = fsdd_listing(bad_tree, "all")
    index = [r.sample_id for r in refs].index(name)
    source = FSDDReplay(root=str(bad_tree), split="all", indices=[index])
    with pytest.raises(FormatError, match=rf"{name}\.wav.*{field}"):
        with pytest.warns(UserWarning):
            run_source(source)


def test_bad_files_skipped_and_counted(bad_tree):
    source = FSDDReplay(root=str(bad_tree), split="all", on_error="skip")
    with pytest.warns(UserWarning):
        chunks = run_source(source)
    assert {c.meta["sample_id"] for c in chunks} == {"1_theo_7", "2_theo_8"}
    result = source.result()
    assert result["samples"] == 2 and result["skipped"] == 4 and len(result["skip_reasons"]) == 4
