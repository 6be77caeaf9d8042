"""SHD/SSC reader against tonic's reader, on a file written here in the official layout and
on one made by our converter; bad files name the file and the field."""

import gzip
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from pipeline.errors import FormatError
from pipeline.testing import run_source
from sources.datasets.shd import SHDReplay, read_hsd, write_hsd

FSDD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fsdd"


def tonic_samples(path: Path):
    """Every sample through tonic's SHD reader (no download: pointed at our file)."""
    tonic = pytest.importorskip("tonic")
    reader = object.__new__(tonic.datasets.SHD)
    reader.location_on_system, reader.data_filename = str(path.parent), path.name
    reader.transform = reader.target_transform = None
    return [reader[i] for i in range(len(reader))]


def official_file(path: Path, times_dtype: str) -> Path:
    """Written with h5py exactly as the released shd_*.h5 files are laid out."""
    rng = np.random.default_rng(5)
    with h5py.File(path, "w") as f:
        n = 6
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.dtype(times_dtype)))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.dtype("uint16")))
        for i in range(n):
            k = int(rng.integers(50, 400))
            times[i] = np.sort(rng.uniform(0, 0.9, k)).astype(times_dtype)
            units[i] = rng.integers(0, 700, k).astype(np.uint16)
        f.create_dataset("labels", data=np.array([0, 19, 3, 7, 7, 12], np.uint16))
        f.create_dataset("extra/speaker", data=np.array([1, 0, 2, 1, 2, 0], np.uint16))
        keys = [f"{lang}-{d}" for lang in ("english", "german") for d in range(10)]
        f.create_dataset("extra/keys", data=np.array([k.encode() for k in keys]))
        f.create_dataset("extra/meta_info/gender", data=np.array([b"female", b"male", b"male"]))
        f.create_dataset("extra/meta_info/age", data=np.array([28, 31, 45], np.uint16))
        f.create_dataset("extra/meta_info/body_height", data=np.array([1.7, 1.8, 1.75]))
    return path


def assert_matches_tonic(path: Path):
    ours, labels = read_hsd(path)
    theirs = tonic_samples(path)
    assert len(ours) == len(theirs)
    for i, (events, (tev, target)) in enumerate(zip(ours, theirs)):
        order = np.argsort(tev["t"], kind="stable")
        assert int(target) == int(labels[i])
        assert np.array_equal(events["x"], tev["x"][order].astype(np.uint16)), f"sample {i}: channels differ"
        # tonic truncates times * 1e6 to int, we round to the nearest µs
        diff = events["t"] - tev["t"][order]
        assert diff.min() >= 0 and diff.max() <= 1, f"sample {i}: times differ by {diff.min()}..{diff.max()} µs"
        assert np.all(events["y"] == 0) and np.all(events["p"] == 1)
    return ours


@pytest.mark.parametrize("times_dtype", ["float16", "float32", "float64"])
def test_official_layout_matches_tonic(tmp_path, times_dtype):
    path = official_file(tmp_path / "shd_test.h5", times_dtype)
    ours = assert_matches_tonic(path)
    with h5py.File(path) as f:  # rounding: nearest µs of the stored value
        exact = np.asarray(f["spikes/times"][2]).astype(np.float64) * 1e6
    assert np.array_equal(np.sort(ours[2]["t"]), np.sort(np.rint(exact).astype(np.int64)))


def test_converter_file_matches_tonic_and_the_cochlea(tmp_path):
    from encoders.cochlea import cochlea_encode
    from sources.datasets.convert import convert_to_hsd
    from sources.datasets.fsdd import FSDDReplay
    from sources.wav import read_wav

    source = FSDDReplay(root=str(FSDD), split="test", indices=[3, 50, 200])
    path = convert_to_hsd(source, tmp_path / "fsdd_test.h5", cochlea={"channels": 40})
    ours = assert_matches_tonic(path)
    audio, rate = read_wav(FSDD / "recordings" / "2_george_0.wav")
    direct = cochlea_encode(audio, rate, channels=40)
    assert np.array_equal(ours[1], direct)  # exact µs round trip through seconds in float64
    with h5py.File(path) as f:
        assert [k.decode() for k in f["extra/keys"][()]] == [str(d) for d in range(10)]
        assert f["labels"][()].tolist() == [0, 2, 8]


def test_replay_stage_places_samples_back_to_back(tmp_path):
    path = official_file(tmp_path / "shd_train.h5", "float32")
    events, labels = read_hsd(path)
    chunks = run_source(SHDReplay(path=str(path), gap_us=1000, chunk_us=50_000))
    ends = [c for c in chunks if c.meta.get("sample_end")]
    assert [c.meta["label"] for c in ends] == labels.tolist()
    assert [c.meta["sample_id"] for c in ends] == [f"shd_train/{i}" for i in range(6)]
    t0 = 0
    for i, ev in enumerate(events):
        got = np.concatenate([c.events for c in chunks if c.meta["sample_id"] == f"shd_train/{i}"])
        assert np.array_equal(got["t"] - t0, ev["t"]) and np.array_equal(got["x"], ev["x"])
        t0 += int(ev["t"][-1]) + 1 + 1000
    assert chunks[-1].t_end == t0 and chunks[0].geometry.width == 700


def test_gzipped_file_reads_the_same(tmp_path):
    path = official_file(tmp_path / "ssc_valid.h5", "float16")
    packed = tmp_path / "ssc_valid.h5.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    plain, gz = read_hsd(path), read_hsd(packed)
    assert all(np.array_equal(a, b) for a, b in zip(plain[0], gz[0])) and np.array_equal(plain[1], gz[1])
    internal = write_hsd(tmp_path / "internal.h5", [(np.array([0.1]), np.array([5]))], np.array([0]), ["a"],
                         compression="gzip")
    assert read_hsd(internal)[0][0]["x"].tolist() == [5]
    (tmp_path / "cut.h5.gz").write_bytes(packed.read_bytes()[:200])
    with pytest.raises(FormatError, match="cut.h5.gz.*gzip"):
        read_hsd(tmp_path / "cut.h5.gz")


def _edit(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)
    return path


@pytest.mark.parametrize("case, message", [
    ("no_units", "missing field 'spikes/units'"),
    ("no_labels", "missing field 'labels'"),
    ("label_range", "field 'labels' entry 1 is 25, outside \\[0, 20\\)"),
    ("unit_range", "sample 0: field 'spikes/units' holds unit 700"),
    ("short_labels", "'spikes/times' holds \\(6,\\) entries but 'labels' holds 5"),
])
def test_bad_fields_are_named(tmp_path, case, message):
    path = official_file(tmp_path / "bad.h5", "float32")
    if case == "no_units":
        _edit(path, lambda f: f.__delitem__("spikes/units"))
    elif case == "no_labels":
        _edit(path, lambda f: f.__delitem__("labels"))
    elif case == "label_range":
        _edit(path, lambda f: f["labels"].__setitem__(1, 25))
    elif case == "unit_range":
        _edit(path, lambda f: f["spikes/units"].__setitem__(0, np.array([3, 700], np.uint16)))
        _edit(path, lambda f: f["spikes/times"].__setitem__(0, np.array([0.1, 0.2], np.float32)))
    elif case == "short_labels":
        _edit(path, lambda f: (f.__delitem__("labels"), f.create_dataset("labels", data=np.zeros(5, np.uint16))))
    with pytest.raises(FormatError, match=f"bad.h5.*{message}"):
        read_hsd(path)


def test_bad_sample_skipped_and_counted(tmp_path):
    path = official_file(tmp_path / "bad.h5", "float32")
    _edit(path, lambda f: f["spikes/units"].__setitem__(2, np.full(3, 900, np.uint16)))
    _edit(path, lambda f: f["spikes/times"].__setitem__(2, np.array([0.1, 0.2, 0.3], np.float32)))
    source = SHDReplay(path=str(path), on_error="skip")
    with pytest.warns(UserWarning, match="unit 900"):
        chunks = run_source(source)
    assert len({c.meta["sample_id"] for c in chunks}) == 5 and source.result()["skipped"] == 1


@pytest.mark.parametrize("content", [b"", b"\x89HDF\r\n\x1a\n" + bytes(100)])
def test_empty_or_truncated_file(tmp_path, content):
    path = tmp_path / "shd_train.h5"
    path.write_bytes(content)
    with pytest.raises(FormatError, match="shd_train.h5.*not a readable HDF5"):
        read_hsd(path)
    assert os.path.getsize(path) == len(content)
