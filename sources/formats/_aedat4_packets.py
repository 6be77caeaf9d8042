"""AEDAT 4 packet codecs and the packet walker of the reader.

`PacketWalker` walks the packet headers of an AEDAT 4 file (int32 stream id, int32 size)
from a position on, skips (and counts) other streams' packets, and hands back the chosen
stream's payloads decompressed, in file order, reading the file in 1 MiB chunks.

LZ4 (dv's default) is decompressed by `Lz4Frames`: LZ4F_decompress of the liblz4 that the
python-lz4 wheel bundles (or the system's), called through ctypes with one reused
context into one reused buffer. `lz4.frame.decompress` makes a context and a buffer per
call, keeps a copy of each block's history and copies the result into a new bytes
object: for dv's packets of 10,000 events that was half of the whole decode. Where the
library does not export LZ4F_* (another build of python-lz4), `lz4.frame.decompress` is
used; both are tested to agree.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
from collections.abc import Callable

import numpy as np

from pipeline.errors import FormatError

CHUNK_BYTES = 1 << 20
_HEADER = struct.Struct("<ii")  # a packet header: stream id, payload size
_LZ4F_VERSION = 100
_LZ4_MAX_RATIO = 255  # an LZ4 sequence can expand at most ~255-fold: bound for a bad frame


_LOADED: dict = {}  # "lib": the liblz4 CDLL with its prototypes set (or None), once loaded


class _Lz4Options(ctypes.Structure):
    _fields_ = [("stableDst", ctypes.c_uint), ("skipChecksums", ctypes.c_uint),
                ("reserved1", ctypes.c_uint), ("reserved0", ctypes.c_uint)]


class Lz4Frames:
    """One LZ4 frame at a time into a reused buffer: `__call__(data)` returns a uint8 view
    that stays valid until the next call. `load()` is None where no liblz4 is found."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        self._context = ctypes.c_void_p()
        self._decompress = lib.LZ4F_decompress  # bound once: an attribute lookup less per packet
        self._check(lib.LZ4F_createDecompressionContext(ctypes.byref(self._context), _LZ4F_VERSION))
        self._set_out(np.empty(CHUNK_BYTES, dtype=np.uint8))
        self._options = _Lz4Options(1, 0, 0, 0)  # stableDst: the whole frame decodes into one buffer
        self._dst_size, self._src_size = ctypes.c_size_t(), ctypes.c_size_t()
        # made once: a few microseconds per packet add up over a file's thousands of packets
        self._dst_ref, self._src_ref = ctypes.byref(self._dst_size), ctypes.byref(self._src_size)
        self._options_ref = ctypes.byref(self._options)
        self._fresh = True  # the context is ready for a new frame (after one decoded to its end)
        # For kernels that decompress a run of packets without returning to Python (see
        # `decode_lz4_packets`): LZ4F_decompress typed as six 64-bit integers, the pointers
        # passed as addresses (the same registers on x86-64 and arm64), which Numba calls
        # through the pointer it is handed at run time (so compiled code caches); the
        # context's and options' addresses; and two size_t cells for its in/out sizes.
        native = ctypes.CFUNCTYPE(ctypes.c_size_t, *[ctypes.c_size_t] * 6)
        self.native = native(ctypes.cast(lib.LZ4F_decompress, ctypes.c_void_p).value)
        self.context_address = self._context.value
        self.options_address = ctypes.addressof(self._options)
        self.sizes = np.zeros(2, dtype=np.uint64)

    @classmethod
    def load(cls) -> Lz4Frames | None:
        # the library and its function prototypes once per process: loading it and looking
        # up six symbols through ctypes cost about a millisecond per file opened
        if "lib" not in _LOADED:
            _LOADED["lib"] = cls._load_library()
        lib = _LOADED["lib"]
        return cls(lib) if lib is not None else None

    @staticmethod
    def _load_library() -> ctypes.CDLL | None:
        import lz4.frame

        # the wheel's own library first; find_library runs `ldconfig -p` in a subprocess
        # (about a millisecond per file opened), so only when that one lacks LZ4F_*
        for find in (lambda: lz4.frame._frame.__file__, lambda: ctypes.util.find_library("lz4")):
            name = find()
            if not name:
                continue
            try:
                lib = ctypes.CDLL(name)
                size_p = ctypes.POINTER(ctypes.c_size_t)
                lib.LZ4F_createDecompressionContext.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_uint]
                lib.LZ4F_createDecompressionContext.restype = ctypes.c_size_t
                lib.LZ4F_freeDecompressionContext.argtypes = [ctypes.c_void_p]
                lib.LZ4F_freeDecompressionContext.restype = ctypes.c_size_t
                lib.LZ4F_resetDecompressionContext.argtypes = [ctypes.c_void_p]
                lib.LZ4F_resetDecompressionContext.restype = None
                lib.LZ4F_decompress.argtypes = [ctypes.c_void_p, ctypes.c_void_p, size_p, ctypes.c_void_p, size_p,
                                                ctypes.POINTER(_Lz4Options)]
                lib.LZ4F_decompress.restype = ctypes.c_size_t
                lib.LZ4F_isError.argtypes = [ctypes.c_size_t]
                lib.LZ4F_isError.restype = ctypes.c_uint
                lib.LZ4F_getErrorName.argtypes = [ctypes.c_size_t]
                lib.LZ4F_getErrorName.restype = ctypes.c_char_p
                return lib
            except (OSError, AttributeError):
                continue
        return None

    def _set_out(self, out: np.ndarray) -> None:
        # its address is looked up once, not per packet (__array_interface__ builds a dict)
        self._out, self._out_address = out, out.__array_interface__["data"][0]
        self.words = out.view(np.int64)  # the same bytes as int64, for the packet kernel

    @property
    def out(self) -> np.ndarray:
        """The whole reused output buffer: `decode_into`'s result is its first n bytes."""
        return self._out

    def interrupted(self) -> None:
        """A kernel left a frame half decoded: the next frame starts on a reset context."""
        self._fresh = False

    def _check(self, code: int) -> int:
        if self._lib.LZ4F_isError(code):
            raise RuntimeError(f"LZ4F error {self._lib.LZ4F_getErrorName(code).decode()}")
        return code

    def __call__(self, data) -> np.ndarray:
        src = np.frombuffer(data, dtype=np.uint8)
        return self._out[: self.decode_into(src.__array_interface__["data"][0], src.shape[0])]

    def decode_into(self, address: int, size: int) -> int:
        """Decompress the frame of `size` bytes at memory `address` (which must stay valid
        for the call) into `out`; returns the decompressed length."""
        dst, src = self._dst_size, self._src_size
        while True:
            if not self._fresh:
                self._lib.LZ4F_resetDecompressionContext(self._context)
            self._fresh = False
            capacity = self._out.shape[0]
            dst.value, src.value = capacity, size
            left = self._decompress(self._context, self._out_address, self._dst_ref, address, self._src_ref,
                                    self._options_ref)
            if left == 0:
                self._fresh = True
                return dst.value
            self._check(left)
            if dst.value < capacity:  # the input ran out first
                raise RuntimeError(f"LZ4 frame incomplete ({left} more bytes expected)")
            if capacity > _LZ4_MAX_RATIO * size + CHUNK_BYTES:
                raise RuntimeError("LZ4 frame decompresses beyond any valid size")
            self._set_out(np.empty(2 * capacity, dtype=np.uint8))  # a larger packet: grow, redo

    def close(self) -> None:
        if self._context:
            self._lib.LZ4F_freeDecompressionContext(self._context)
            self._context = ctypes.c_void_p()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: ctypes may be gone; the OS frees the context
            pass


def decompressor(code: int, fast: bool = True) -> Callable:
    """data -> decompressed bytes (or a uint8 view valid until the next call) for the
    file's compression code; `fast=False` keeps to python-lz4's own call."""
    if code in (1, 2):
        import lz4.frame

        frames = Lz4Frames.load() if fast else None
        return frames if frames is not None else lz4.frame.decompress
    if code in (3, 4):
        import zstandard

        context = zstandard.ZstdDecompressor()  # reused: one per packet costs more than a small packet

        def unzstd(data) -> bytes:
            # decompressobj copes with frames that do not record their content size
            return context.decompressobj().decompress(data)

        return unzstd
    raise ValueError(f"unknown compression code {code}")


def compressor(code: int) -> Callable[[bytes], bytes]:
    if code == 0:
        return bytes
    if code in (1, 2):
        import lz4.frame

        level = 9 if code == 2 else 0
        return lambda data: lz4.frame.compress(data, compression_level=level, store_size=True)
    import zstandard

    context = zstandard.ZstdCompressor(level=19 if code == 4 else 3, write_content_size=True)
    return context.compress


class PacketWalker:
    """The chosen stream's packets, decompressed, from a file position on.

    Parameters: file (open binary file), error(offset, what) -> FormatError, data_end
    (first byte after the packets), stream_id, declared (every stream id the header
    lists), decompress (from `decompressor`, or None for uncompressed files), counters
    (the reader's dict; `other_stream_packets` counts the packets skipped).
    """

    def __init__(self, file, error: Callable[[int, str], FormatError], data_end: int, stream_id: int,
                 declared: set[int], decompress: Callable | None, counters: dict) -> None:
        self.file, self.error, self.data_end = file, error, data_end
        self.stream_id, self.declared, self.counters = stream_id, declared, counters
        self.decompress = decompress
        # LZ4 through Lz4Frames: `next_into` hands it the payload's address in the chunk
        self.frames = decompress if isinstance(decompress, Lz4Frames) else None
        self._chunk, self._chunk_at, self._chunk_len = np.empty(0, dtype=np.uint8), 0, 0
        self._chunk_address = 0
        self._scan = data_end

    def restart(self, pos: int) -> None:
        """Walk from file offset `pos` (a packet header) on."""
        self._scan = pos

    @property
    def position(self) -> int:
        """File offset of the next packet header."""
        return self._scan

    def next(self):
        """(file offset of the payload, decompressed payload) of the next packet, or None.
        The payload may be a view that the next call overwrites."""
        found = self._next_packet()
        if found is None:
            return None
        at, size = found
        payload = self._bytes(at, size)
        if self.decompress is None:
            return at, payload
        try:
            return at, self.decompress(payload)
        except Exception as exc:
            self._scan = self.data_end
            raise self.error(at, f"packet decompression failed ({type(exc).__name__}: {exc})") from None

    def next_into(self):
        """(file offset of the payload, decompressed length) of the next packet, decompressed
        into `frames.out`, or None; only where `frames` is set (LZ4 through Lz4Frames). The
        payload is decompressed straight from the chunk buffer: no view, no copy."""
        found = self._next_packet()
        if found is None:
            return None
        at, size = found
        k = self._locate(at, size)
        try:
            return at, self.frames.decode_into(self._chunk_address + k, size)
        except Exception as exc:
            self._scan = self.data_end
            raise self.error(at, f"packet decompression failed ({type(exc).__name__}: {exc})") from None

    def _next_packet(self) -> tuple[int, int] | None:
        """(file offset, size) of the chosen stream's next payload, or None at the end."""
        data_end = self.data_end
        while True:
            at = self._scan
            if at >= data_end:
                return None
            if at + 8 > data_end:
                raise self.error(at, f"file ends inside a packet header ({data_end - at} of 8 bytes)")
            k = self._locate(at, 8)  # first: it may replace the chunk buffer
            stream_id, size = _HEADER.unpack_from(self._chunk, k)
            if size <= 0 or at + 8 + size > data_end:
                raise self.error(at, f"packet of stream {stream_id} claims {size} bytes, "
                                     f"{self.data_end - at - 8} remain (file cut mid-packet?)")
            if stream_id not in self.declared:
                # a flipped header word, not a stream to skip: skipping would drop data silently
                raise self.error(at, f"packet of stream {stream_id}, which the header does not declare "
                                     f"(streams {sorted(self.declared)})")
            self._scan = at + 8 + size
            if stream_id != self.stream_id:
                self.counters["other_stream_packets"] += 1
                continue
            return at + 8, size

    def window(self) -> tuple[np.ndarray, int, int]:
        """(chunk buffer, index in it of the next packet header, how many of its bytes lie
        before data_end): the file bytes a kernel may walk without reading. The index equals
        the length where the next header is not in the buffer."""
        valid = max(0, min(self._chunk_len, self.data_end - self._chunk_at))
        k = self._scan - self._chunk_at
        return self._chunk, (k if 0 <= k <= valid else valid), valid

    def skip_to(self, k: int) -> None:
        """Continue at chunk index k: a kernel walking `window()` handled the packets before it."""
        self._scan = self._chunk_at + k

    def header_is(self, at: int, stream_id: int, size: int) -> bool:
        """Whether a packet header (stream_id, size) starts at file offset `at`."""
        if not (0 <= at and at + 8 + max(size, 0) <= self.data_end):
            return False
        k = self._locate(at, 8)  # first: it may replace the chunk buffer
        return _HEADER.unpack_from(self._chunk, k) == (stream_id, size)

    def close(self) -> None:
        close = getattr(self.decompress, "close", None)
        if close is not None:
            close()

    def _bytes(self, at: int, n: int) -> np.ndarray:
        """File bytes [at, at + n): a view into the chunk buffer (see `_locate`); only valid
        until the next call, which is how `next` uses it."""
        k = self._locate(at, n)
        return self._chunk[k : k + n]

    def _locate(self, at: int, n: int) -> int:
        """Index in the chunk buffer of file bytes [at, at + n), refilling it (CHUNK_BYTES, or
        the packet if larger) when they are outside it. One read per chunk rather than two
        per packet, into the same buffer every time (a fresh 1 MiB buffer per read costs
        page faults)."""
        k = at - self._chunk_at
        if 0 <= k and k + n <= self._chunk_len:
            return k
        want = min(max(n, CHUNK_BYTES), self.data_end - at)
        if want > self._chunk.shape[0]:
            self._chunk = np.empty(want, dtype=np.uint8)
            self._chunk_address = self._chunk.__array_interface__["data"][0]
        self.file.seek(at)
        self._chunk_len = self.file.readinto(memoryview(self._chunk)[:want])
        self._chunk_at = at
        if self._chunk_len < n:  # data_end was checked against the size at open
            raise self.error(at, f"file shrank while being read ({self._chunk_len} of {n} bytes)")
        return 0
