"""Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC): the official HDF5
layout, one file per split (shd_train/test, ssc_train/valid/test), optionally gzipped.

    spikes/times   vlen float, seconds, one array per sample
    spikes/units   vlen uint16, channel 0..699 of the cochlea model, one array per sample
    labels         class per sample
    extra/speaker  speaker per sample
    extra/keys     class names
    extra/meta_info/{gender, age, body_height}   per speaker

Events come out as x = channel (700 wide), y = 0, p = 1, t in integer µs rounded to the
nearest µs (tonic truncates `times * 1e6` instead, so its stamps can be 1 µs earlier).
A `.gz` file (gzip around the HDF5 file) is decompressed into memory; HDF5-internal
gzip filters are read as they are.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.chunks import Chunk, Geometry
from pipeline.errors import FormatError
from pipeline.events import EVENT_DTYPE
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Source
from sources.datasets._replay import (
    SampleRef,
    SkipLog,
    check_chunk_us,
    check_on_error,
    event_sample_chunks,
    sample_meta,
    select_samples,
)

SHD_CHANNELS = 700
REQUIRED = ("spikes/times", "spikes/units", "labels")


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class HSDFile:
    """An open SHD/SSC file, checked on open: required fields present, per-sample arrays
    as long as `labels`, labels inside [0, number of classes)."""

    def __init__(self, path: str | Path, channels: int = SHD_CHANNELS, n_classes: int = 0) -> None:
        import h5py

        self.path = Path(path)
        self.channels = channels
        try:
            with open(self.path, "rb") as f:
                head = f.read(2)
            if head == b"\x1f\x8b":
                try:
                    buffer = io.BytesIO(gzip.decompress(self.path.read_bytes()))
                except (OSError, EOFError) as exc:
                    raise FormatError(f"{self.path}: gzip stream is damaged or truncated ({exc})") from None
                self._h5 = h5py.File(buffer, "r")
            else:
                self._h5 = h5py.File(self.path, "r")
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise FormatError(f"{self.path}: not a readable HDF5 file (empty or truncated?): {exc}") from None
        try:
            self._check(n_classes)
        except BaseException:
            self._h5.close()
            raise

    def _field(self, name: str):
        if name not in self._h5:
            raise FormatError(f"{self.path}: missing field {name!r} (SHD/SSC layout needs {', '.join(REQUIRED)})")
        return self._h5[name]

    def _check(self, n_classes: int) -> None:
        self.times_ds, self.units_ds = self._field("spikes/times"), self._field("spikes/units")
        self.labels = np.asarray(self._field("labels")[()]).astype(np.int64)
        n = self.labels.shape[0]
        for name, ds in (("spikes/times", self.times_ds), ("spikes/units", self.units_ds)):
            if ds.shape != (n,):
                raise FormatError(f"{self.path}: field {name!r} holds {ds.shape} entries but 'labels' holds {n}")
        self.keys = [_text(k) for k in self._h5["extra/keys"][()]] if "extra/keys" in self._h5 else []
        self.n_classes = n_classes or len(self.keys) or (int(self.labels.max()) + 1 if n else 0)
        bad = np.flatnonzero((self.labels < 0) | (self.labels >= self.n_classes))
        if bad.size:
            i = int(bad[0])
            raise FormatError(f"{self.path}: field 'labels' entry {i} is {int(self.labels[i])}, outside "
                              f"[0, {self.n_classes}) ({bad.size} such labels)")
        self.speakers = (np.asarray(self._h5["extra/speaker"][()]).astype(np.int64)
                         if "extra/speaker" in self._h5 else None)
        if self.speakers is not None and self.speakers.shape != (n,):
            raise FormatError(f"{self.path}: field 'extra/speaker' holds {self.speakers.shape[0]} entries, "
                              f"'labels' holds {n}")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def class_names(self) -> list[str]:
        return self.keys or [str(i) for i in range(self.n_classes)]

    def refs(self) -> list[SampleRef]:
        stem = self.path.name.split(".")[0]
        out = []
        for i in range(len(self)):
            extra = {"speaker": int(self.speakers[i])} if self.speakers is not None else {}
            out.append(SampleRef(f"{stem}/{i}", int(self.labels[i]), i, extra))
        return out

    def events(self, i: int) -> np.ndarray:
        """Sample i as EVENT_DTYPE sorted by t (stable), t relative to the sample's start."""
        times = np.asarray(self.times_ds[i])
        units = np.asarray(self.units_ds[i])
        where = f"{self.path}: sample {i}"
        if times.shape != units.shape:
            raise FormatError(f"{where}: 'spikes/times' has {times.shape[0]} entries, 'spikes/units' {units.shape[0]}")
        t = np.rint(times.astype(np.float64) * 1e6)
        if t.size and not (np.all(np.isfinite(t)) and t.min() >= 0):
            raise FormatError(f"{where}: field 'spikes/times' holds a negative or non-finite time")
        if units.size and (units.min() < 0 or units.max() >= self.channels):
            raise FormatError(f"{where}: field 'spikes/units' holds unit {int(units.max())}, outside "
                              f"[0, {self.channels})")
        events = np.empty(t.shape[0], dtype=EVENT_DTYPE)
        events["t"], events["x"], events["y"], events["p"] = t.astype(np.int64), units, 0, 1
        if events.shape[0] > 1 and np.any(events["t"][1:] < events["t"][:-1]):
            events = events[np.argsort(events["t"], kind="stable")]
        return events

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> HSDFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_hsd(path: str | Path, channels: int = SHD_CHANNELS) -> tuple[list[np.ndarray], np.ndarray]:
    """Every sample's events and the labels of an SHD/SSC file (small files, tests)."""
    with HSDFile(path, channels) as f:
        return [f.events(i) for i in range(len(f))], f.labels.copy()


@register_stage("shd_replay")
class SHDReplay(Source):
    """Replay an SHD or SSC file as event chunks (x = channel, width `channels`), one
    sample after another; meta sample_id (`{file stem}/{row}`), label, speaker.

    Parameters: path (`.h5` or `.h5.gz`); channels (700 for SHD/SSC); n_classes (0: from
    extra/keys); sample_us (minimum span of a sample, µs; 0 = up to its last event);
    gap_us (silence after each sample); chunk_us; shuffle, seed; indices; limit;
    on_error ("raise", or "skip" a bad sample with a counted warning). Pacing is the
    pipeline node option `speed`.
    """

    def __init__(self, path: str = "", channels: int = SHD_CHANNELS, n_classes: int = 0, sample_us: int = 0,
                 gap_us: int = 0, chunk_us: int = 10_000, shuffle: bool = False, seed: int = 0,
                 indices: list[int] | tuple[int, ...] = (), limit: int = 0, on_error: str = "raise") -> None:
        self.path = path
        self.channels = channels
        self.n_classes = n_classes
        self.sample_us = sample_us
        self.gap_us = gap_us
        self.chunk_us = chunk_us
        self.shuffle = shuffle
        self.seed = seed
        self.indices = indices
        self.limit = limit
        self.on_error = on_error

    def refs(self) -> list[SampleRef]:
        with HSDFile(self.path, self.channels, self.n_classes) as f:
            return f.refs()

    def class_names(self) -> list[str]:
        with HSDFile(self.path, self.channels, self.n_classes) as f:
            return f.class_names()

    def reset(self) -> None:
        self._skips = SkipLog("shd_replay")
        self._emitted = 0
        self._events = 0

    def chunks(self) -> Iterator[Chunk]:
        check_chunk_us(self.chunk_us, "shd_replay")
        check_on_error(self.on_error, "shd_replay")
        self.reset()
        geometry = Geometry(width=self.channels, height=1, channels=self.channels)
        with HSDFile(self.path, self.channels, self.n_classes) as f:
            chosen = select_samples(f.refs(), indices=self.indices, shuffle=self.shuffle, seed=self.seed,
                                    limit=self.limit, where="shd_replay")
            t0 = 0
            for ref in chosen:
                try:
                    events = f.events(ref.key)
                except FormatError as exc:
                    if self.on_error == "raise":
                        raise
                    self._skips.skip(str(exc))
                    continue
                span = max(int(events["t"][-1]) + 1 if events.shape[0] else 1, self.sample_us) + self.gap_us
                events["t"] += t0
                yield from event_sample_chunks(events, t0, span, self.chunk_us, geometry, sample_meta(ref))
                t0 += span
                self._emitted += 1
                self._events += events.shape[0]

    def result(self) -> dict[str, Any]:
        if not hasattr(self, "_skips"):
            return {}
        return {"samples": self._emitted, "events": self._events, **self._skips.to_dict()}

    @classmethod
    def contract_example(cls) -> ContractExample:
        path = str(contract_file())
        params: dict[str, Any] = {"path": path, "gap_us": 5_000, "shuffle": True, "seed": 2}
        return ContractExample({**params, "chunk_us": 10_000}, None,
                               variants=[{**params, "chunk_us": 1_234}, {**params, "chunk_us": 10**8}])


def write_hsd(path: str | Path, samples: list[tuple[np.ndarray, np.ndarray]], labels: np.ndarray,
              keys: list[str], speakers: np.ndarray | None = None, *, times_dtype: str = "float64",
              compression: str | None = None, meta_info: dict[str, np.ndarray] | None = None) -> Path:
    """Write (times in s, units) per sample in the official SHD/SSC layout."""
    import h5py

    path = Path(path)
    n = len(samples)
    with h5py.File(path, "w") as f:
        spikes = f.create_group("spikes")
        times_ds = spikes.create_dataset("times", (n,), dtype=h5py.vlen_dtype(np.dtype(times_dtype)),
                                         compression=compression)
        units_ds = spikes.create_dataset("units", (n,), dtype=h5py.vlen_dtype(np.dtype("uint16")),
                                         compression=compression)
        for i, (times, units) in enumerate(samples):
            times_ds[i] = np.asarray(times, dtype=times_dtype)
            units_ds[i] = np.asarray(units, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        extra = f.create_group("extra")
        extra.create_dataset("speaker", data=np.asarray(speakers if speakers is not None else np.zeros(n),
                                                        dtype=np.uint16))
        extra.create_dataset("keys", data=np.array([k.encode() for k in keys], dtype=h5py.string_dtype()))
        info = extra.create_group("meta_info")
        for name, values in (meta_info or {}).items():
            info.create_dataset(name, data=values)
    return path


def contract_file() -> Path:
    """A small SHD-layout file of random spikes (made once in the temporary folder)."""
    import os
    import tempfile

    target = Path(tempfile.gettempdir()) / "spikestream-shd-contract-v1.h5"
    if target.is_file():
        return target
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(4):
        n = int(rng.integers(0 if not samples else 20, 200))
        samples.append((np.sort(rng.uniform(0, 0.08, n)), rng.integers(0, SHD_CHANNELS, n)))
    fd, tmp = tempfile.mkstemp(suffix=".h5", dir=target.parent)
    os.close(fd)
    write_hsd(tmp, samples, np.array([0, 1, 2, 1]), ["a", "b", "c"])
    os.replace(tmp, target)
    return target
