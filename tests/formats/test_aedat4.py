"""AEDAT 4 reader/writer: exact, field by field, against dv-processing and the `aedat`
package on the real DVXplorer sample and on files each side writes (every compression),
stream choice by name in multi-stream files, FileInfo from the data table, seek and read
pattern invariance, and a FormatError naming file and byte offset on damaged files."""

from __future__ import annotations

import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import FormatError
from pipeline.events import EVENT_DTYPE
from sources.formats import detect_format, open_events
from sources.formats._aedat4_flatbuffer import IO_HEADER_TABLE_POSITION_OFFSET
from sources.formats._aedat4_packets import Lz4Frames
from sources.formats.aedat4 import MAGIC, Aedat4Reader, Aedat4Writer, write_aedat4
from tests.formats._aestream import aestream_events

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dvs"
COMPRESSIONS = ["none", "lz4", "lz4_high", "zstd", "zstd_high"]
DV_NAMES = {"none": "NONE", "lz4": "LZ4", "lz4_high": "LZ4_HIGH", "zstd": "ZSTD", "zstd_high": "ZSTD_HIGH"}


def data_file(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"sample file {path} not present")
    return path


def random_events(rng, n: int, width: int, height: int, t0: int = 1_600_000_000_000_000) -> np.ndarray:
    """Sorted events with runs of equal stamps (so packet boundaries fall inside a run),
    both sensor corners, and Unix-epoch µs stamps as DV records them."""
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["t"] = t0 + np.cumsum(rng.integers(0, 3, n))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n)
    ev["x"][:2], ev["y"][:2] = (0, width - 1), (0, height - 1)
    return ev


def as_ours(t, x, y, p) -> np.ndarray:
    out = np.empty(len(t), dtype=EVENT_DTYPE)
    out["t"], out["x"], out["y"], out["p"] = t, x, y, p
    return out


def assert_same(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.dtype == EVENT_DTYPE and got.shape == expected.shape
    for field in "txyp":
        np.testing.assert_array_equal(got[field], expected[field], err_msg=field)


def read_path(path, **options) -> np.ndarray:
    with Aedat4Reader(path, **options) as reader:
        return reader.read_all()


# peers -----------------------------------------------------------------------------------
def dv_read(path, stream: str = "events") -> np.ndarray:
    dv = pytest.importorskip("dv_processing")
    recording = dv.io.MonoCameraRecording(str(path))
    parts = []
    while (batch := recording.getNextEventBatch(stream)) is not None:
        parts.append(batch.numpy())
    a = np.concatenate(parts)
    return as_ours(a["timestamp"], a["x"], a["y"], a["polarity"])


def aedat_read(path, stream_id: int = 0) -> np.ndarray:
    aedat = pytest.importorskip("aedat")
    a = np.concatenate([p["events"] for p in aedat.Decoder(str(path)) if p["stream_id"] == stream_id])
    return as_ours(a["t"], a["x"], a["y"], a["on"])


def dv_store(events: np.ndarray):
    dv = pytest.importorskip("dv_processing")
    store = dv.EventStore()
    for t, x, y, p in zip(events["t"].tolist(), events["x"].tolist(), events["y"].tolist(), events["p"].tolist()):
        store.push_back(t, x, y, bool(p))
    return store


def dv_write(path, streams: dict[str, tuple[np.ndarray, int, int]], compression: str = "lz4",
             triggers: int = 0) -> None:
    """A file written by dv-processing: event streams {name: (events, width, height)} and
    optionally a trigger and an IMU stream (`triggers` measurements each)."""
    dv = pytest.importorskip("dv_processing")
    config = dv.io.MonoCameraWriter.Config("DVXplorer_test", getattr(dv.CompressionType, DV_NAMES[compression]))
    for name, (_, width, height) in streams.items():
        config.addEventStream((width, height), name)
    if triggers:
        config.addTriggerStream()
        config.addImuStream()
    writer = dv.io.MonoCameraWriter(str(path), config)
    writer.setPackagingCount(4)
    for name, (events, _, _) in streams.items():
        for part in np.array_split(events, 5):  # several writes: packets of dv's own sizes
            writer.writeEvents(dv_store(part), name)
    t0 = int(next(iter(streams.values()))[0]["t"][0])
    for k in range(triggers):
        writer.writeTrigger(dv.Trigger(t0 + 100 * k, dv.TriggerType.EXTERNAL_SIGNAL_RISING_EDGE))
        writer.writeImu(dv.data.generate.levelImuMeasurement(t0 + 100 * k + 7))
    del writer  # dv writes the data table when the writer is destroyed


# the real sample ------------------------------------------------------------------------
def test_sample_equals_dv_processing_and_aedat():
    path = data_file("sample.aedat4")
    assert detect_format(path) is Aedat4Reader
    with open_events(path, stream="events") as reader:
        ours = reader.read_all()
        counters = dict(reader.counters)
        table = reader._table
    assert ours.shape[0] == 111_954
    assert_same(ours, dv_read(path))
    assert_same(ours, aedat_read(path, stream_id=0))
    # the IMU and trigger packets are skipped and counted, one count per data-table row
    assert counters["packets"] == int((table["stream_id"] == 0).sum()) == 59
    assert counters["other_stream_packets"] == int((table["stream_id"] != 0).sum()) == 59


def test_sample_info_from_data_table_equals_the_data():
    path = data_file("sample.aedat4")
    with Aedat4Reader(path) as reader:
        info = reader.info()
        events = reader.read_all()
    # the sample is a DVXplorer recording (320x240), as its info node and dv-processing say
    dv = pytest.importorskip("dv_processing")
    assert (info.width, info.height) == dv.io.MonoCameraRecording(str(path)).getEventResolution() == (320, 240)
    assert info.event_count == events.shape[0]
    assert (info.t_first, info.t_last) == (int(events["t"][0]), int(events["t"][-1]))
    assert [s["name"] for s in info.extra["streams"]] == ["events", "imu", "triggers"]
    assert [s["type"] for s in info.extra["streams"]] == ["EVTS", "IMUS", "TRIG"]
    assert info.extra["compression"] == "lz4" and info.extra["stream"] == "events" and info.extra["data_table"]


# round trips with the peers --------------------------------------------------------------
@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_files_written_by_dv_processing_read_exactly(tmp_path, compression):
    events = random_events(np.random.default_rng(10), 25_000, 346, 260)
    path = tmp_path / f"dv_{compression}.aedat4"
    dv_write(path, {"events": (events, 346, 260)}, compression)
    with Aedat4Reader(path) as reader:
        info = reader.info()
        assert_same(reader.read_all(), events)
    assert info.extra["compression"] == compression and (info.width, info.height) == (346, 260)
    assert (info.event_count, info.t_first, info.t_last) == (25_000, int(events["t"][0]), int(events["t"][-1]))


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_files_we_write_read_exactly_by_dv_processing_and_aedat(tmp_path, compression):
    events = random_events(np.random.default_rng(11), 30_000, 346, 260)
    path = tmp_path / f"ours_{compression}.aedat4"
    write_aedat4(path, events, 346, 260, compression=compression, packet_events=7_000)
    assert_same(dv_read(path), events)
    assert_same(aedat_read(path), events)
    assert_same(read_path(path), events)
    dv = pytest.importorskip("dv_processing")
    assert dv.io.MonoCameraRecording(str(path)).getEventResolution() == (346, 260)


@pytest.mark.parametrize("compression", ["lz4", "lz4_high"])
def test_dv_processing_and_our_files_equal_aestream(tmp_path, compression):
    # aestream reads LZ4 only, and not the real sample.aedat4 (aestream 0.6.4 segfaults on it)
    events = random_events(np.random.default_rng(12), 20_000, 346, 260)
    dv_write(tmp_path / "dv.aedat4", {"events": (events, 346, 260)}, compression)
    write_aedat4(tmp_path / "ours.aedat4", events, 346, 260, compression=compression, packet_events=7_000)
    for name in ("dv.aedat4", "ours.aedat4"):
        assert_same(aestream_events(tmp_path / name, (346, 260), tmp_path), events)
        assert_same(read_path(tmp_path / name), events)


def test_multi_stream_file_event_stream_chosen_by_name(tmp_path):
    rng = np.random.default_rng(12)
    left, right = random_events(rng, 6_000, 346, 260), random_events(rng, 4_000, 128, 64)
    path = tmp_path / "multi.aedat4"
    dv_write(path, {"events": (left, 346, 260), "right": (right, 128, 64)}, triggers=10)
    with Aedat4Reader(path) as reader:  # default: the first event stream
        table = reader._table
        assert_same(reader.read_all(), left)
        assert reader.info().extra["stream"] == "events"
    ids = {s["name"]: s["id"] for s in reader.info().extra["streams"]}
    assert sorted(ids) == ["events", "imu", "right", "triggers"]
    for wanted in ("right", ids["right"], str(ids["right"])):
        with Aedat4Reader(path, stream=wanted) as reader:
            got = reader.read_all()
            info = reader.info()
            counters = dict(reader.counters)
        assert_same(got, right)
        assert (info.width, info.height, info.event_count) == (128, 64, 4_000)
        assert counters["other_stream_packets"] == int((table["stream_id"] != ids["right"]).sum()) > 0
    assert_same(dv_read(path, "right"), right)
    with pytest.raises(FormatError, match=r"multi\.aedat4: no stream named 'nope'; streams: .*events.*imu.*right.*triggers"):
        Aedat4Reader(path, stream="nope")
    with pytest.raises(FormatError, match=r"multi\.aedat4: stream 'imu' holds IMUS, not events"):
        Aedat4Reader(path, stream="imu")


# seek and read patterns ------------------------------------------------------------------
def seek_times(events: np.ndarray, table: np.ndarray | None, rng) -> list[int]:
    """Before, at and after the data, packet boundaries (where equal stamps straddle two
    packets) and random stamps."""
    t = events["t"]
    times = [int(t[0]) - 1, int(t[0]), int(t[-1]), int(t[-1]) + 1]
    times += [int(v) for v in rng.choice(t, 6)] + [int(v) + 1 for v in rng.choice(t, 3)]
    if table is not None:
        times += [int(v) for v in table["t_end"][::5]] + [int(v) for v in table["t_start"][1::7]]
    return times


def assert_seeks(path, events: np.ndarray, rng, **options) -> None:
    with Aedat4Reader(path, **options) as reader:
        table = reader._table
        for t in seek_times(events, table, rng):
            reader.seek(t)
            assert_same(reader.read_all(), events[events["t"] >= t])
        reader.seek(int(events["t"][0]))  # after reading everything, a seek back starts over
        assert_same(reader.read(10), events[:10])


def test_seek_equals_filtered_read_all_on_the_sample():
    path = data_file("sample.aedat4")
    assert_seeks(path, read_path(path), np.random.default_rng(13))


def test_seek_on_dv_and_own_files_with_and_without_a_data_table(tmp_path):
    rng = np.random.default_rng(14)
    left, right = random_events(rng, 8_000, 346, 260), random_events(rng, 3_000, 128, 64)
    multi = tmp_path / "multi.aedat4"
    dv_write(multi, {"events": (left, 346, 260), "right": (right, 128, 64)}, triggers=5)
    assert_seeks(multi, left, rng)
    assert_seeks(multi, right, rng, stream="right")
    own = tmp_path / "own.aedat4"
    write_aedat4(own, left, 346, 260, packet_events=333)
    assert_seeks(own, left, rng)
    no_table = without_data_table(own, tmp_path / "no_table.aedat4")
    assert Aedat4Reader(no_table).info().event_count is None
    assert_seeks(no_table, left, rng)


def read_in_pieces(reader: Aedat4Reader, rng, t0: int) -> np.ndarray:
    """Everything, by a random mix of read(n) and read_until(t)."""
    parts, t = [], t0
    while True:
        if rng.random() < 0.5:
            n = int(rng.integers(1, 3_000))
            part = reader.read(n)
            parts.append(part)
            if part.shape[0] < n and reader.read(1).shape[0] == 0:
                return np.concatenate(parts)
            parts.append(reader.read(0))
        else:
            t += int(rng.integers(0, 3_000))
            parts.append(reader.read_until(t))


@pytest.mark.parametrize("packet_events", [1, 97, 8192])
def test_read_pattern_and_packet_size_invariance(tmp_path, packet_events):
    rng = np.random.default_rng(15)
    sample = data_file("sample.aedat4")
    expected = read_path(sample)
    with Aedat4Reader(sample) as reader:
        assert_same(read_in_pieces(reader, rng, int(expected["t"][0])), expected)
    events = random_events(rng, 20_000, 346, 260)
    path = tmp_path / "packets.aedat4"
    write_aedat4(path, events, 346, 260, packet_events=packet_events)
    with Aedat4Reader(path) as reader:
        assert_same(read_in_pieces(reader, rng, int(events["t"][0])), events)
        assert reader.counters["packets"] == -(-20_000 // packet_events)


@pytest.mark.parametrize("n", [1, 2, 3, 1000])
def test_packet_kernel_writes_its_events_and_nothing_around_them(n):
    # the kernel stores each record as two unaligned 8-byte words, the second running into
    # the next record: the block's records before and after the packet must stay intact
    from sources.formats._aedat4_flatbuffer import EVENT_RECORD, build_event_packet
    from sources.formats._aedat_kernels import decode_aedat4_packet

    rng = np.random.default_rng(n)
    events = random_events(rng, max(n, 2), 346, 260)[:n]
    records = np.zeros(n, dtype=EVENT_RECORD)
    for field in "txyp":
        records[field] = events[field]
    records["pad0"], records["pad1"] = 0xAB, 0xCDEF  # padding must not reach the output
    buf = np.frombuffer(build_event_packet(records) + bytes(8), dtype=np.uint8).copy()
    block = np.zeros(n + 10, dtype=EVENT_DTYPE)
    block["t"], block["x"], block["y"], block["p"] = -7, 11, 13, -1  # sentinels
    before = block.copy()
    status, count, last_t = decode_aedat4_packet(buf, buf[: buf.shape[0] & ~7].view(np.int64),
                                                 buf.shape[0] - 8, 346, 260, -1, block, 4)
    assert (status, count, last_t) == (0, n, int(events["t"][-1]))
    assert_same(block[4 : 4 + n], events)
    assert_same(np.concatenate([block[:4], block[4 + n :]]), np.concatenate([before[:4], before[4 + n :]]))


def test_packets_larger_than_the_decompression_buffer(tmp_path, monkeypatch):
    # small packets first, then 1.6 MB ones (compressing well, so that they fit the 1 MiB
    # read chunk): the packet-run kernel stops mid-frame when one outgrows the 1 MiB buffer;
    # the Python path resets the LZ4 context, grows the buffer and decodes the packet again
    events = random_events(np.random.default_rng(23), 250_000, 346, 260)
    events["x"][10_000:], events["y"][10_000:], events["p"][10_000:] = 5, 7, 1
    path = tmp_path / "big_packets.aedat4"
    writer = Aedat4Writer(path, 346, 260, compression="lz4", packet_events=1_000)
    writer.write(events[:10_000])
    writer.packet_events = 100_000
    writer.write(events[10_000:])
    writer.close()
    interrupted = []
    monkeypatch.setattr(Lz4Frames, "interrupted", lambda self: interrupted.append(setattr(self, "_fresh", False)))
    assert_same(read_path(path), events)
    assert interrupted
    with Aedat4Reader(path) as reader:
        assert_same(np.concatenate([reader.read(70_000) for _ in range(4)]), events)
        assert reader.counters["packets"] == 10 + 3


def test_read_all_after_partial_reads_and_with_a_miscounting_table(tmp_path):
    events = random_events(np.random.default_rng(21), 30_000, 346, 260)
    path = tmp_path / "rest.aedat4"
    write_aedat4(path, events, 346, 260, compression="none", packet_events=1_000)
    with Aedat4Reader(path) as reader:
        head = reader.read(12_345)  # leaves the rest of a packet carried over
        until = reader.read_until(int(events["t"][20_000]))
        assert_same(np.concatenate([head, until, reader.read_all()]), events)
        assert reader.read_all().shape[0] == 0
    for factor in (0.5, 3.0):  # the table's element counts are only a size hint
        with Aedat4Reader(path) as reader:
            reader._table["num_elements"] = (reader._table["num_elements"] * factor).astype(np.int64)
            assert_same(reader.read_all(), events)


def test_lz4_through_liblz4_equals_python_lz4(tmp_path, monkeypatch):
    """The ctypes LZ4F path (reused context and buffer) and lz4.frame.decompress agree,
    on dv's files and on packets larger than the path's first buffer (it grows)."""
    assert Lz4Frames.load() is not None  # python-lz4's wheel exports LZ4F_*: the fast path is live here
    rng = np.random.default_rng(19)
    events = random_events(rng, 150_000, 346, 260)
    big = tmp_path / "big_packets.aedat4"
    write_aedat4(big, events, 346, 260, packet_events=100_000)  # 1.6 MB decompressed per packet
    dv_file = tmp_path / "dv.aedat4"
    dv_write(dv_file, {"events": (events[:30_000], 346, 260)})
    fast = {path: read_path(path) for path in (big, dv_file)}
    monkeypatch.setattr(Lz4Frames, "load", classmethod(lambda cls: None))
    for path, got in fast.items():
        assert_same(got, read_path(path))
    assert_same(fast[big], events)


# damaged files ---# damaged files ---------------------------------------------------------------------------
def without_data_table(path: Path, out: Path) -> Path:
    """The file as a recorder that stopped before closing leaves it: no data table."""
    data = bytearray(path.read_bytes())
    at = len(MAGIC) + IO_HEADER_TABLE_POSITION_OFFSET
    (table_pos,) = struct.unpack_from("<q", data, at)
    data[at : at + 8] = struct.pack("<q", -1)
    out.write_bytes(bytes(data[:table_pos]))
    return out


def packet_offsets(path: Path) -> list[int]:
    """File offsets of the packet headers (data-table rows point 8 bytes past them)."""
    with Aedat4Reader(path) as reader:
        return [int(v) - 8 for v in reader._table["byte_offset"]]


def error_at(path: Path, offset: int, what: str) -> str:
    return rf"{re.escape(str(path))} at byte {offset}: {what}"


def damaged(tmp_path, name: str, good: bytes, edits: dict[int, bytes] | None = None, cut: int | None = None) -> Path:
    data = bytearray(good if cut is None else good[:cut])
    for at, new in (edits or {}).items():
        data[at : at + len(new)] = new
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def small(tmp_path):
    """(uncompressed file with data table, its events, packet header offsets, same file without table)."""
    events = random_events(np.random.default_rng(16), 300, 346, 260)
    path = tmp_path / "good.aedat4"
    write_aedat4(path, events, 346, 260, compression="none", packet_events=100)
    return path, events, packet_offsets(path), without_data_table(path, tmp_path / "open.aedat4")


def test_truncated_files(tmp_path, small):
    path, events, offsets, open_file = small
    good, loose = path.read_bytes(), open_file.read_bytes()
    header_end = offsets[0]
    cases = [  # (bytes, cut, expected message)
        (good, 5, error_at(tmp_path / "cut5.aedat4", 0, "wrong magic")),
        (good, len(MAGIC) + 2, "file ends inside the header size"),
        (good, header_end - 3, f"header size \\d+ does not fit the {header_end - 3}-byte file"),
        (good, offsets[1] + 20, "data table position \\d+ outside the"),  # a closed file cut short
        (loose, offsets[1] + 5, error_at(tmp_path / f"cut{offsets[1] + 5}.aedat4", offsets[1],
                                         "file ends inside a packet header \\(5 of 8 bytes\\)")),
        (loose, offsets[2] + 100, error_at(tmp_path / f"cut{offsets[2] + 100}.aedat4", offsets[2],
                                           "packet of stream 0 claims \\d+ bytes, 92 remain")),
    ]
    for data, cut, message in cases:
        bad = damaged(tmp_path, f"cut{cut}.aedat4", data, cut=cut)
        with pytest.raises(FormatError, match=message) as exc:
            read_path(bad)
        assert str(bad) in str(exc.value) and "byte" in str(exc.value)
    # cut at a packet boundary: what was written is read, nothing more
    assert_same(read_path(damaged(tmp_path, "boundary.aedat4", loose, cut=offsets[2])), events[:200])


def test_damaged_data_table_is_only_an_index(tmp_path, small):
    path, events, offsets, _ = small
    good = path.read_bytes()
    bad = damaged(tmp_path, "table.aedat4", good, cut=len(good) - 30)
    with pytest.warns(UserWarning, match="damaged file data table"):
        reader = Aedat4Reader(bad)
    with reader:
        assert reader.counters["bad_data_table"] == 1 and reader.info().event_count is None
        assert_same(reader.read_all(), events)


def test_data_table_pointing_elsewhere_falls_back_to_a_scan(tmp_path):
    events = random_events(np.random.default_rng(20), 3_000, 346, 260)
    path = tmp_path / "good.aedat4"
    write_aedat4(path, events, 346, 260, compression="none", packet_events=500)
    with Aedat4Reader(path) as reader:
        table_pos = reader._data_end
        rows = reader._table
    data = bytearray(path.read_bytes())
    # the 4th row's byte_offset (uncompressed table: rows start at a fixed place) moved by 16
    body = np.frombuffer(bytes(data[table_pos:]), dtype=np.uint8)
    where = table_pos + int(np.flatnonzero(np.lib.stride_tricks.sliding_window_view(body, 8).dot(
        256 ** np.arange(8, dtype=np.uint64)) == rows["byte_offset"][3])[0])
    data[where : where + 8] = struct.pack("<q", int(rows["byte_offset"][3]) + 16)
    bad = tmp_path / "moved.aedat4"
    bad.write_bytes(bytes(data))
    t = int(rows["t_end"][2]) + 1  # lands on the 4th packet
    with Aedat4Reader(bad) as reader:
        with pytest.warns(UserWarning, match="no such packet starts; seeking by reading from the start"):
            reader.seek(t)
        assert_same(reader.read_all(), events[events["t"] >= t])
        assert reader.counters["bad_data_table"] == 1


def test_corrupt_packet_size_and_flatbuffer(tmp_path, small):
    path, _, offsets, _ = small
    good = path.read_bytes()
    for size in (-5, 0, 1 << 30):
        bad = damaged(tmp_path, f"size{size}.aedat4", good, {offsets[1] + 4: struct.pack("<i", size)})
        with pytest.raises(FormatError, match=error_at(bad, offsets[1], f"packet of stream 0 claims {size} bytes")):
            read_path(bad)
    bad = damaged(tmp_path, "ident.aedat4", good, {offsets[1] + 8 + 8: b"EVTX"})
    with pytest.raises(FormatError, match=error_at(bad, offsets[1] + 8, r"EventPacket \(decompressed byte 8\): identifier")):
        read_path(bad)
    bad = damaged(tmp_path, "length.aedat4", good, {offsets[1] + 8 + 28: struct.pack("<I", 101)})
    with pytest.raises(FormatError, match=error_at(bad, offsets[1] + 8, r"EventPacket .*vector of 101 x 16 bytes")):
        read_path(bad)


def test_packet_of_an_undeclared_stream(tmp_path, small):
    path, _, offsets, _ = small
    bad = damaged(tmp_path, "stream.aedat4", path.read_bytes(), {offsets[1]: struct.pack("<i", 7)})
    with pytest.raises(FormatError, match=error_at(bad, offsets[1], r"packet of stream 7, which the header does not declare")):
        read_path(bad)


@pytest.mark.parametrize(("compression", "fast_lz4"), [("lz4", True), ("lz4", False), ("zstd", True)])
def test_packet_that_fails_to_decompress(tmp_path, monkeypatch, compression, fast_lz4):
    if not fast_lz4:
        monkeypatch.setattr(Lz4Frames, "load", classmethod(lambda cls: None))
    events = random_events(np.random.default_rng(17), 300, 346, 260)
    path = tmp_path / "good.aedat4"
    write_aedat4(path, events, 346, 260, compression=compression, packet_events=100)
    offsets = packet_offsets(path)
    bad = damaged(tmp_path, "codec.aedat4", path.read_bytes(), {offsets[2] + 8: b"\0\0\0\0"})  # the frame magic
    with Aedat4Reader(bad) as reader:  # packets before it come out first
        assert_same(reader.read(200), events[:200])
        with pytest.raises(FormatError, match=error_at(bad, offsets[2] + 8, "packet decompression failed")):
            reader.read(1)


def test_bad_events_name_the_packet(tmp_path, small):
    path, events, offsets, _ = small
    good = path.read_bytes()

    def record(packet: int, index: int) -> int:  # byte of one event struct in an uncompressed packet
        return offsets[packet] + 8 + 32 + 16 * index

    t_prev = int(events["t"][99])
    cases = {
        "x.aedat4": ({record(1, 3) + 8: struct.pack("<h", 346)}, "event coordinate outside the 346x260 sensor: event 3"),
        "y.aedat4": ({record(2, 0) + 10: struct.pack("<h", -1)}, "event coordinate outside the 346x260 sensor: event 0"),
        "p.aedat4": ({record(1, 50) + 12: b"\x02"}, r"polarity byte not 0/1: event 50 .*p=2"),
        "back.aedat4": ({record(1, 0): struct.pack("<q", t_prev - 1)},  # across the packet boundary
                        rf"time goes backwards: event 0 of the packet \(t={t_prev - 1}, .*previous t={t_prev}\)"),
        "within.aedat4": ({record(0, 10): struct.pack("<q", 0)}, r"time goes backwards: event 10 .*t=0"),
    }
    for name, (edits, message) in cases.items():
        bad = damaged(tmp_path, name, good, edits)
        packet = offsets[0 if name == "within.aedat4" else 2 if name == "y.aedat4" else 1]
        with pytest.raises(FormatError, match=error_at(bad, packet + 8, message)):
            read_path(bad)


def test_writer_rejects_bad_input(tmp_path):
    events = random_events(np.random.default_rng(18), 100, 346, 260)
    with pytest.raises(ValueError, match="compression"):
        write_aedat4(tmp_path / "a.aedat4", events, 346, 260, compression="gzip")
    with pytest.raises(ValueError, match="outside the 100x260 sensor"):
        write_aedat4(tmp_path / "b.aedat4", events, 100, 260)
    with pytest.raises(ValueError, match="time-sorted"):
        write_aedat4(tmp_path / "c.aedat4", events[::-1], 346, 260)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = tmp_path / "empty.aedat4"
        write_aedat4(empty, events[:0], 346, 260)
        with Aedat4Reader(empty) as reader:
            assert reader.read_all().shape[0] == 0 and reader.info().event_count == 0
