"""Prophesee EVT 3.0, EVT 2.0 and DAT readers/writers: exact against the peers (the `evt3`
package, expelliarmus) on the real sample files and on files our writers produce,
invariant to block size and read pattern, and FormatError (never a crash, a hang or another
exception) on damaged files."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import ChunkError, FormatError
from pipeline.events import EVENT_DTYPE
from sources.formats import detect_format, open_events
from sources.formats.dat import DatReader, write_dat
from sources.formats.evt2 import Evt2Reader, write_evt2
from sources.formats.evt3 import TRIGGER_DTYPE, Evt3Reader, write_evt3
from tests.formats._aestream import aestream_events

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dvs"
EVT3_HEADER = b"% evt 3.0\n% format EVT3;height=720;width=1280\n% end\n"
EVT2_HEADER = b"% evt 2.0\n% geometry 640x480\n% end\n"


def data_file(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"sample file {path} not present")
    return path


def raw_file(path: Path, header: bytes, words, dtype) -> Path:
    path.write_bytes(header + np.asarray(words, dtype=dtype).tobytes())
    return path


def events_of(rows) -> np.ndarray:
    return np.array([tuple(r) for r in rows], dtype=EVENT_DTYPE)


def random_events(rng, n: int, width: int, height: int, t_max: int = 5_000_000, t0: int = 0) -> np.ndarray:
    """Sorted events where a third come in same-time, same-row runs of increasing x (EVT 3.0 vectors)."""
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(t0, t0 + t_max, n))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n)
    for start in rng.choice(max(n // 10 - 1, 1), n // 30, replace=False) * 10:
        run = ev[start:start + 10]
        run["t"], run["y"], run["p"] = run["t"][0], run["y"][0], run["p"][0]
        run["x"] = min(int(run["x"][0]), width - 40) + np.cumsum(rng.integers(1, 4, run.shape[0]))
    return ev


def peer_events(x, y, p, t) -> np.ndarray:
    out = np.empty(len(t), dtype=EVENT_DTYPE)
    out["t"], out["x"], out["y"], out["p"] = t, x, y, p
    return out


def evt3_package(path) -> np.ndarray:
    evt3 = pytest.importorskip("evt3")
    e = evt3.decode_file(str(path))
    return peer_events(e.x, e.y, e.p, e.t.astype(np.int64))


def expelliarmus(path, encoding: str) -> np.ndarray:
    wizard = pytest.importorskip("expelliarmus").Wizard(encoding=encoding)
    a = wizard.read(str(path))
    return peer_events(a["x"], a["y"], a["p"], a["t"])


def expelliarmus_evt3_times(path, header_size: int, ours: np.ndarray) -> np.ndarray:
    """Our times as expelliarmus reports EVT 3.0 times: it counts every decrease of
    EVT_TIME_LOW as a time-high overflow (+4096 µs), although the EVT_TIME_HIGH word that
    follows already advanced the time. (Valid for files without out-of-sensor events.)"""
    raw = Path(path).read_bytes()[header_size:]
    w = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<u2").astype(np.int64)
    kind = w >> 12
    popcount = np.array([bin(v).count("1") for v in range(4096)])
    per_word = (kind == 2) + np.where(kind == 4, popcount[w & 0xFFF], 0) + np.where(kind == 5, popcount[w & 0xFF], 0)
    source_word = np.repeat(np.arange(w.shape[0]), per_word)
    low_words = np.flatnonzero(kind == 6)
    drops = np.zeros(w.shape[0], dtype=np.int64)
    drops[low_words[1:]] = (w[low_words[1:]] & 0xFFF) < (w[low_words[:-1]] & 0xFFF)
    assert source_word.shape[0] == ours.shape[0]
    return ours["t"] + 4096 * np.cumsum(drops)[source_word]


def read_in_pieces(reader, rng) -> np.ndarray:
    """Everything, by a random mix of read(n) and read_until(t)."""
    parts, t = [], 0
    while not (reader._done and reader._pending.count == 0):
        if rng.random() < 0.5:
            parts.append(reader.read(int(rng.integers(0, 5000))))
        else:
            t = max(t, int(parts[-1]["t"][-1]) if parts and parts[-1].shape[0] else t) + int(rng.integers(0, 3000))
            parts.append(reader.read_until(t))
    return np.concatenate(parts)


# crafted word streams with every word type ----------------------------------------------
def th3(v): return 0x8000 | v  # noqa: E704 - EVT 3.0 word builders
def tl3(v): return 0x6000 | v  # noqa: E704
def y3(v): return v  # noqa: E704
def x3(x, p): return 0x2000 | p << 11 | x  # noqa: E704


CRAFTED_EVT3 = [y3(1), x3(3, 1), th3(10), tl3(3), y3(7), x3(100, 1), 0xA000 | 2 << 8 | 1, 0x3000 | 200,
                0x4000 | 0b101, 0x5000 | 0b10000001, 0xE001, 0xF005, 0xF006, tl3(9), x3(5, 0), th3(4094),
                x3(6, 1), th3(4095), th3(0), tl3(2), 0xA000 | 15 << 8, y3(719), x3(1279, 1)]
CRAFTED_EVT3_EVENTS = events_of([(40963, 100, 7, 1), (40963, 200, 7, 0), (40963, 202, 7, 0), (40963, 212, 7, 0),
                                 (40963, 219, 7, 0), (40969, 5, 7, 0), (4094 << 12, 6, 7, 1),
                                 ((1 << 24) + 2, 1279, 719, 1)])
CRAFTED_EVT3_TRIGGERS = np.array([(40963, 1, 2), ((1 << 24) + 2, 0, 15)], dtype=TRIGGER_DTYPE)


def cd2(p, lsb, x, y): return p << 28 | lsb << 22 | x << 11 | y  # noqa: E704 - EVT 2.0 word builder


CRAFTED_EVT2 = [cd2(1, 0, 1, 1), 0x80000000 | 100, cd2(1, 5, 10, 20), 0xA0000000 | 7 << 22 | 3 << 8 | 1,
                0xE0000000, 0xF0000000, cd2(0, 7, 11, 21), 0x80000000 | (1 << 28) - 1, cd2(1, 1, 12, 22),
                0x80000000, cd2(0, 2, 639, 479)]
CRAFTED_EVT2_EVENTS = events_of([(6405, 10, 20, 1), (6407, 11, 21, 0), ((((1 << 28) - 1) << 6) + 1, 12, 22, 1),
                                 ((1 << 34) + 2, 639, 479, 0)])
CRAFTED_EVT2_TRIGGERS = np.array([(6407, 1, 3)], dtype=TRIGGER_DTYPE)


# real files against the peers -------------------------------------------------------------
def test_evt3_sample_equals_evt3_package_and_expelliarmus_up_to_its_time_low_rule():
    path = data_file("evt3_sample.raw")
    with Evt3Reader(path) as reader:
        ours = reader.read_all()
        assert (reader.width, reader.height) == (1280, 720)  # Gen4.1 plugin named in the legacy header
        assert reader.triggers().shape == (0,)
        header_size = reader.header_size
    assert ours.shape[0] == 219_596 and np.all(np.diff(ours["t"]) >= 0)
    np.testing.assert_array_equal(ours, evt3_package(path))
    # evt3_sample.npy is expelliarmus' decoding (the same file as expelliarmus' test data)
    for theirs in (np.load(data_file("evt3_sample.npy")), expelliarmus(path, "evt3")):
        assert theirs.shape[0] == ours.shape[0]
        for field in "xyp":
            np.testing.assert_array_equal(theirs[field].astype(np.int64), ours[field])
        np.testing.assert_array_equal(theirs["t"], expelliarmus_evt3_times(path, header_size, ours))


def test_evt2_and_dat_samples_equal_expelliarmus():
    with Evt2Reader(data_file("evt2_sample.raw")) as reader:
        ours = reader.read_all()
        assert (reader.width, reader.height) == (640, 480)  # Gen3 plugin named in the legacy header
    assert ours.shape[0] == 539_481 and ours["t"][0] == 1_317_888
    np.testing.assert_array_equal(ours, expelliarmus(data_file("evt2_sample.raw"), "evt2"))
    ours = DatReader(data_file("sample_ncars.dat")).read_all()
    assert ours.shape[0] == 2009 and (ours["t"][0], ours["t"][-1]) == (0, 99952)
    np.testing.assert_array_equal(ours, expelliarmus(data_file("sample_ncars.dat"), "dat"))


def test_dat_and_evt3_against_aestream(tmp_path):
    # DAT: every event equal, on the real sample and on a file our writer made
    ours = DatReader(data_file("sample_ncars.dat")).read_all()
    np.testing.assert_array_equal(aestream_events(data_file("sample_ncars.dat"), (304, 240), tmp_path), ours)
    events = random_events(np.random.default_rng(3), 20_000, 1280, 720)
    write_dat(tmp_path / "ours.dat", events, 1280, 720)
    np.testing.assert_array_equal(aestream_events(tmp_path / "ours.dat", (1280, 720), tmp_path), events)
    # EVT 3.0: the same events in the same order; aestream's times follow neither the vendor's
    # rule (which the evt3 package and we share) nor expelliarmus', so they are not compared
    path = data_file("evt3_sample.raw")
    ours = Evt3Reader(path).read_all()
    theirs = aestream_events(path, (1280, 720), tmp_path)
    assert theirs.shape[0] == ours.shape[0] == 219_596
    for field in "xyp":
        np.testing.assert_array_equal(theirs[field], ours[field], err_msg=field)


def test_detection_by_content_not_name(tmp_path):
    for name, fmt in (("evt3_sample.raw", "evt3"), ("evt2_sample.raw", "evt2"), ("sample_ncars.dat", "dat")):
        renamed = tmp_path / f"{fmt}.bin"
        shutil.copy(data_file(name), renamed)
        assert detect_format(renamed).format == fmt
        with open_events(renamed) as reader:
            assert reader.format == fmt


# writers: round trip and the peers ---------------------------------------------------------
@pytest.mark.parametrize("fmt", ["evt3", "evt2", "dat"])
def test_writer_round_trip_and_peers(tmp_path, fmt):
    rng = np.random.default_rng(1)
    events = random_events(rng, 30_000, 1280, 720)
    writer, reader_cls = {"evt3": (write_evt3, Evt3Reader), "evt2": (write_evt2, Evt2Reader),
                          "dat": (write_dat, DatReader)}[fmt]
    path = tmp_path / ("w.dat" if fmt == "dat" else "w.raw")
    writer(path, events, 1280, 720)
    with reader_cls(path) as reader:
        np.testing.assert_array_equal(reader.read_all(), events)
        info = reader.info()
    assert (info.width, info.height, info.t_first) == (1280, 720, int(events["t"][0]))
    if fmt == "evt3":
        header = path.read_bytes()[: info.extra["header_bytes"]].decode()
        assert {"% evt 3.0", "% format EVT3;height=720;width=1280", "% geometry 1280x720", "% end"} <= set(header.splitlines())
        np.testing.assert_array_equal(evt3_package(path), events)
        theirs = expelliarmus(path, "evt3")
        np.testing.assert_array_equal(theirs[["x", "y", "p"]], events[["x", "y", "p"]])
        np.testing.assert_array_equal(theirs["t"], expelliarmus_evt3_times(path, info.extra["header_bytes"], events))
        short = events[events["t"] < 4096]  # one time high, time low never decreasing: expelliarmus exact
        write_evt3(tmp_path / "short.raw", short, 1280, 720)
        np.testing.assert_array_equal(expelliarmus(tmp_path / "short.raw", "evt3"), short)
    else:
        np.testing.assert_array_equal(expelliarmus(path, fmt), events)
        assert info.event_count == (events.shape[0] if fmt == "dat" else None)


def test_time_loops_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    # EVT 3.0 time high loops every 2^24 µs: start past the first loop, gaps of several loops
    events = random_events(rng, 4000, 1280, 720, t_max=1 << 27, t0=40_000_000)
    write_evt3(tmp_path / "loops.raw", events, 1280, 720)
    with Evt3Reader(tmp_path / "loops.raw") as reader:
        np.testing.assert_array_equal(reader.read_all(), events)
        assert reader.counters["time_loops"] >= 8
    np.testing.assert_array_equal(evt3_package(tmp_path / "loops.raw"), events)
    # EVT 2.0 loops every 2^34 µs (4.8 h); DAT's 32-bit stamp every 2^32 µs
    events = random_events(rng, 4000, 640, 480, t_max=1 << 30, t0=(1 << 34) - (1 << 29))
    write_evt2(tmp_path / "loops2.raw", events, 640, 480)
    with Evt2Reader(tmp_path / "loops2.raw") as reader:
        np.testing.assert_array_equal(reader.read_all(), events)
        assert reader.counters["time_loops"] == 1
    events = random_events(rng, 4000, 640, 480, t_max=1 << 30, t0=(1 << 32) - (1 << 29))
    write_dat(tmp_path / "wrap.dat", events, 640, 480)
    with DatReader(tmp_path / "wrap.dat") as reader:
        np.testing.assert_array_equal(reader.read_all(), events)
        assert reader.counters["time_loops"] == 1
    late = events.copy()
    late["t"] += 1 << 30
    with pytest.raises(ValueError, match="2\\^32"):
        write_dat(tmp_path / "late.dat", late, 640, 480)  # the first time must fit 32 bits
    np.testing.assert_array_equal(expelliarmus(tmp_path / "wrap.dat", "dat"), events)


def test_writer_rejects_events_it_cannot_encode(tmp_path):
    ev = events_of([(5, 1, 1, 1), (3, 1, 1, 0)])
    with pytest.raises(ChunkError, match="backwards"):
        write_evt3(tmp_path / "a.raw", ev, 10, 10)
    with pytest.raises(ValueError, match="outside"):
        write_evt2(tmp_path / "a.raw", events_of([(1, 10, 1, 1)]), 10, 10)
    with pytest.raises(ValueError, match="polarity"):
        write_dat(tmp_path / "a.dat", events_of([(1, 1, 1, -1)]), 10, 10)
    with pytest.raises(ValueError, match="geometry"):
        write_evt3(tmp_path / "a.raw", events_of([(1, 1, 1, 1)]), 4096, 10)


# crafted streams: every word type, triggers apart, state across blocks ----------------------
@pytest.mark.parametrize("cls, header, words, dtype, expected, triggers", [
    (Evt3Reader, EVT3_HEADER, CRAFTED_EVT3, "<u2", CRAFTED_EVT3_EVENTS, CRAFTED_EVT3_TRIGGERS),
    (Evt2Reader, EVT2_HEADER, CRAFTED_EVT2, "<u4", CRAFTED_EVT2_EVENTS, CRAFTED_EVT2_TRIGGERS),
])
def test_crafted_stream_any_block_size(tmp_path, cls, header, words, dtype, expected, triggers):
    path = raw_file(tmp_path / "crafted.raw", header, words, dtype)
    rng = np.random.default_rng(3)
    for block in (1, 2, 3, 5, 7, 64, 1 << 20):
        with cls(path) as reader:
            reader.block_bytes = block
            got = read_in_pieces(reader, rng) if block % 2 else reader.read_all()
            np.testing.assert_array_equal(got, expected, err_msg=f"block_bytes={block}")
            np.testing.assert_array_equal(reader.triggers(), triggers)
            assert reader.counters["words_before_time_high"] == (2 if cls is Evt3Reader else 1)
            assert reader.counters["others_skipped"] == 1 and reader.counters["time_loops"] == 1
            assert reader.counters["continued_skipped"] == (2 if cls is Evt3Reader else 1)


@pytest.mark.parametrize("cls, name", [(Evt3Reader, "evt3_sample.raw"), (Evt2Reader, "evt2_sample.raw"),
                                       (DatReader, "sample_ncars.dat")])
def test_real_file_block_size_read_pattern_and_seek(cls, name):
    path = data_file(name)
    with cls(path) as reader:
        expected = reader.read_all()
    rng = np.random.default_rng(4)
    for block in (9, 1001, 4099, 65536):
        if block < 1000 and path.stat().st_size > 100_000:
            continue
        with cls(path) as reader:
            reader.block_bytes = block
            np.testing.assert_array_equal(read_in_pieces(reader, rng), expected, err_msg=f"block_bytes={block}")
    with cls(path) as reader:
        t0, t1 = int(expected["t"][0]), int(expected["t"][-1])
        for t in (t0 + (t1 - t0) // 3, t0, t0 + (t1 - t0) // 2, t1 + 1, t0 - 10):
            reader.seek(t)
            head = reader.read_until(t + 1000)
            np.testing.assert_array_equal(head, expected[(expected["t"] >= t) & (expected["t"] < t + 1000)])
            np.testing.assert_array_equal(reader.read_all(), expected[expected["t"] >= t + 1000])


def test_file_info():
    info = Evt3Reader(data_file("evt3_sample.raw")).info()
    assert (info.format, info.width, info.height, info.event_count, info.t_first, info.t_last) == \
        ("evt3", 1280, 720, None, 11_718_656, None)
    assert info.extra["geometry_source"] == "plugin_name" and info.extra["header"]["serial_number"] == "00000307"
    info = DatReader(data_file("sample_ncars.dat")).info()
    assert (info.format, info.width, info.event_count, info.t_first, info.t_last, info.duration_us) == \
        ("dat", None, 2009, 0, 99952, 99952)


# damaged files ------------------------------------------------------------------------------
def test_cut_files_name_file_and_offset(tmp_path):
    path = raw_file(tmp_path / "cut3.raw", EVT3_HEADER, CRAFTED_EVT3, "<u2")
    path.write_bytes(path.read_bytes()[:-1])
    end = path.stat().st_size - 1
    with pytest.raises(FormatError, match=f"EVT3 file {path}, byte {end}: file ends inside a 16-bit word"):
        Evt3Reader(path).read_all()
    path = raw_file(tmp_path / "cut2.raw", EVT2_HEADER, CRAFTED_EVT2, "<u4")
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(FormatError, match=f"byte {path.stat().st_size - 1}: file ends inside a 32-bit word"):
        Evt2Reader(path).read_all()
    path = tmp_path / "cut.dat"
    write_dat(path, events_of([(1, 2, 3, 1), (5, 6, 7, 0)]), 10, 10)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(FormatError, match=f"DAT file {path}, byte {path.stat().st_size - 3}: file ends inside an 8-byte"):
        DatReader(path).read_all()


@pytest.mark.parametrize("header, match", [
    (b"% evt 3.0\n% geometry 12x\n% end\n", "geometry height '' is not an integer"),
    (b"% format EVT2;height=720;width=1280\n% end\n", "encoding EVT2, not EVT3"),
    (b"% evt 2.0\n% end\n", "says 'evt 2.0', not 3.0"),
    (b"% format EVT3;height=720;width=1280\n% geometry 640x480\n% end\n", "disagrees"),
    (b"% evt 3.0\n% date 2020", "header line has no end of line"),
])
def test_corrupt_raw_header(tmp_path, header, match):
    path = raw_file(tmp_path / "h.raw", header, [], "<u2")
    with pytest.raises(FormatError, match=f"file {path}, byte \\d+: .*{match}"):
        Evt3Reader(path)


def test_dat_wrong_type_or_size(tmp_path):
    path = tmp_path / "t.dat"
    write_dat(path, events_of([(1, 2, 3, 1)]), 10, 10)
    data = bytearray(path.read_bytes())
    at = data.index(b"% Width 10\n") + len(b"% Width 10\n")
    data[at] = 14
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=f"byte {at}: event type 14 \\(EventExtTrigger\\) is not a CD event"):
        DatReader(path)
    data[at], data[at + 1] = 0, 16
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=f"byte {at + 1}: event size 16 bytes"):
        DatReader(path)


@pytest.mark.parametrize("cls, header, words, dtype, bad_index, match, counter", [
    (Evt3Reader, EVT3_HEADER, [th3(100), y3(3), x3(1280, 1), x3(4, 0)], "<u2", 2,
     "event at x=1280, y=3 lies outside the 1280x720 sensor", "out_of_range"),
    (Evt3Reader, EVT3_HEADER, [th3(100), y3(3), x3(1, 1), th3(50), x3(4, 0)], "<u2", 3,
     "time-high word goes backwards \\(0x32 after 0x64\\)", "time_high_backwards"),
    (Evt3Reader, EVT3_HEADER, [th3(100), tl3(9), y3(3), x3(1, 1), tl3(5), x3(4, 0), tl3(10), x3(4, 0)], "<u2", 5,
     "event time goes backwards \\(409605 µs after 409609 µs\\)", "event_time_backwards"),
    (Evt3Reader, EVT3_HEADER, [th3(100), y3(3), 0xC123, x3(4, 0)], "<u2", 2,
     "word 0xc123 has unknown event type 0xc", "unknown_type"),
    (Evt2Reader, EVT2_HEADER, [0x80000000 | 100, cd2(1, 1, 1, 480), cd2(1, 2, 4, 3)], "<u4", 1,
     "event at x=1, y=480 lies outside the 640x480 sensor", "out_of_range"),
    (Evt2Reader, EVT2_HEADER, [0x80000000 | 100, 0x80000000 | 99, cd2(1, 2, 4, 3)], "<u4", 1,
     "time-high word goes backwards", "time_high_backwards"),
])
def test_damage_raises_or_is_skipped_and_counted(tmp_path, cls, header, words, dtype, bad_index, match, counter):
    path = raw_file(tmp_path / "bad.raw", header, words, dtype)
    offset = len(header) + bad_index * np.dtype(dtype).itemsize
    with pytest.raises(FormatError, match=f"file {path}, byte {offset}: {match}"):
        cls(path).read_all()
    with pytest.warns(UserWarning, match=f"counters\\['{counter}'\\]"), cls(path, on_error="skip") as reader:
        got = reader.read_all()
    assert reader.counters[counter] == 1 and got.shape[0] >= 1 and np.all(np.diff(got["t"]) >= 0)
    assert np.all(got["x"] < reader.width) and np.all(got["y"] < reader.height)


def test_evt3_vector_partly_outside_the_sensor(tmp_path):
    words = [th3(1), y3(2), 0x3000 | 1 << 11 | 1275, 0x4FFF, x3(7, 0)]  # VECT_12 over x = 1275..1286
    path = raw_file(tmp_path / "v.raw", EVT3_HEADER, words, "<u2")
    with pytest.raises(FormatError, match=f"byte {len(EVT3_HEADER) + 6}: event at x=1280, y=2 lies outside"):
        Evt3Reader(path).read_all()
    with pytest.warns(UserWarning, match="outside the sensor"), Evt3Reader(path, on_error="skip") as reader:
        got = reader.read_all()
    np.testing.assert_array_equal(got, events_of([(4096, x, 2, 1) for x in range(1275, 1280)] + [(4096, 7, 2, 0)]))
    assert reader.counters["out_of_range"] == 7


def test_dat_damage(tmp_path):
    path = tmp_path / "d.dat"
    write_dat(path, events_of([(10, 1, 2, 1), (20, 3, 4, 0), (30, 5, 6, 1)]), 10, 10)
    data = bytearray(path.read_bytes())
    start = len(data) - 24
    data[start + 8:start + 12] = (5).to_bytes(4, "little")  # second record at 5 µs, after 10 µs
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=f"byte {start + 8}: event time goes backwards \\(5 µs after 10 µs\\)"):
        DatReader(path).read_all()
    with pytest.warns(UserWarning, match="time goes backwards"):
        got = DatReader(path, on_error="skip").read_all()
    np.testing.assert_array_equal(got, events_of([(10, 1, 2, 1), (30, 5, 6, 1)]))
    data[start + 8:start + 12] = (20).to_bytes(4, "little")
    data[start + 15] = 0x30  # polarity nibble 3
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=f"byte {start + 8}: polarity field 3 is not 0 or 1"):
        DatReader(path).read_all()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cls, name", [(Evt3Reader, "evt3_sample.raw"), (Evt2Reader, "evt2_sample.raw"),
                                       (DatReader, "sample_ncars.dat")])
def test_fuzz_real_files_end_in_events_or_format_error(tmp_path, cls, name):
    original = data_file(name).read_bytes()
    if len(original) > 700_000:
        original = original[:700_000]  # keeps the test quick; corruption hits header and data alike
    rng = np.random.default_rng(5)
    path = tmp_path / name
    outcomes = {"events": 0, "error": 0}
    for trial in range(300):
        data = bytearray(original)
        kind = trial % 4
        if kind == 0:
            data = data[: int(rng.integers(0, len(data)))]
        elif kind == 1:
            for at in rng.integers(0, len(data), int(rng.integers(1, 9))):
                data[at] = int(rng.integers(0, 256))
        elif kind == 2:
            at = int(rng.integers(0, 300))  # the header and the first words
            data[at:at + 4] = rng.integers(0, 256, 4).astype(np.uint8).tobytes()
        else:
            at = int(rng.integers(0, len(data)))
            data[at:at + int(rng.integers(1, 64))] = rng.integers(0, 256, int(rng.integers(0, 64))).astype(np.uint8).tobytes()
        path.write_bytes(bytes(data))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with cls(path, on_error="skip" if trial % 3 == 0 else "raise") as reader:
                    got = reader.read_all()
                    assert got.dtype == EVENT_DTYPE and np.all(np.diff(got["t"]) >= 0)
                    if reader.width is not None:
                        assert np.all(got["x"] < reader.width) and np.all(got["y"] < reader.height)
                    reader.info()
            outcomes["events"] += 1
        except FormatError as exc:
            assert str(path) in str(exc)
            outcomes["error"] += 1
    assert outcomes["events"] > 0 and outcomes["error"] > 0


@pytest.mark.parametrize("m", [1, 2, 500])
def test_dat_fast_pass_writes_its_events_and_nothing_around_them(m):
    # the fast pass stores each event as two unaligned 8-byte words, the second running 3
    # bytes into the next record: records after the slice it fills must stay intact
    from sources.formats import _prophesee_kernels as K
    from sources.formats.dat import _dat_fast

    rng = np.random.default_rng(m)
    t = np.sort(rng.integers(0, 2**31, m)).astype(np.uint32)
    x, y, p = rng.integers(0, 640, m), rng.integers(0, 480, m), rng.integers(0, 2, m)
    words = np.empty(2 * m, np.uint32)
    words[0::2], words[1::2] = t, x | (y << 14) | (p << 28)
    block = np.zeros(m + 8, dtype=EVENT_DTYPE)
    block["t"], block["x"], block["y"], block["p"] = -7, 11, 13, -1  # sentinels
    before = block.copy()
    state = K.new_state()
    state[K.S_BASE], state[K.S_HIGH] = 5_000_000, 0
    assert _dat_fast(words, block[3 : 3 + m], state, 640, 480) == m
    got = block[3 : 3 + m]
    np.testing.assert_array_equal(got["t"], 5_000_000 + t.astype(np.int64))
    np.testing.assert_array_equal(got["x"], x)
    np.testing.assert_array_equal(got["y"], y)
    np.testing.assert_array_equal(got["p"], p)
    assert block[:3].tobytes() == before[:3].tobytes()
    assert block[3 + m :].tobytes() == before[3 + m :].tobytes()
    assert state[K.S_HIGH] == t[-1]
