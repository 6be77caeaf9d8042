"""Write a stream's events (and/or values) to an .npz file in constant memory.

Arrays are spooled to temporary files as they arrive and copied into the archive at the
end, so a long stream does not grow the process. Load with np.load(path) (no pickle).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.chunks import Chunk, EventChunk, SignalChunk, ValueChunk
from pipeline.errors import ConfigError
from pipeline.events import EVENT_DTYPE, make_events
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Sink


class _Spool:
    """Records of one dtype appended to a temporary file."""

    def __init__(self, dtype: np.dtype, shape_tail: tuple[int, ...] = ()) -> None:
        self.dtype, self.shape_tail, self.count = np.dtype(dtype), shape_tail, 0
        self.file = tempfile.TemporaryFile()

    def append(self, array: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(array, dtype=self.dtype).tobytes())
        self.count += array.shape[0]

    def write_into(self, archive: zipfile.ZipFile, name: str) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.count, *self.shape_tail)}
        with archive.open(f"{name}.npy", "w", force_zip64=True) as out:
            np.lib.format.write_array_header_1_0(out, header)
            self.file.seek(0)
            while block := self.file.read(1 << 20):
                out.write(block)
        self.file.close()


@register_stage("npz_writer")
class NpzWriter(Sink):
    """Save the input stream to `path` (.npz): `events`; or `values`, `value_times`,
    `value_names`; or `samples`, `sample_rate_hz`."""

    accepts = ("events", "values", "signal")

    def __init__(self, path: str = "events.npz") -> None:
        self.path = path

    def reset(self) -> None:
        self._events: _Spool | None = None
        self._values: _Spool | None = None
        self._times: _Spool | None = None
        self._names: tuple[str, ...] = ()
        self._samples: _Spool | None = None
        self._rate = 0
        self._closed = False

    def process(self, chunk: Chunk) -> list[Chunk]:
        self.check_input(chunk)
        if not hasattr(self, "_closed"):
            self.reset()
        if isinstance(chunk, EventChunk):
            if self._events is None:
                self._events = _Spool(EVENT_DTYPE)
            self._events.append(chunk.events)
        elif isinstance(chunk, ValueChunk):
            if self._values is None:
                self._values = _Spool(np.float32, (chunk.values.shape[1],))
                self._times = _Spool(np.int64)
                self._names = chunk.names
            elif chunk.values.shape[1] != self._values.shape_tail[0]:
                raise ConfigError(f"npz_writer {self.path}: value width changed from "
                                  f"{self._values.shape_tail[0]} to {chunk.values.shape[1]}")
            self._values.append(chunk.values)
            self._times.append(chunk.times)
        elif isinstance(chunk, SignalChunk):
            if self._samples is None:
                self._samples = _Spool(np.float32, (chunk.samples.shape[1],))
                self._rate = chunk.geometry.sample_rate_hz
            elif chunk.samples.shape[1] != self._samples.shape_tail[0] or chunk.geometry.sample_rate_hz != self._rate:
                raise ConfigError(f"npz_writer {self.path}: signal channels or sample rate changed mid-stream")
            self._samples.append(chunk.samples)
        return []

    def close(self) -> None:
        if not hasattr(self, "_closed"):
            self.reset()
        if self._closed:
            return
        self._closed = True
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            if self._events is not None:
                self._events.write_into(archive, "events")
            if self._values is not None:
                self._values.write_into(archive, "values")
                self._times.write_into(archive, "value_times")
                with archive.open("value_names.npy", "w") as out:
                    np.lib.format.write_array(out, np.asarray(self._names, dtype="U64"))
            if self._samples is not None:
                self._samples.write_into(archive, "samples")
                with archive.open("sample_rate_hz.npy", "w") as out:
                    np.lib.format.write_array(out, np.asarray(self._rate, dtype=np.int64))

    def result(self) -> dict[str, Any]:
        n_events = self._events.count if getattr(self, "_events", None) else 0
        n_values = self._values.count if getattr(self, "_values", None) else 0
        n_samples = self._samples.count if getattr(self, "_samples", None) else 0
        return {"path": str(self.path), "events": n_events, "values": n_values, "samples": n_samples,
                "summary": f"wrote {n_events} events, {n_values} value rows, {n_samples} samples to {self.path}"}

    @classmethod
    def contract_example(cls) -> ContractExample:
        path = Path(tempfile.gettempdir()) / "spikestream-contract-npz-writer.npz"
        events = make_events(np.arange(0, 10_000, 37), np.arange(271) % 5)
        return ContractExample({"path": str(path)}, [EventChunk(t_start=0, t_end=10_000, events=events)])
