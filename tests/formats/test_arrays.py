""".npy / .npz / HDF5 event arrays: exact round trips over dtypes and layouts, slices
read without loading the file, seek by time, and FormatError on anything malformed."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import FormatError
from pipeline.events import EVENT_DTYPE
from sources.formats import detect_format, open_events
from sources.formats.arrays import Hdf5Reader, NpyReader, NpzReader, write_hdf5, write_npy, write_npz

h5py = pytest.importorskip("h5py")

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dvs"


def random_events(rng, n: int, width: int = 640, height: int = 480, t0: int = 0) -> np.ndarray:
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["t"] = t0 + np.sort(rng.integers(0, 10**8, n))
    events["x"] = rng.integers(0, width, n)
    events["y"] = rng.integers(0, height, n)
    events["p"] = rng.integers(0, 2, n)
    return events


def cast(events: np.ndarray, dtype: np.dtype) -> np.ndarray:
    out = np.empty(events.shape[0], dtype=dtype)
    for name in dtype.names:
        field = {"ts": "t", "timestamp": "t", "polarity": "p", "pol": "p"}.get(name, name)
        out[name] = events[field]
    return out


def read_in_pieces(reader, rng) -> np.ndarray:
    parts, t = [], 0
    while not (reader._done and reader._pending.count == 0):
        if rng.random() < 0.5:
            parts.append(reader.read(int(rng.integers(0, 100_000))))
        else:
            t += int(rng.integers(0, 5 * 10**6))
            parts.append(reader.read_until(t))
    return np.concatenate(parts)


DTYPES = [
    np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "i1")]),
    np.dtype([("x", "<i2"), ("y", "<i2"), ("p", "<i2"), ("t", "<i8")]),       # OpenEB EventCD
    np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "?")]),         # tonic's default
    np.dtype([("t", "<u4"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")]),
    np.dtype([("ts", ">u8"), ("x", ">i4"), ("y", ">i4"), ("polarity", "i1")]),  # aliases, big-endian
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: ",".join(f"{n}{d[n].str}" for n in d.names))
def test_npy_round_trip_dtypes(tmp_path, dtype):
    rng = np.random.default_rng(0)
    events = random_events(rng, 300_000)
    path = tmp_path / "events.npy"
    np.save(path, cast(events, dtype))
    assert detect_format(path) is NpyReader
    with open_events(path) as reader:
        np.testing.assert_array_equal(read_in_pieces(reader, rng), events)
        info = reader.info()
    assert (info.event_count, info.t_first, info.t_last) == (300_000, int(events["t"][0]), int(events["t"][-1]))


def test_polarity_minus_one_reads_as_zero(tmp_path):
    rng = np.random.default_rng(1)
    events = random_events(rng, 1000)
    signed = cast(events, np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "i1")]))
    signed["p"] = 2 * signed["p"] - 1
    np.save(tmp_path / "pm.npy", signed)
    np.testing.assert_array_equal(NpyReader(tmp_path / "pm.npy").read_all(), events)


def test_evt3_sample_npy():
    path = DATA / "evt3_sample.npy"
    if not path.exists():
        pytest.skip(f"{path} not present")
    expected = np.load(path, allow_pickle=False)
    assert expected.dtype == np.dtype({"names": ["t", "x", "y", "p"], "formats": ["<i8", "<i2", "<i2", "u1"],
                                       "offsets": [0, 8, 10, 12], "itemsize": 16})
    with open_events(path, width=1280, height=720) as reader:
        assert isinstance(reader, NpyReader)
        got = reader.read_all()
    for field in "txyp":
        np.testing.assert_array_equal(got[field], expected[field])


@pytest.mark.parametrize("layout", ["columns", "events"])
@pytest.mark.parametrize("compressed", [False, True])
def test_npz_round_trip(tmp_path, layout, compressed):
    rng = np.random.default_rng(2)
    events = random_events(rng, 200_000, 346, 260)
    path = tmp_path / "events.npz"
    write_npz(path, events, 346, 260, layout=layout, compressed=compressed)
    assert detect_format(path) is NpzReader
    with open_events(path) as reader:
        assert (reader.width, reader.height) == (346, 260)
        assert reader._cols.random_access is not compressed  # stored members are memory-mapped
        np.testing.assert_array_equal(read_in_pieces(reader, rng), events)
        for t in [*rng.choice(events["t"], 4), -1, int(events["t"][-1]) + 1]:
            reader.seek(int(t))
            np.testing.assert_array_equal(reader.read(1000), events[events["t"] >= t][:1000])


def test_npz_columns_of_mixed_widths_and_sensor_size(tmp_path):
    rng = np.random.default_rng(3)
    events = random_events(rng, 5000, 34, 34)
    path = tmp_path / "tonic.npz"
    np.savez(path, t=events["t"].astype("<u4"), x=events["x"].astype("u1"), y=events["y"].astype("<i4"),
             p=events["p"].astype(bool), sensor_size=np.array([34, 34, 2]))
    with NpzReader(path) as reader:
        assert (reader.width, reader.height) == (34, 34)
        np.testing.assert_array_equal(reader.read_all(), events)


@pytest.mark.parametrize("layout", ["columns", "compound"])
@pytest.mark.parametrize("compression", [None, "gzip"])
def test_hdf5_round_trip(tmp_path, layout, compression):
    rng = np.random.default_rng(4)
    events = random_events(rng, 200_000)
    path = tmp_path / "events.h5"
    write_hdf5(path, events, 640, 480, layout=layout, compression=compression)
    assert detect_format(path) is Hdf5Reader
    with open_events(path) as reader:
        assert (reader.width, reader.height, reader.info().event_count) == (640, 480, 200_000)
        np.testing.assert_array_equal(read_in_pieces(reader, rng), events)
        for t in [*rng.choice(events["t"], 4), -1, int(events["t"][-1]) + 1]:
            reader.seek(int(t))
            np.testing.assert_array_equal(reader.read(1000), events[events["t"] >= t][:1000])


def test_hdf5_dsec_layout_with_t_offset(tmp_path):
    rng = np.random.default_rng(5)
    events = random_events(rng, 10_000, t0=1_600_000_000_000_000)
    path = tmp_path / "dsec.h5"
    with h5py.File(path, "w") as fh:
        fh["events/t"] = (events["t"] - events["t"][0]).astype("<u4")
        fh["events/x"], fh["events/y"] = events["x"], events["y"]
        fh["events/p"] = events["p"].astype("u1")
        fh["t_offset"] = np.int64(events["t"][0])
        fh["events"].attrs["sensor_size"] = [640, 480]
    with Hdf5Reader(path) as reader:
        assert (reader.width, reader.height) == (640, 480)
        np.testing.assert_array_equal(reader.read_all(), events)
        reader.seek(int(events["t"][5000]))
        assert reader.read(1)["t"][0] == events["t"][5000]


def test_npy_reading_keeps_memory_flat(tmp_path):
    events = random_events(np.random.default_rng(6), 3_000_000)  # 39 MB on disk
    path = tmp_path / "big.npy"
    write_npy(path, events)
    del events
    tracemalloc.start()
    with NpyReader(path) as reader:
        count = sum(chunk.shape[0] for chunk in reader)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 3_000_000
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_array_errors(tmp_path):
    rng = np.random.default_rng(7)
    events = random_events(rng, 1000, 100, 100)

    def expect(array_or_writer, pattern, suffix=".npy", **options):
        path = tmp_path / f"bad{suffix}"
        if callable(array_or_writer):
            array_or_writer(path)
        else:
            np.save(path, array_or_writer, allow_pickle=True)
            path = tmp_path / "bad.npy"
        with pytest.raises(FormatError, match=pattern):
            with open_events(path, **options) as reader:
                reader.read_all()

    floats = cast(events, np.dtype([("t", "<f8"), ("x", "<u2"), ("y", "<u2"), ("p", "i1")]))
    expect(floats, "field t has dtype float64; event fields must be integers")
    expect(events[::-1], r"event 1: time goes backwards")
    expect(np.array([{"t": 1}], dtype=object), "pickle|not structured|Python objects")
    expect(events[["t", "x", "y"]], r"has no field 'p'")
    expect(np.zeros((10, 4), np.int64), "not 1-D|not structured")
    bad = events.copy()
    bad["p"][10] = 5
    expect(bad, r"event 10: polarity 5 not 0/1")
    expect(events, r"event \d+: x=\d+ outside 0..49 \(sensor 50x50\)", width=50, height=50)
    negative = cast(events, np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "i1")]))
    negative["y"][3] = -1
    expect(negative, r"event 3: y=-1 outside 0..65535")

    np.save(tmp_path / "full.npy", events)
    data = (tmp_path / "full.npy").read_bytes()
    expect(lambda p: p.write_bytes(data[:-7]), "cannot read")
    expect(lambda p: p.write_bytes(data[:50]), "cannot read")
    expect(lambda p: np.savez(p, t=events["t"], x=events["x"], y=events["y"][:-1], p=events["p"]),
           "differ in length", suffix=".npz")

    def without_p(path):
        write_hdf5(path, events)
        with h5py.File(path, "a") as fh:
            del fh["events/p"]

    expect(without_p, "has no field 'p'", suffix=".h5")
    expect(lambda p: h5py.File(p, "w").close(), "no 'events' or 'CD/events'", suffix=".h5")


@pytest.mark.parametrize("writer,suffix,trials", [
    (lambda p, e: write_npy(p, e), ".npy", 200),
    (lambda p, e: write_npz(p, e, 64, 64), ".npz", 200),
    (lambda p, e: write_npz(p, e, 64, 64, compressed=True, layout="events"), ".npz", 200),
    (lambda p, e: write_hdf5(p, e, 64, 64), ".h5", 100),
])
def test_array_fuzz(tmp_path, writer, suffix, trials):
    """Random byte flips and truncations: a full read or FormatError, never another exception."""
    rng = np.random.default_rng(8)
    good_path = tmp_path / f"good{suffix}"
    writer(good_path, random_events(rng, 500, 64, 64))
    good = good_path.read_bytes()
    path = tmp_path / f"fuzz{suffix}"
    errors = 0
    for _ in range(trials):
        data = bytearray(good)
        if rng.random() < 0.6:
            for _ in range(int(rng.integers(1, 9))):
                data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        else:
            del data[int(rng.integers(0, len(data))):]
        path.write_bytes(bytes(data))
        try:
            with open_events(path, format={".npy": "npy", ".npz": "npz", ".h5": "hdf5"}[suffix]) as reader:
                events = reader.read_all()
                reader.info()
            assert np.all(np.diff(events["t"]) >= 0)
        except FormatError as exc:
            assert str(path) in str(exc)
            errors += 1
    assert errors > trials // 10
