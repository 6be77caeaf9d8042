"""The ZeroMQ wire format: a JSON header frame followed by raw array buffers.

    frame 0: UTF-8 JSON {"v": 1, "kind", "stream", "seq", "t_start", "t_end", "geometry",
             "meta", "extra", "arrays": [{"name", "dtype", "shape"}, ...], "sent_ns"}
    frame 1..n: the arrays' bytes, in header order, C-contiguous, little-endian

Arrays go out without a copy and come back as read-only views of the received frames.
Every field is validated on receipt (version, whitelisted dtypes, shapes against buffer
lengths, spans, sizes) and a bad message raises WireError; nothing is ever unpickled.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.chunks import CHUNK_KINDS, Chunk, EndOfStream, Geometry
from pipeline.errors import ChunkError, WireError

WIRE_VERSION = 1
_INT64_MAX = 2**63 - 1


def _descr(dtype: np.dtype) -> Any:
    descr = _DESCR_CACHE.get(dtype)
    if descr is None:
        descr = _DESCR_CACHE[dtype] = np.lib.format.dtype_to_descr(dtype)
    return descr


# encode runs per chunk, and a 1 kHz control loop sends tiny chunks: descr once per dtype
_DESCR_CACHE: dict[np.dtype, Any] = {}


# The only dtypes a message may declare, by their descr (JSON form).
ALLOWED_DTYPES: dict[str, np.dtype] = {}
for _kind in CHUNK_KINDS.values():
    for _dtype, _ in _kind.array_specs.values():
        ALLOWED_DTYPES[json.dumps(_descr(_dtype))] = _dtype
# plain dtypes declared as a bare string ("<f4"), looked up without re-encoding the JSON
_ALLOWED_SIMPLE = {_descr(d): d for d in ALLOWED_DTYPES.values() if isinstance(_descr(d), str)}


@dataclass(frozen=True)
class WireLimits:
    """Per-link limits, checked before any allocation."""

    max_header_bytes: int = 64 * 1024
    max_meta_bytes: int = 16 * 1024
    max_array_bytes: int = 512 * 1024 * 1024
    max_message_bytes: int = 1024 * 1024 * 1024


    @classmethod
    def from_options(cls, options: dict) -> WireLimits:
        """Limits of a stage's input link from its node options (max_message_bytes, ...)."""
        fields = {k: options[k] for k in ("max_header_bytes", "max_meta_bytes", "max_array_bytes",
                                            "max_message_bytes") if k in options}
        for key, value in fields.items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise WireError(f"link limit {key} must be a positive integer, got {value!r}")
        return cls(**fields)

    @property
    def max_frame_bytes(self) -> int:
        """What a receiving socket may accept per frame (ZMQ_MAXMSGSIZE), before allocation."""
        return min(max(self.max_array_bytes, self.max_header_bytes), self.max_message_bytes)


DEFAULT_LIMITS = WireLimits()


def encode(chunk: Chunk) -> list[Any]:
    """Frames for one chunk: header bytes, then each array's buffer (no copy if contiguous)."""
    arrays = chunk.arrays()
    buffers = []
    specs = []
    for name, array in arrays.items():
        if not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        specs.append({"name": name, "dtype": _descr(array.dtype), "shape": list(array.shape)})
        buffers.append(memoryview(array.reshape(-1).view(np.uint8)) if array.size else b"")
    header = {
        "v": WIRE_VERSION, "kind": chunk.kind, "stream": chunk.stream, "seq": int(chunk.seq),
        "t_start": int(chunk.t_start), "t_end": int(chunk.t_end), "geometry": chunk.geometry.to_dict(),
        "meta": chunk.meta, "extra": chunk.extra_header(), "arrays": specs, "sent_ns": time.time_ns(),
    }
    return [json.dumps(header, separators=(",", ":")).encode(), *buffers]


def decode(frames: list[Any], limits: WireLimits = DEFAULT_LIMITS) -> tuple[Chunk, int]:
    """Parse and validate a message; returns (chunk, sent_ns). Raises WireError."""
    if not frames:
        raise WireError("empty message")
    if len(frames) > 16:
        raise WireError(f"message has {len(frames)} frames; no chunk kind has more than 15 arrays")
    size = sum(memoryview(_buffer(f)).nbytes for f in frames)
    if size > limits.max_message_bytes:
        raise WireError(f"message is {size} bytes, limit {limits.max_message_bytes}")
    head = _bytes(frames[0])
    if len(head) > limits.max_header_bytes:
        raise WireError(f"header is {len(head)} bytes, limit {limits.max_header_bytes}")
    try:
        header = json.loads(head)
    except (ValueError, RecursionError) as exc:  # bad UTF-8/JSON, a 5000-digit number, [[[[... nesting
        raise WireError(f"header is not JSON: {type(exc).__name__}: {str(exc)[:120]}") from None
    if not isinstance(header, dict):
        raise WireError(f"header is a JSON {type(header).__name__}, not an object")
    if header.get("v") != WIRE_VERSION:
        raise WireError(f"wire version {header.get('v')!r}, expected {WIRE_VERSION}")
    kind = header.get("kind")
    cls = CHUNK_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise WireError(f"unknown chunk kind {kind!r}")
    stream = header.get("stream")
    if not isinstance(stream, str) or len(stream) > 256:
        raise WireError("field 'stream' must be a string of at most 256 characters")
    seq, t_start, t_end, sent_ns = (_int(header, k) for k in ("seq", "t_start", "t_end", "sent_ns"))
    if seq < 0:
        raise WireError(f"field 'seq' is negative ({seq})")
    if t_end < t_start:
        raise WireError(f"span ends before it starts ({t_start}..{t_end})")
    geometry = _geometry(header.get("geometry"))
    meta = header.get("meta")
    if not isinstance(meta, dict):
        raise WireError("field 'meta' must be an object")
    try:
        meta_bytes = len(json.dumps(meta).encode())
    except (ValueError, RecursionError):
        raise WireError("field 'meta' cannot be re-encoded as JSON") from None
    if meta_bytes > limits.max_meta_bytes:
        raise WireError(f"field 'meta' exceeds {limits.max_meta_bytes} bytes")
    extra = header.get("extra")
    if not isinstance(extra, dict):
        raise WireError("field 'extra' must be an object")
    specs = header.get("arrays")
    if not isinstance(specs, list):
        raise WireError("field 'arrays' must be a list")
    expected = list(cls.array_specs)
    names = [s.get("name") if isinstance(s, dict) else None for s in specs]
    if names != expected:
        raise WireError(f"{kind} message must carry arrays {expected}, declares {names}")
    if len(frames) != 1 + len(specs):
        raise WireError(f"header declares {len(specs)} arrays but {len(frames) - 1} buffers follow")
    arrays: dict[str, np.ndarray] = {}
    total = len(head)
    for spec, frame in zip(specs, frames[1:]):
        arrays[spec["name"]] = _array(cls, spec, frame, limits)
        total += arrays[spec["name"]].nbytes
        if total > limits.max_message_bytes:
            raise WireError(f"message exceeds {limits.max_message_bytes} bytes")
    fields: dict[str, Any] = dict(t_start=t_start, t_end=t_end, stream=stream, seq=seq, geometry=geometry,
                                  meta=meta, **arrays)
    if kind == "signal":
        fields["first_sample"] = _int(extra, "first_sample")
    elif kind == "values":
        value_names = extra.get("names", [])
        if not isinstance(value_names, list) or not all(isinstance(n, str) for n in value_names):
            raise WireError("field 'extra.names' must be a list of strings")
        fields["names"] = tuple(value_names)
    chunk = cls(**fields)
    if not isinstance(chunk, EndOfStream):
        try:
            chunk.validate()
        except ChunkError as exc:
            raise WireError(f"invalid payload: {exc}") from None
    return chunk, sent_ns


def _bytes(frame: Any) -> bytes:
    return frame.bytes if hasattr(frame, "bytes") else bytes(frame)


def _buffer(frame: Any) -> Any:
    return frame.buffer if hasattr(frame, "buffer") else frame


def _int(header: dict, key: str) -> int:
    value = header.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not -_INT64_MAX <= value <= _INT64_MAX:
        raise WireError(f"field {key!r} must be a 64-bit integer, got {value!r}")
    return value


def _geometry(raw: Any) -> Geometry:
    if not isinstance(raw, dict) or set(raw) != {"width", "height", "channels", "sample_rate_hz"}:
        raise WireError(f"field 'geometry' must have width, height, channels, sample_rate_hz; got {raw!r}"[:200])
    for key, value in raw.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
            raise WireError(f"field 'geometry.{key}' must be a non-negative 32-bit integer, got {value!r}")
    return Geometry(**raw)


def _array(cls: type[Chunk], spec: dict, frame: Any, limits: WireLimits) -> np.ndarray:
    name = spec["name"]
    want_dtype, ndims = cls.array_specs[name]
    declared = spec.get("dtype")
    if isinstance(declared, str):
        dtype = _ALLOWED_SIMPLE.get(declared)
    else:
        dtype = ALLOWED_DTYPES.get(json.dumps(declared))
    if dtype is None or dtype != want_dtype:
        raise WireError(f"array {name!r}: dtype {spec.get('dtype')!r} not allowed (expected {_descr(want_dtype)!r})")
    shape = spec.get("shape")
    if (not isinstance(shape, list) or len(shape) not in ndims
            or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**40 for n in shape)):
        raise WireError(f"array {name!r}: bad shape {shape!r} (need {ndims} non-negative dimensions)")
    count = 1
    for n in shape:
        count *= n
    nbytes = count * dtype.itemsize
    if nbytes > limits.max_array_bytes:
        raise WireError(f"array {name!r}: declared {nbytes} bytes exceeds limit {limits.max_array_bytes}")
    buffer = _buffer(frame)
    length = memoryview(buffer).nbytes
    if length != nbytes:
        raise WireError(f"array {name!r}: shape {shape} x {dtype.itemsize} B = {nbytes} bytes, buffer has {length}")
    if count == 0:
        return np.empty(shape, dtype=dtype)
    array = np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape)
    array.flags.writeable = False
    return array
