"""The event_file source stage and `spikestream inspect`: a replay equals the reader's
events exactly in every chunking, spans tile, start/stop slice, the in-process and
distributed runners write identical files, speed paces against the wall clock, and
inspect counts exactly and fails with exit 2 naming the file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.chunks import EventChunk
from pipeline.errors import ConfigError, FormatError
from pipeline.events import make_events
from pipeline.graph import graph_from_dict, load_graph
from pipeline.runner import run_inprocess
from pipeline.testing import assert_tiles, payload, run_source
from sources import event_file
from sources.event_file import EventFileSource
from sources.formats import READERS, open_events
from sources.formats.aedat2 import write_aedat2
from sources.formats.arrays import write_npy
from sources.inspect_cmd import inspect_file

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dvs"
SPIKESTREAM = [sys.executable, "-m", "pipeline.cli"]
# sample file -> the reader it needs
SAMPLES = {
    "sample.aedat4": "aedat4",
    "sample_aedat_header.aedat": "aedat2",
    "evt2_sample.raw": "evt2",
    "evt3_sample.raw": "evt3",
    "evt3_sample.npy": "npy",
    "sample_ncars.dat": "dat",
    "sample_nmnist.bin": "nmnist_bin",
}


def sample(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"sample file {path} not present")
    if SAMPLES[name] not in {cls.format for cls in READERS}:
        pytest.skip(f"the {SAMPLES[name]} reader is not available yet")
    return path


def read_all(path, **options) -> np.ndarray:
    with open_events(path, **options) as reader:
        return reader.read_all()


def replay(path, **params) -> tuple[list[EventChunk], np.ndarray]:
    chunks = run_source(EventFileSource(str(path), **params))
    assert_tiles(chunks, f"{path} {params}")
    events = payload(chunks)["events.events"] if chunks else read_all(path)[:0]
    return chunks, events


def synthetic(tmp_path, name="burst.aedat") -> tuple[Path, np.ndarray]:
    """An AEDAT 2.0 file with bursts sharing one timestamp and a 2-second pause."""
    rng = np.random.default_rng(5)
    t = np.sort(np.concatenate([rng.integers(0, 3_000, 500), np.full(64, 1_000), np.full(64, 1_001),
                                rng.integers(2_003_000, 2_006_000, 300)]))
    events = make_events(t, rng.integers(0, 128, t.shape[0]), rng.integers(0, 128, t.shape[0]),
                         rng.integers(0, 2, t.shape[0]))
    path = tmp_path / name
    write_aedat2(path, events, 128, 128)
    return path, events


CHUNKINGS = [{"chunk_us": 1_000}, {"chunk_us": 7_777}, {"chunk_us": 10**12}, {"chunk_events": 997},
             {"chunk_events": 100_000}]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_replay_equals_reader_in_every_chunking(name):
    path = sample(name)
    expected = read_all(path)
    info = open_events(path).info()
    chunkings = CHUNKINGS + ([{"chunk_events": 1}] if expected.shape[0] < 10_000 else [])
    for params in chunkings:
        chunks, events = replay(path, **params)
        assert events.tobytes() == expected.tobytes(), f"{name} {params}"
        if not expected.shape[0]:
            assert chunks == []
            continue
        assert chunks[0].t_start == int(expected["t"][0])
        assert chunks[-1].t_end == int(expected["t"][-1]) + 1
        assert chunks[0].meta["sample_start"] and chunks[-1].meta["sample_end"]
        assert not any(c.meta.get("sample_end") for c in chunks[:-1])
        assert {(c.geometry.width, c.geometry.height) for c in chunks} == {(info.width or 0, info.height or 0)}
        if "chunk_us" in params:
            assert all(c.t_end - c.t_start <= params["chunk_us"] for c in chunks if c.events.shape[0])
            assert all((c.t_start - chunks[0].t_start) % params["chunk_us"] == 0 for c in chunks)
        else:
            assert all(c.events.shape[0] >= params["chunk_events"] for c in chunks[:-1])


@pytest.mark.parametrize("name", ["sample.aedat4", "evt2_sample.raw", "sample_nmnist.bin"])
def test_start_and_stop_slice_the_replay(name):
    path = sample(name)
    expected = read_all(path)
    t0, t1 = int(expected["t"][0]), int(expected["t"][-1])
    start, stop = t0 + (t1 - t0) // 3, t0 + 2 * (t1 - t0) // 3
    want = expected[(expected["t"] >= start) & (expected["t"] < stop)]
    for params in ({"chunk_us": 3_000}, {"chunk_events": 5_000}):
        chunks, events = replay(path, start_us=start, stop_us=stop, **params)
        assert events.tobytes() == want.tobytes(), params
        assert chunks[0].t_start == start
        assert chunks[-1].t_end == int(want["t"][-1]) + 1 <= stop
    # a start far before the data: one empty chunk bridges the gap, not millions
    chunks, events = replay(path, start_us=t0 - 10**12, chunk_us=1_000, stop_us=t0 + 5_000)
    assert events.tobytes() == expected[expected["t"] < t0 + 5_000].tobytes()
    assert chunks[0].events.shape[0] == 0 and chunks[0].t_start == t0 - 10**12
    assert len(chunks) <= 7


def test_count_chunks_keep_equal_timestamps_together_and_pauses_are_one_chunk(tmp_path):
    path, events = synthetic(tmp_path)
    chunks, out = replay(path, chunk_events=10)
    assert out.tobytes() == read_all(path).tobytes()
    assert np.array_equal(out["t"], events["t"]) and np.array_equal(out["x"], events["x"])
    for prev, nxt in zip(chunks[:-1], chunks[1:]):
        assert prev.events["t"][-1] < nxt.events["t"][0]  # a shared stamp never straddles a cut
    burst = next(c for c in chunks if 1_000 in c.events["t"])
    assert np.count_nonzero(burst.events["t"] == 1_000) == 64
    chunks, out = replay(path, chunk_us=100)
    assert out.tobytes() == read_all(path).tobytes()
    empty = [c for c in chunks if c.events.shape[0] == 0]
    assert any(c.t_end - c.t_start >= 1_900_000 for c in empty)  # the pause: one chunk
    assert len(chunks) < 100


def test_replay_streams_instead_of_reading_the_whole_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    t = np.sort(rng.integers(0, 10**7, 400_000))
    path = tmp_path / "big.npy"
    write_npy(path, make_events(t, rng.integers(0, 640, t.shape[0]), rng.integers(0, 480, t.shape[0])))
    seen = []

    def counting_open(*args, **kwargs):
        reader = open_events(*args, **kwargs)
        read = reader.read

        def counted(n):
            events = read(n)
            seen.append(events.shape[0])
            return events

        reader.read = counted
        return reader

    monkeypatch.setattr(event_file, "open_events", counting_open)
    stream = EventFileSource(str(path), chunk_us=10_000).chunks()
    first = next(stream)
    assert 0 < first.events.shape[0] and sum(seen) <= first.events.shape[0] + 2 * event_file._BLOCK_EVENTS
    stream.close()


def test_reader_options_geometry_and_counters_reach_the_stage():
    path = sample("sample.aedat4")
    source = EventFileSource(str(path), chunk_us=50_000, options={"stream": "events"})
    chunks = run_source(source)
    with open_events(path, stream="events") as reader:
        expected = reader.read_all()
        counters = dict(reader.counters)
    assert payload(chunks)["events.events"].tobytes() == expected.tobytes()
    assert chunks[0].geometry.width == 320 and chunks[0].geometry.height == 240
    result = source.result()
    assert result["counters"] == counters and result["counters"]["other_stream_packets"] > 0
    assert result["events"] == expected.shape[0] and result["chunks"] == len(chunks)
    assert result["format"] == "aedat4" and result["width"] == 320
    with pytest.raises(FormatError, match="stream"):
        run_source(EventFileSource(str(path), options={"stream": "no-such-stream"}))


def test_bad_parameters_and_files_raise_value_errors_naming_them(tmp_path):
    path, _ = synthetic(tmp_path)
    for params, what in [({"chunk_us": 0}, "chunk_us"), ({"chunk_events": -1}, "chunk_events"),
                         ({"start_us": 10, "stop_us": 10}, "stop_us"), ({"chunk_us": 1.5}, "chunk_us"),
                         ({"options": "stream"}, "options"), ({"options": {"no_such_option": 1}}, "options")]:
        with pytest.raises(ConfigError, match=what):
            run_source(EventFileSource(str(path), **params))
    with pytest.raises(ConfigError, match="path"):
        run_source(EventFileSource())
    missing = tmp_path / "missing.aedat"
    for fmt in ("", "aedat2"):
        with pytest.raises(FormatError, match="missing.aedat"):
            run_source(EventFileSource(str(missing), format=fmt))
    with pytest.raises(FormatError, match="unknown event-file format 'zz'"):
        run_source(EventFileSource(str(path), format="zz"))
    header_only = tmp_path / "empty.aedat"
    write_aedat2(header_only, make_events([], []), 128, 128)
    source = EventFileSource(str(header_only))
    assert run_source(source) == [] and source.result()["events"] == 0


def _pipeline(tmp_path, path, out, speed=0, **params) -> dict:
    source = {"type": "event_file", "path": str(path), "speed": speed, **params}
    return {"pipeline": {"name": "replay"},
            "stages": {"dvs": source, "saved": {"type": "npz_writer", "input": "dvs", "path": str(out)}}}


def test_toml_pipeline_inprocess_and_distributed_write_identical_files(tmp_path):
    from pipeline.distributed import run_distributed

    path = sample("sample.aedat4")
    expected = read_all(path)
    toml = tmp_path / "replay.toml"
    toml.write_text(f"""
[pipeline]
name = "replay"

[stages.dvs]
type = "event_file"
path = "{path}"
chunk_us = 5000
options = {{ stream = "events" }}

[stages.saved]
type = "npz_writer"
input = "dvs"
path = "{tmp_path}/events.npz"
""")
    graph = load_graph(toml)
    local = run_inprocess(graph)
    local_bytes = (tmp_path / "events.npz").read_bytes()
    assert np.load(tmp_path / "events.npz")["events"].tobytes() == expected.tobytes()
    (tmp_path / "events.npz").unlink()
    remote = run_distributed(graph, toml, echo=False)
    assert (tmp_path / "events.npz").read_bytes() == local_bytes
    assert local.results["dvs"]["events"] == remote.results["dvs"]["events"] == expected.shape[0]
    assert remote.results["dvs"]["counters"] == local.results["dvs"]["counters"]
    assert remote.metrics["saved"]["chunks_in"] == local.metrics["saved"]["chunks_in"] > 100


def test_speed_paces_the_replay_against_the_wall_clock(tmp_path):
    window = {"stop_us": 400_000, "chunk_us": 10_000}
    write_npy(tmp_path / "slice.npy", make_events(np.arange(0, 400_000, 50), np.arange(8_000) % 64))
    durations = {}
    for speed in (1, 4):
        graph = graph_from_dict(_pipeline(tmp_path, tmp_path / "slice.npy", tmp_path / f"s{speed}.npz", speed, **window))
        t0 = time.perf_counter()
        run_inprocess(graph)
        durations[speed] = time.perf_counter() - t0
        assert np.load(tmp_path / f"s{speed}.npz")["events"].shape[0] == 8_000
    # the pacer starts at the first chunk's end (10 ms) and stops at the last (399.951 ms)
    assert 0.38 <= durations[1] < 2.0, durations
    assert 0.38 / 4 <= durations[4] < durations[1], durations


def inspect_cli(path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([*SPIKESTREAM, "inspect", str(path), *extra], capture_output=True, text=True, timeout=120)


def _check_report(report: dict, path: Path) -> None:
    with open_events(path) as reader:
        info = reader.info()
        expected = reader.read_all()
        counters = dict(reader.counters)
    assert report["format"] == info.format and report["width"] == info.width and report["height"] == info.height
    assert report["event_count"] == expected.shape[0]
    assert report["on_events"] == int(np.count_nonzero(expected["p"] > 0))
    assert report["off_events"] == int(np.count_nonzero(expected["p"] <= 0))
    assert report["counters"] == counters
    if expected.shape[0]:
        t0, t1 = int(expected["t"][0]), int(expected["t"][-1])
        assert (report["t_first_us"], report["t_last_us"], report["duration_us"]) == (t0, t1, t1 - t0)
        assert report["on_fraction"] + report["off_fraction"] == pytest.approx(1.0)
        if t1 > t0:
            assert report["event_rate_hz"] == pytest.approx(expected.shape[0] * 1e6 / (t1 - t0))
    else:
        assert report["t_first_us"] is None and report["on_fraction"] is None


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_inspect_counts_exactly(name):
    path = sample(name)
    _check_report(inspect_file(path), path)


@pytest.mark.parametrize("name", ["sample.aedat4", "evt3_sample.raw", "sample_nmnist.bin"])
def test_inspect_command_json(name):
    path = sample(name)
    done = inspect_cli(path, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    _check_report(report, path)
    assert report["path"] == str(path)


def test_inspect_text_and_header_only(tmp_path, capsys):
    from pipeline.cli import main

    path, events = synthetic(tmp_path)
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    on = int(np.count_nonzero(events["p"] > 0))
    assert "aedat2" in text and "128 x 128" in text and f"events      {events.shape[0]}\n" in text
    assert f"ON {on} " in text and f"OFF {events.shape[0] - on} " in text
    assert main(["inspect", str(path), "--header", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counted"] is False and report["on_events"] is None
    assert report["event_count"] == events.shape[0]  # DVS128 files: the record count from the file size


def test_inspect_fails_with_exit_2_naming_the_file(tmp_path):
    path, _ = synthetic(tmp_path)
    cut = tmp_path / "cut.aedat"
    cut.write_bytes(path.read_bytes()[:-3])
    junk = tmp_path / "notes.txt"
    junk.write_text("not an event file\n" * 100)
    cases = [tmp_path / "missing.raw", cut, junk]
    if (DATA / "sample_ncars.dat").exists() and "dat" in {c.format for c in READERS}:
        damaged = tmp_path / "cut.dat"
        damaged.write_bytes((DATA / "sample_ncars.dat").read_bytes()[:-3])
        cases.append(damaged)
    for bad in cases:
        done = inspect_cli(bad, "--json")
        assert done.returncode == 2, (bad, done.stdout, done.stderr)
        message = done.stderr.strip()
        assert str(bad) in message and "\n" not in message and "Traceback" not in message, message
        assert done.stdout == ""
