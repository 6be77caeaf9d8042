"""Fuzzing every event-file reader: >= 10,000 corrupted or truncated variants of a valid
file per format (bytes flipped, spans overwritten, cut short, bytes inserted or deleted,
blocks duplicated). Each variant is either read in full (events in the one dtype, sorted,
within the declared geometry) or rejected with a FormatError; any other exception, a hang
or an allocation past the process's memory limit fails. The readers run in a child process
under an address-space limit, so an unbounded allocation shows as a failure, not as a
machine in swap. The open-ended atheris target is benchmarks/fuzz_files.py."""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pytest

from pipeline.events import make_events

VARIANTS = int(os.environ.get("FUZZ_VARIANTS", 10_000))
MEMORY_LIMIT_BYTES = 4 << 30
WIDTH, HEIGHT = 346, 260


def seed_events(n: int = 150, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 200_000, n)) + 1_000
    return make_events(t, rng.integers(0, WIDTH, n), rng.integers(0, HEIGHT, n), rng.integers(0, 2, n))


def write_seed(fmt: str, path: str, events: np.ndarray) -> None:
    """A small valid file of `fmt` written by our own writer."""
    from sources.formats import aedat2, aedat4, aedat31, arrays, dat, evt2, evt3, nmnist_bin

    writers = {
        "aedat4": lambda: aedat4.write_aedat4(path, events, WIDTH, HEIGHT),
        "aedat31": lambda: aedat31.write_aedat31(path, events, WIDTH, HEIGHT, packet_events=40),
        "aedat2": lambda: aedat2.write_aedat2(path, events, WIDTH, HEIGHT, camera="DAVIS346"),
        "evt3": lambda: evt3.write_evt3(path, events, WIDTH, HEIGHT),
        "evt2": lambda: evt2.write_evt2(path, events, WIDTH, HEIGHT),
        "dat": lambda: dat.write_dat(path, events, WIDTH, HEIGHT),
        "npy": lambda: arrays.write_npy(path, events),
        "npz": lambda: arrays.write_npz(path, events, WIDTH, HEIGHT),
        "hdf5": lambda: arrays.write_hdf5(path, events, WIDTH, HEIGHT),
        "nmnist_bin": lambda: nmnist_bin.write_nmnist_bin(path, _nmnist(events)),
    }
    writers[fmt]()


def _nmnist(events: np.ndarray) -> np.ndarray:
    out = events.copy()  # N-MNIST addresses are 8-bit
    out["x"] %= 34
    out["y"] %= 34
    return out


def mutate(rng: np.random.Generator, data: bytes) -> bytes:
    """One corrupted or truncated variant of `data`."""
    n = len(data)
    op = int(rng.integers(0, 6))
    if op == 0:  # cut short
        return data[: int(rng.integers(0, n))]
    b = bytearray(data)
    if op == 1:  # flip a few bytes
        for i in rng.integers(0, n, int(rng.integers(1, 9))):
            b[int(i)] = int(rng.integers(0, 256))
        return bytes(b)
    if op == 2:  # overwrite a span with noise (or with 0x00 / 0xff, which make extreme counts)
        start = int(rng.integers(0, n))
        length = int(rng.integers(1, 65))
        fill = rng.bytes(length) if rng.integers(0, 2) else bytes([int(rng.choice([0, 255]))]) * length
        b[start : start + length] = fill[: max(0, n - start)]
        return bytes(b)
    if op == 3:  # insert bytes
        at = int(rng.integers(0, n + 1))
        return data[:at] + rng.bytes(int(rng.integers(1, 17))) + data[at:]
    if op == 4:  # delete bytes
        at = int(rng.integers(0, n))
        return data[:at] + data[at + int(rng.integers(1, 17)) :]
    start = int(rng.integers(0, n))  # duplicate a block
    block = data[start : start + int(rng.integers(1, 257))]
    at = int(rng.integers(0, n + 1))
    return data[:at] + block + data[at:]


def check_variant(fmt: str, path: str) -> tuple[str, str | None]:
    """("read" | "rejected", None) if the reader read the file sanely or raised FormatError;
    ("failed", what went wrong) otherwise."""
    from pipeline.errors import FormatError
    from pipeline.events import EVENT_DTYPE
    from sources.formats import open_events

    try:
        with open_events(path, format=fmt) as reader:
            info = reader.info()
            events = reader.read_all()
            if events.dtype != EVENT_DTYPE:
                return "failed", f"dtype {events.dtype}"
            if events.shape[0] > 1 and np.any(np.diff(events["t"]) < 0):
                return "failed", "events out of time order"
            w, h = info.width, info.height
            if w and events.shape[0] and int(events["x"].max()) >= w:
                return "failed", f"x {int(events['x'].max())} outside width {w}"
            if h and events.shape[0] and int(events["y"].max()) >= h:
                return "failed", f"y {int(events['y'].max())} outside height {h}"
    except FormatError as exc:
        if str(path) not in str(exc):
            return "failed", f"FormatError does not name the file: {exc}"
        return "rejected", None
    except MemoryError:
        return "failed", "MemoryError: unbounded allocation"
    except Exception:  # noqa: BLE001 - the point of the test: nothing but FormatError
        return "failed", traceback.format_exc(limit=4)
    return "read", None


def _fuzz_worker(fmt: str, count: int, seed: int, out_path: str) -> None:
    import resource
    import warnings

    warnings.simplefilter("ignore")  # recoverable damage warns; the outcome is what is checked
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    rng = np.random.default_rng(seed)
    failures, outcomes = [], {"read": 0, "rejected": 0}
    # tmpfs where there is one: writing 10,000 files to a disk costs more than reading them
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:
        good = os.path.join(tmp, f"good.{fmt}")
        write_seed(fmt, good, seed_events(seed=seed))
        data = Path(good).read_bytes()
        bad = os.path.join(tmp, f"variant.{fmt}")
        for i in range(count):
            variant = mutate(rng, data)
            with open(bad, "wb") as f:
                f.write(variant)
            outcome, problem = check_variant(fmt, bad)
            if problem is None:
                outcomes[outcome] += 1
            else:
                failures.append({"variant": i, "problem": problem, "hex_head": variant[:64].hex()})
                if len(failures) >= 5:
                    break
    Path(out_path).write_text(json.dumps({"failures": failures, "outcomes": outcomes}))


def _formats() -> list[str]:
    from sources.formats import READERS

    return sorted(cls.format for cls in READERS)


@pytest.mark.parametrize("fmt", _formats())
def test_reader_survives_corrupted_variants(fmt, tmp_path):
    out = tmp_path / "result.json"
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_fuzz_worker, args=(fmt, VARIANTS, 1234, str(out)))
    proc.start()
    proc.join(timeout=240)
    if proc.is_alive():
        proc.kill()
        pytest.fail(f"{fmt}: the fuzz run hung (no result within 240 s)")
    assert proc.exitcode == 0, f"{fmt}: the fuzz process died with exit code {proc.exitcode} (a crash)"
    result = json.loads(out.read_text())
    assert not result["failures"], f"{fmt}: " + json.dumps(result["failures"], indent=1)[:3000]
    # the mutations must exercise both outcomes, or the test proves little
    assert result["outcomes"]["read"] > 0 and result["outcomes"]["rejected"] > VARIANTS // 20, result["outcomes"]
