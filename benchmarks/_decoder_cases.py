"""The formats and peers of benchmarks/decoders.py: how each test file is written and
which peer decoders read it (each returns the number of events it decoded).

A peer is timed doing what a user of it does to get a file's events into numpy: the
whole file in one call (expelliarmus, evt3, aestream, tonic, numpy, h5py), or packet by
packet (aedat's Decoder, dv-processing's getNextEventBatch + EventStore.numpy()).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pipeline.events import EVENT_DTYPE

PROPHESEE = (1280, 720)  # Gen4 sensor geometry
DAVIS = (346, 260)
NMNIST = (34, 34)  # N-MNIST addresses are 8-bit; the data set's sensor is 34x34
T0_US = 1_600_000_000_000_000  # DV stamps are Unix-epoch µs


@dataclass
class Case:
    """One format: `write(path, n, seed) -> who wrote it`, the peers that read it
    {name: path -> events decoded}, notes on peers left out, and the speed target."""

    name: str
    suffix: str
    write: Callable[[str, int, int], str] | None
    peers: dict[str, Callable[[str], int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    target: float | None = None


def synthetic_events(n: int, width: int, height: int, seed: int, t0: int = 0) -> np.ndarray:
    """n time-sorted events from t0 (µs), 1 Mev/s on average (gaps of 0-2 µs), uniform
    over the sensor. Prophesee and AEDAT 2.0 stamps count from the recording's start."""
    rng = np.random.default_rng(seed)
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["t"] = t0 + np.cumsum(rng.integers(0, 3, n))
    events["x"] = rng.integers(0, width, n)
    events["y"] = rng.integers(0, height, n)
    events["p"] = rng.integers(0, 2, n)
    return events


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _writer(module: str, function: str, geometry: tuple[int, int], t0: int = 0, **options):
    """A `write` that uses our writer `module.function(path, events, ...)`."""

    def write(path: str, n: int, seed: int) -> str:
        mod = importlib.import_module(f"sources.formats.{module}")
        events = synthetic_events(n, *geometry, seed, t0)
        args = () if function in ("write_npy", "write_nmnist_bin") else geometry
        getattr(mod, function)(path, events, *args, **options)
        return "spikestream"

    return write


def _write_aedat4(path: str, n: int, seed: int) -> str:
    """dv-processing writes the AEDAT 4 file where it is installed (its own packet sizes and
    LZ4 frames, as a DV recording has them); our writer otherwise."""
    dv = _module("dv_processing")
    if dv is None:
        _writer("aedat4", "write_aedat4", DAVIS, T0_US)(path, n, seed)
        return "spikestream (dv-processing not installed)"
    import datetime

    store = dv.data.generate.uniformEventsWithinTimeRange(
        T0_US, datetime.timedelta(microseconds=n), DAVIS, n, seed)
    writer = dv.io.MonoCameraWriter(path, dv.io.MonoCameraWriter.EventOnlyConfig("DAVIS346_bench", DAVIS))
    writer.writeEvents(store)
    del writer  # dv-processing finishes the file (data table) when the writer is destroyed
    return "dv-processing (LZ4)"


# peers --------------------------------------------------------------------------------
def _expelliarmus(encoding: str):
    wizard_cls = importlib.import_module("expelliarmus").Wizard
    return lambda path: int(wizard_cls(encoding=encoding).read(path).shape[0])


def _aestream(geometry: tuple[int, int]):
    file_input = importlib.import_module("aestream").FileInput
    safe: set[str] = set()

    def decode(path: str) -> int:
        # aestream 0.6 segfaults on some files (the real DVXplorer sample.aedat4): a file is
        # read once in a child process first, so that a crash drops the peer, not the run
        if path not in safe:
            probe = f"import aestream; aestream.FileInput({path!r}, {tuple(geometry)!r}).load()"
            done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600)
            if done.returncode:
                raise RuntimeError(f"aestream exits with code {done.returncode} on this file "
                                   f"({(done.stderr.strip().splitlines() or [''])[-1][:80]})")
            safe.add(path)
        return int(file_input(path, geometry).load().shape[0])

    return decode


def _evt3_package(path: str) -> int:
    return int(importlib.import_module("evt3").decode_file(path).x.shape[0])


def _dv_processing(path: str) -> int:
    dv = importlib.import_module("dv_processing")
    recording = dv.io.MonoCameraRecording(path)
    n = 0
    while (batch := recording.getNextEventBatch("events")) is not None:
        n += batch.numpy().shape[0]
    return n


def _aedat_package(path: str) -> int:
    decoder = importlib.import_module("aedat").Decoder(path)
    ids = [i for i, s in decoder.id_to_stream().items() if s["type"] == "events"]
    return sum(p["events"].shape[0] for p in decoder if p["stream_id"] == ids[0])


def _tonic_aedat4(path: str) -> int:
    return int(importlib.import_module("tonic.io").read_aedat4(path).shape[0])


def _tonic_davis346(path: str) -> int:
    return int(importlib.import_module("tonic.io").read_davis_346(path)[2].shape[0])


def _tonic_nmnist(path: str) -> int:
    dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])  # tonic's NMNIST dataset dtype
    return int(importlib.import_module("tonic.io").read_mnist_file(path, dtype=dtype).shape[0])


def _numpy_load(path: str) -> int:
    return int(np.load(path, allow_pickle=False).shape[0])


def _h5py(path: str) -> int:
    h5py = importlib.import_module("h5py")
    with h5py.File(path, "r") as fh:
        columns = {f: fh["events"][f][...] for f in "txyp"}
    return int(columns["t"].shape[0])


def _add(case: Case, name: str, module: str, make: Callable[[], Callable[[str], int]]) -> None:
    if _module(module) is None:
        case.notes.append(f"{name}: not installed")
    else:
        case.peers[name] = make()


def cases() -> list[Case]:
    """Every format with its peers; formats whose reader module is missing come back with
    `write` None and a note."""
    out = [
        Case("evt3", ".raw", _writer("evt3", "write_evt3", PROPHESEE), target=1.5),
        Case("evt2", ".raw", _writer("evt2", "write_evt2", PROPHESEE), target=1.5),
        Case("dat", ".dat", _writer("dat", "write_dat", PROPHESEE), target=1.5),
        Case("aedat4", ".aedat4", _write_aedat4, target=1.0),
        Case("aedat2", ".aedat", _writer("aedat2", "write_aedat2", DAVIS, camera="DAVIS346")),
        Case("aedat31", ".aedat", _writer("aedat31", "write_aedat31", DAVIS)),
        Case("nmnist_bin", ".bin", _writer("nmnist_bin", "write_nmnist_bin", NMNIST)),
        Case("npy", ".npy", _writer("arrays", "write_npy", DAVIS)),
        Case("hdf5", ".h5", _writer("arrays", "write_hdf5", DAVIS)),
    ]
    by_name = {c.name: c for c in out}
    _add(by_name["evt3"], "expelliarmus", "expelliarmus", lambda: _expelliarmus("evt3"))
    _add(by_name["evt3"], "evt3", "evt3", lambda: _evt3_package)
    _add(by_name["evt3"], "aestream", "aestream", lambda: _aestream(PROPHESEE))
    _add(by_name["evt2"], "expelliarmus", "expelliarmus", lambda: _expelliarmus("evt2"))
    by_name["evt2"].notes.append("aestream: reads every .raw as EVT 3.0 (fails on EVT 2.0)")
    _add(by_name["dat"], "expelliarmus", "expelliarmus", lambda: _expelliarmus("dat"))
    _add(by_name["dat"], "aestream", "aestream", lambda: _aestream(PROPHESEE))
    _add(by_name["aedat4"], "dv-processing", "dv_processing", lambda: _dv_processing)
    _add(by_name["aedat4"], "aedat", "aedat", lambda: _aedat_package)
    _add(by_name["aedat4"], "tonic", "tonic", lambda: _tonic_aedat4)
    _add(by_name["aedat4"], "aestream", "aestream", lambda: _aestream(DAVIS))
    _add(by_name["aedat2"], "tonic", "tonic", lambda: _tonic_davis346)
    by_name["aedat31"].notes.append("no peer decodes AEDAT 3.1 (dv-processing, aedat, tonic, aestream: 4.0 or 2.0 only)")
    _add(by_name["nmnist_bin"], "tonic", "tonic", lambda: _tonic_nmnist)
    by_name["npy"].peers["numpy.load"] = _numpy_load
    _add(by_name["hdf5"], "h5py", "h5py", lambda: _h5py)
    readers = {"evt3": "evt3", "evt2": "evt2", "dat": "dat", "aedat4": "aedat4", "aedat2": "aedat2",
               "aedat31": "aedat31", "nmnist_bin": "nmnist_bin", "npy": "arrays", "hdf5": "arrays"}
    for case in out:
        if _module(f"sources.formats.{readers[case.name]}") is None:
            case.notes.insert(0, f"skipped: sources.formats.{readers[case.name]} is not importable yet")
            case.write = None
    return out
