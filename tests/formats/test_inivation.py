"""AEDAT 2.0, AEDAT 3.1 and N-MNIST .bin readers/writers: exact against tonic and the real
sample files, invariant to block size and read pattern, and FormatError (never a crash or
another exception) on damaged files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import FormatError
from pipeline.events import EVENT_DTYPE
from sources.formats import detect_format, open_events
from sources.formats.aedat2 import Aedat2Reader, write_aedat2
from sources.formats.aedat31 import Aedat31Reader, write_aedat31
from sources.formats.base import SNIFF_BYTES
from sources.formats.nmnist_bin import NmnistBinReader, write_nmnist_bin

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dvs"
TONIC_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])  # tonic's NMNIST dataset dtype


def data_file(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"sample file {path} not present")
    return path


def random_events(rng, n: int, width: int, height: int, t_max: int = 10**7, t0: int = 0) -> np.ndarray:
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["t"] = np.sort(rng.integers(t0, t0 + t_max, n))
    events["x"] = rng.integers(0, width, n)
    events["y"] = rng.integers(0, height, n)
    events["p"] = rng.integers(0, 2, n)
    return events


def read_in_pieces(reader, rng, events_hint: np.ndarray) -> np.ndarray:
    """Everything, by a random mix of read(n) and read_until(t)."""
    parts, t = [], int(events_hint["t"][0]) if events_hint.shape[0] else 0
    while not (reader._done and reader._pending.count == 0):
        if rng.random() < 0.5:
            parts.append(reader.read(int(rng.integers(0, 500))))
        else:
            t += int(rng.integers(0, 50_000))
            parts.append(reader.read_until(t))
    return np.concatenate(parts)


def assert_block_invariant(cls, path, expected: np.ndarray, rng, **options) -> None:
    small = Path(path).stat().st_size < 40_000  # one-byte blocks only where that stays quick
    for block in (1, 3, 7, 13, 29, 1000, 1 << 20)[0 if small else 1 :]:
        with cls(path, **options) as reader:
            reader.block_bytes = block
            got = read_in_pieces(reader, rng, expected) if block > 1 else reader.read_all()
        np.testing.assert_array_equal(got, expected, err_msg=f"block_bytes={block}")


def assert_seek(cls, path, events: np.ndarray, rng, **options) -> None:
    with cls(path, **options) as reader:
        for t in list(rng.choice(events["t"], 5)) + [int(events["t"][0]) - 1, int(events["t"][-1]) + 1]:
            reader.seek(int(t))
            np.testing.assert_array_equal(reader.read(100), events[events["t"] >= t][:100])


def fuzz(cls, good: bytes, tmp_path, rng, trials: int, **options) -> dict[str, int]:
    """Random byte flips / truncations of a valid file: a full read or FormatError, nothing else."""
    outcome = {"read": 0, "format_error": 0}
    path = tmp_path / "fuzz.bin"
    for _ in range(trials):
        data = bytearray(good)
        kind = rng.integers(0, 3)
        if kind != 1:
            for _ in range(int(rng.integers(1, 9))):
                data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        if kind != 0:
            del data[int(rng.integers(0, len(data))):]
        path.write_bytes(bytes(data))
        try:
            with cls(path, **options) as reader:
                reader.block_bytes = int(rng.choice([5, 64, 4096, 1 << 20]))
                events = reader.read_all()
                reader.info()
            assert events.dtype == EVENT_DTYPE and np.all(np.diff(events["t"]) >= 0)
            outcome["read"] += 1
        except FormatError as exc:
            assert str(path) in str(exc)
            outcome["format_error"] += 1
    return outcome


# N-MNIST .bin -------------------------------------------------------------------------
def test_nmnist_sample_equals_tonic():
    tonic_io = pytest.importorskip("tonic.io")
    path = data_file("sample_nmnist.bin")
    expected = tonic_io.read_mnist_file(str(path), dtype=TONIC_DTYPE)
    assert detect_format(path) is NmnistBinReader
    with open_events(path, width=34, height=34) as reader:
        got = reader.read_all()
        info = reader.info()
    assert got.shape[0] == expected.shape[0] == 4325
    for field in "txyp":
        np.testing.assert_array_equal(got[field].astype(np.int64), expected[field], err_msg=field)
    assert (info.width, info.height, info.event_count) == (34, 34, 4325)
    assert (info.t_first, info.t_last) == (int(expected["t"][0]), int(expected["t"][-1]))


def test_nmnist_block_and_seek_invariance():
    path = data_file("sample_nmnist.bin")
    rng = np.random.default_rng(1)
    expected = NmnistBinReader(path).read_all()
    assert_block_invariant(NmnistBinReader, path, expected, rng)
    assert_seek(NmnistBinReader, path, expected, rng)


def test_nmnist_writer_overflow_markers_round_trip_and_tonic(tmp_path):
    tonic_io = pytest.importorskip("tonic.io")
    rng = np.random.default_rng(2)
    events = random_events(rng, 3000, 240, 180, t_max=3 * 10**7)  # beyond the 23-bit field: markers
    events["y"][events["y"] == 240] = 239
    path = tmp_path / "caltech.bin"
    write_nmnist_bin(path, events)
    raw = np.fromfile(path, np.uint8).reshape(-1, 5)
    assert (raw[:, 1] == 240).sum() > 0
    with NmnistBinReader(path, width=240, height=180) as reader:
        np.testing.assert_array_equal(reader.read_all(), events)
        assert reader.counters["overflow_markers"] == (raw[:, 1] == 240).sum()
    theirs = tonic_io.read_mnist_file(str(path), dtype=TONIC_DTYPE)
    for field in "txyp":
        np.testing.assert_array_equal(theirs[field], events[field].astype(np.int64))
    assert_block_invariant(NmnistBinReader, path, events, rng)


def test_nmnist_errors(tmp_path):
    path = data_file("sample_nmnist.bin")
    good = path.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(good[:-2])
    with pytest.raises(FormatError, match=r"cut\.bin, byte 21620: file ends inside a record"):
        NmnistBinReader(cut).read_all()
    backwards = bytearray(good)
    backwards[5 * 100 + 2 : 5 * 100 + 5] = b"\x00\x00\x00"  # event 100 at t = 0
    bad = tmp_path / "backwards.bin"
    bad.write_bytes(bytes(backwards))
    with pytest.raises(FormatError, match=r"byte 500: time goes backwards \(0 µs after"):
        NmnistBinReader(bad).read_all()
    with pytest.raises(FormatError, match=r"byte 0: event x=7, y=15 outside the 10x10 sensor"):
        NmnistBinReader(path, width=10, height=10).read_all()


def test_nmnist_sniff_is_strict():
    rng = np.random.default_rng(3)
    accepted = [n for n in (40, 100, 1000, 5000, SNIFF_BYTES) for _ in range(100)
                if NmnistBinReader.sniff(rng.integers(0, 256, n, dtype=np.uint8).tobytes())]
    assert accepted == []
    assert not NmnistBinReader.sniff(bytes(5000))  # all zeros: one instant, no span
    assert not NmnistBinReader.sniff(data_file("sample_nmnist.bin").read_bytes()[:-1])  # partial record
    assert NmnistBinReader.sniff(data_file("sample_nmnist.bin").read_bytes())
    for other in DATA.iterdir():
        if other.name != "sample_nmnist.bin":
            assert not NmnistBinReader.sniff(other.read_bytes()[:SNIFF_BYTES]), other.name


def test_nmnist_fuzz(tmp_path):
    good = data_file("sample_nmnist.bin").read_bytes()
    outcome = fuzz(NmnistBinReader, good, tmp_path, np.random.default_rng(4), 300, width=34, height=34)
    assert outcome["format_error"] > 50 and outcome["read"] > 0


# AEDAT 2.0 ----------------------------------------------------------------------------
def test_aedat2_sample_header_davis346_zero_events():
    path = data_file("sample_aedat_header.aedat")
    assert detect_format(path) is Aedat2Reader
    with open_events(path) as reader:
        info = reader.info()
        assert reader.read_all().shape[0] == 0
        assert reader.header_size == path.stat().st_size
    assert (info.width, info.height) == (346, 260)
    assert info.extra["camera"] == "davis346" and info.extra["records"] == 0
    assert info.extra["header"][0] == "!AER-DAT2.0"
    assert "AEChip: eu.seebetter.ini.chips.davis.Davis346red" in info.extra["header"]
    assert info.t_first is None and info.t_last is None


def _tonic_aedat2_words(tonic_io, path):
    version, start, _ = tonic_io.read_aedat_header_from_file(str(path))
    return tonic_io.get_aer_events_from_file(str(path), version, start)


def test_aedat2_davis346_equals_tonic(tmp_path):
    tonic_io = pytest.importorskip("tonic.io")
    rng = np.random.default_rng(5)
    events = random_events(rng, 20000, 346, 260)
    events["y"][0] = 10  # a first record whose top byte is '#' (raw y 140-143) would stop tonic's header scan
    path = tmp_path / "davis.aedat"
    write_aedat2(path, events, 346, 260)
    shape, _, theirs = tonic_io.read_davis_346(str(path))
    assert shape == (346, 260)
    with Aedat2Reader(path) as reader:
        ours = reader.read_all()
    for field in "txyp":
        np.testing.assert_array_equal(ours[field].astype(np.int64), theirs[field].astype(np.int64), err_msg=field)
    np.testing.assert_array_equal(ours, events)
    assert_block_invariant(Aedat2Reader, path, events, rng)
    assert_seek(Aedat2Reader, path, events, rng)


def test_aedat2_dvs128_equals_tonic_conventions(tmp_path):
    """tonic's read_dvs_128 (its header/record parsing is used here: 1.7's function itself
    fails to unpack the header reader's three values) gives x from bits 8-14, y from bits
    1-7 and p = bit 0; jAER's DVS128 has x bits 1-7 mirrored, y bits 8-14, bit 0 set = OFF,
    and we mirror y too for a top-left origin: ours x = 127 - tonic y, y = 127 - tonic x,
    p = 1 - tonic p."""
    tonic_io = pytest.importorskip("tonic.io")
    rng = np.random.default_rng(6)
    events = random_events(rng, 20000, 128, 128)
    path = tmp_path / "dvs128.aedat"
    write_aedat2(path, events, 128, 128)
    words = _tonic_aedat2_words(tonic_io, path)
    addr = words["address"]
    tonic_x, tonic_y, tonic_p = (addr >> 8) & 0x7F, (addr >> 1) & 0x7F, addr & 1
    with open_events(path) as reader:
        assert reader.camera == "dvs128"
        ours = reader.read_all()
        assert reader.info().event_count == 20000
    np.testing.assert_array_equal(ours["t"], words["timeStamp"].astype(np.int64))
    np.testing.assert_array_equal(ours["x"], 127 - tonic_y)
    np.testing.assert_array_equal(ours["y"], 127 - tonic_x)
    np.testing.assert_array_equal(ours["p"], 1 - tonic_p)
    np.testing.assert_array_equal(ours, events)


@pytest.mark.parametrize("camera,width,height", [("davis240", 240, 180), ("davis640", 640, 480),
                                                  ("davis128", 128, 128), ("davis208", 208, 192)])
def test_aedat2_round_trip_cameras(tmp_path, camera, width, height):
    rng = np.random.default_rng(7)
    events = random_events(rng, 5000, width, height)
    path = tmp_path / f"{camera}.aedat"
    write_aedat2(path, events, width, height, camera=camera)
    with open_events(path) as reader:
        assert (reader.camera, reader.width, reader.height) == (camera, width, height)
        np.testing.assert_array_equal(reader.read_all(), events)


def test_aedat2_timestamp_wrap(tmp_path):
    rng = np.random.default_rng(8)
    events = random_events(rng, 4000, 346, 260, t_max=3 * 2**32)
    assert np.diff(events["t"]).max() < 2**31
    path = tmp_path / "wrap.aedat"
    write_aedat2(path, events, 346, 260)
    with Aedat2Reader(path) as reader:
        np.testing.assert_array_equal(reader.read_all(), events)
    assert_block_invariant(Aedat2Reader, path, events, rng)
    with pytest.raises(ValueError, match="gaps below 2"):
        write_aedat2(tmp_path / "gap.aedat", events[[0, -1]], 346, 260)


def test_aedat2_aps_imu_and_external_records_skipped(tmp_path):
    rng = np.random.default_rng(9)
    events = random_events(rng, 1000, 346, 260)
    path = tmp_path / "davis.aedat"
    write_aedat2(path, events, 346, 260)
    with Aedat2Reader(path) as reader:
        header = reader.header_size
    data = path.read_bytes()
    words = np.frombuffer(data[header:], ">u4").reshape(-1, 2).copy()
    extra = np.array([[0x80000000 | 0x123, 5], [0x400, 6], [0xFFFFFFFF, 7]], dtype=">u4")
    mixed = np.concatenate([words[:10], extra, words[10:500], extra[:1], words[500:]])
    mixed[10:13, 1] = words[9, 1]
    mixed[503, 1] = words[499, 1]
    path.write_bytes(data[:header] + mixed.astype(">u4").tobytes())
    with Aedat2Reader(path) as reader:
        np.testing.assert_array_equal(reader.read_all(), events)
        assert reader.counters == {"aps_imu_records": 3, "external_records": 1}
        info = reader.info()
    assert info.event_count is None and info.extra["records"] == 1004
    assert (info.t_first, info.t_last) == (int(events["t"][0]), int(events["t"][-1]))


def test_aedat2_errors(tmp_path):
    rng = np.random.default_rng(10)
    events = random_events(rng, 100, 346, 260)
    path = tmp_path / "good.aedat"
    write_aedat2(path, events, 346, 260)
    data = path.read_bytes()
    header = Aedat2Reader(path).header_size

    def expect(blob: bytes, pattern: str, **options):
        bad = tmp_path / "bad.aedat"
        bad.write_bytes(blob)
        with pytest.raises(FormatError, match=pattern):
            Aedat2Reader(bad, **options).read_all()

    expect(b"#!AER-DAT3.1\r\n" + data[14:], r"bad\.aedat, byte 0: wrong magic")
    expect(data.replace(b"Davis346B", b"Unknown00"), "header names no known camera")
    expect(b"#!AER-DAT2.0\x01\r\n" + data[14:], "byte 0: the magic line holds control characters")
    expect(data[:-3], rf"byte {header + 8 * 99}: file ends inside a record")
    words = bytearray(data)
    struct.pack_into(">I", words, header + 8 * 50 + 4, 0)
    expect(bytes(words), rf"byte {header + 8 * 50}: time goes backwards")
    words = bytearray(data)
    struct.pack_into(">I", words, header + 8 * 20, 1000 << 12)  # raw x 1000 on a 346-wide sensor
    expect(bytes(words), rf"byte {header + 8 * 20}: event coordinate outside the 346x260 sensor")
    expect(data, "unknown camera", camera="atis")


def test_aedat2_fuzz(tmp_path):
    rng = np.random.default_rng(11)
    path = tmp_path / "good.aedat"
    write_aedat2(path, random_events(rng, 400, 240, 180), 240, 180)
    outcome = fuzz(Aedat2Reader, path.read_bytes(), tmp_path, rng, 300)
    assert outcome["format_error"] > 50 and outcome["read"] > 0


# AEDAT 3.1 ----------------------------------------------------------------------------
def _packet(ptype, source, size, tsoff, overflow, capacity, number, valid, body: bytes) -> bytes:
    return struct.pack("<hhiiiiii", ptype, source, size, tsoff, overflow, capacity, number, valid) + body


def _polarity_body(events, valid=None) -> bytes:
    data = (events["x"].astype(np.uint32) << 17) | (events["y"].astype(np.uint32) << 2) \
        | (events["p"].astype(np.uint32) << 1) | (1 if valid is None else valid.astype(np.uint32))
    words = np.stack([data, (events["t"] & 0x7FFFFFFF).astype(np.uint32)], axis=1).astype("<u4")
    return words.tobytes()


def test_aedat31_equals_tonic(tmp_path):
    """tonic's read_dvs_ibm convention (raw x bits 17-29, y bits 2-14, p bit 1, 32-bit
    timestamp without the packet's overflow) through its own header and packet parser; 1.7's
    read_dvs_ibm itself fails to unpack the header reader's three values."""
    tonic_io = pytest.importorskip("tonic.io")
    rng = np.random.default_rng(12)
    events = random_events(rng, 30000, 128, 128)
    path = tmp_path / "gesture.aedat"
    write_aedat31(path, events, 128, 128, packet_events=1000)
    version, start, _ = tonic_io.read_aedat_header_from_file(str(path))
    assert version == 3.1
    words = tonic_io.get_aer_events_from_file(str(path), version, start)
    addr = words["address"]
    with open_events(path) as reader:
        assert isinstance(reader, Aedat31Reader) and (reader.width, reader.height) == (128, 128)
        ours = reader.read_all()
        info = reader.info()
    np.testing.assert_array_equal(ours["x"], (addr >> 17) & 0x1FFF)
    np.testing.assert_array_equal(ours["y"], (addr >> 2) & 0x1FFF)
    np.testing.assert_array_equal(ours["p"], (addr >> 1) & 1)
    np.testing.assert_array_equal(ours["t"], words["timeStamp"].astype(np.int64))
    np.testing.assert_array_equal(ours, events)
    assert (info.event_count, info.t_first, info.t_last) == (30000, int(events["t"][0]), int(events["t"][-1]))
    assert_block_invariant(Aedat31Reader, path, events, rng)
    assert_seek(Aedat31Reader, path, events, rng)


def test_aedat31_overflow_round_trip(tmp_path):
    rng = np.random.default_rng(13)
    events = random_events(rng, 5000, 346, 260, t_max=5 * 2**31)
    path = tmp_path / "long.aedat"
    write_aedat31(path, events, 346, 260, packet_events=700)
    with Aedat31Reader(path) as reader:
        np.testing.assert_array_equal(reader.read_all(), events)
        assert reader.sources == {1: "DAVIS346"}
    assert_block_invariant(Aedat31Reader, path, events, rng)


def test_aedat31_skips_other_packets_sources_and_invalid_events(tmp_path):
    rng = np.random.default_rng(14)
    events = random_events(rng, 600, 128, 128)
    valid = np.ones(600, dtype=bool)
    valid[::7] = False
    header = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"
    blob = header
    blob += _packet(0, 1, 8, 4, 0, 2, 2, 2, bytes(16))                      # special events
    blob += _packet(1, 1, 8, 4, 0, 250, 200, 200 - int((~valid[:200]).sum()),
                    _polarity_body(events[:200], valid[:200]) + bytes(400))  # capacity > number
    blob += _packet(2, 1, 44, 4, 0, 1, 1, 1, bytes(44))                     # a frame packet
    blob += _packet(1, 2, 8, 4, 0, 3, 3, 3, _polarity_body(events[:3]))      # another source
    blob += _packet(1, 1, 8, 4, 0, 400, 400, 400, _polarity_body(events[200:], valid[200:]))
    path = tmp_path / "mixed.aedat"
    path.write_bytes(blob)
    with Aedat31Reader(path) as reader:
        np.testing.assert_array_equal(reader.read_all(), events[valid])
        assert reader.counters == {"packets": 5, "polarity_packets": 2, "other_type_packets": 2,
                                   "other_source_packets": 1, "invalid_events": int((~valid).sum())}
    assert_block_invariant(Aedat31Reader, path, events[valid], rng)
    with Aedat31Reader(path, source=2) as reader:
        np.testing.assert_array_equal(reader.read_all(), events[:3])


def test_aedat31_geometry_from_header(tmp_path):
    blob = b"#!AER-DAT3.1\r\n#Source 1: DAVIS240C\r\n#!END-HEADER\r\n"
    (tmp_path / "a.aedat").write_bytes(blob)
    assert Aedat31Reader(tmp_path / "a.aedat").info().width == 240
    (tmp_path / "b.aedat").write_bytes(blob.replace(b"DAVIS240C", b"Mystery"))
    with pytest.raises(FormatError, match="header names no known camera"):
        Aedat31Reader(tmp_path / "b.aedat")
    assert Aedat31Reader(tmp_path / "b.aedat", width=64, height=48).info().height == 48
    write_aedat31(tmp_path / "c.aedat", random_events(np.random.default_rng(0), 10, 50, 40), 50, 40)
    assert (Aedat31Reader(tmp_path / "c.aedat").width, Aedat31Reader(tmp_path / "c.aedat").height) == (50, 40)


def test_aedat31_errors(tmp_path):
    rng = np.random.default_rng(15)
    events = random_events(rng, 300, 128, 128)
    path = tmp_path / "good.aedat"
    write_aedat31(path, events, 128, 128, packet_events=100)
    data = path.read_bytes()
    start = data.index(b"#!END-HEADER\r\n") + 14
    second = start + 28 + 800

    def expect(blob: bytes, pattern: str):
        bad = tmp_path / "bad.aedat"
        bad.write_bytes(blob)
        with pytest.raises(FormatError, match=pattern):
            Aedat31Reader(bad).read_all()

    expect(b"#!AER-DAT2.0\r\n" + data[14:], "byte 0: wrong magic")
    expect(data.replace(b"#!END-HEADER\r\n", b"#!END-HEADERS\r\n"), "no '#!END-HEADER' line|does not start")
    expect(data[:-100], rf"byte {start + 2 * 828}: packet \(type 1.*claims 800 bytes, 700 remain")
    expect(data[: second + 10], rf"byte {second}: file ends inside a record")
    corrupt = bytearray(data)
    struct.pack_into("<i", corrupt, second + 4, 0)  # eventSize 0
    expect(bytes(corrupt), rf"byte {second}: corrupt packet header \(type 1, source 1, eventSize 0")
    corrupt = bytearray(data)
    struct.pack_into("<I", corrupt, second + 28 + 8 * 5, (200 << 17) | 1)
    expect(bytes(corrupt), rf"byte {second + 28 + 40}: event x=200, y=0 outside the 128x128 sensor")
    corrupt = bytearray(data)
    struct.pack_into("<i", corrupt, second + 28 + 8 * 5 + 4, 0)
    expect(bytes(corrupt), rf"byte {second + 28 + 40}: time goes backwards \(0 µs after")


def test_aedat31_fuzz(tmp_path):
    rng = np.random.default_rng(16)
    path = tmp_path / "good.aedat"
    write_aedat31(path, random_events(rng, 400, 128, 128), 128, 128, packet_events=40)
    outcome = fuzz(Aedat31Reader, path.read_bytes(), tmp_path, rng, 300)
    assert outcome["format_error"] > 50 and outcome["read"] > 0


def test_detection_by_content_not_name(tmp_path):
    rng = np.random.default_rng(17)
    events = random_events(rng, 50, 128, 128)
    write_aedat2(tmp_path / "x.bin", events, 128, 128)
    write_aedat31(tmp_path / "y.npy", events, 128, 128)
    write_nmnist_bin(tmp_path / "z.aedat", events)
    assert detect_format(tmp_path / "x.bin") is Aedat2Reader
    assert detect_format(tmp_path / "y.npy") is Aedat31Reader
    assert detect_format(tmp_path / "z.aedat") is NmnistBinReader
