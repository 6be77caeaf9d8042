"""AEDAT 4 packet codecs and the packet walker of the reader.

`PacketWalker` walks the packet headers of an AEDAT 4 file (int32 stream id, int32 size)
from a position on, skips (and counts) other streams' packets, and hands back the chosen
stream's payloads decompressed, in file order. With `threads` > 0 it decompresses the
next few packets on a small thread pool while the caller decodes the current one: LZ4
and Zstd release the GIL, and decompression is most of the decode time, so this is what
lets the reader keep up with dv-processing's C++ reader. The pool belongs to the walker,
is created on the first packet and shut down by `close()`; errors (a bad header, a packet
that does not decompress) still surface in file order, after every packet before them.
"""

from __future__ import annotations

import struct
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from pipeline.errors import FormatError

CHUNK_BYTES = 1 << 20


def decompressor(code: int) -> Callable[[bytes], bytes]:
    """bytes -> bytes for the file's compression code (imports the codec lazily)."""
    if code == 0:
        return bytes
    if code in (1, 2):
        import lz4.frame

        return lz4.frame.decompress
    if code in (3, 4):
        import zstandard

        # one context per thread (a zstandard context must not be used by two threads at
        # once), reused: making one per packet costs more than decompressing a small packet
        local = threading.local()

        def unzstd(data: bytes) -> bytes:
            context = getattr(local, "context", None)
            if context is None:
                context = local.context = zstandard.ZstdDecompressor()
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
    lists), decompress (bytes -> bytes, or None for uncompressed files), counters (the
    reader's dict: `other_stream_packets` counts packets as they are walked, which with
    threads may run a few packets ahead of the events handed out), threads (0: decompress
    in the caller's thread).
    """

    def __init__(self, file, error: Callable[[int, str], FormatError], data_end: int, stream_id: int,
                 declared: set[int], decompress: Callable[[bytes], bytes] | None, counters: dict,
                 threads: int = 0) -> None:
        self.file, self.error, self.data_end = file, error, data_end
        self.stream_id, self.declared, self.counters = stream_id, declared, counters
        self.decompress = decompress
        self.threads = threads if decompress is not None else 0
        self.ahead = 2 * self.threads + 1
        self._pool: ThreadPoolExecutor | None = None
        self._queue: deque[tuple[int, object]] = deque()
        self._scan = data_end
        self._chunk, self._chunk_at = memoryview(b""), 0
        self._ended = True

    def restart(self, pos: int) -> None:
        """Walk from file offset `pos` (a packet header) on."""
        for _, item in self._queue:
            if isinstance(item, Future):
                item.cancel()
        self._queue.clear()
        self._scan, self._ended = pos, False

    def next(self) -> tuple[int, bytes] | None:
        """(file offset of the payload, decompressed payload) of the next packet, or None."""
        if not self._queue:
            self._walk(1)
        if not self._queue:
            return None
        at, item = self._queue.popleft()
        if isinstance(item, FormatError):
            self._queue.clear()
            raise item
        if self.threads:
            self._walk(self.ahead)  # keep the pool busy while the caller decodes this one
        try:
            if isinstance(item, Future):
                return at, item.result()
            return at, self.decompress(item) if self.decompress is not None else item
        except Exception as exc:
            self.restart(self.data_end)
            raise self.error(at, f"packet decompression failed ({type(exc).__name__}: {exc})") from None

    def close(self) -> None:
        self.restart(self.data_end)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _bytes(self, at: int, n: int) -> memoryview:
        """File bytes [at, at + n): a view into the current read-ahead chunk, read anew
        (CHUNK_BYTES, or the packet if larger) when outside it. One read per chunk rather
        than two per packet; memory stays one chunk (plus packets still queued)."""
        k = at - self._chunk_at
        if 0 <= k and k + n <= len(self._chunk):
            return self._chunk[k : k + n]
        self.file.seek(at)
        self._chunk = memoryview(self.file.read(min(max(n, CHUNK_BYTES), self.data_end - at)))
        self._chunk_at = at
        if len(self._chunk) < n:  # data_end was checked against the size at open
            raise self.error(at, f"file shrank while being read ({len(self._chunk)} of {n} bytes)")
        return self._chunk[:n]

    def _walk(self, depth: int) -> None:
        """Queue packets of the stream until `depth` are queued or the data ends."""
        while len(self._queue) < depth and not self._ended:
            at = self._scan
            if at >= self.data_end:
                self._ended = True
                return
            problem = None
            if at + 8 > self.data_end:
                problem = (at, f"file ends inside a packet header ({self.data_end - at} of 8 bytes)")
            else:
                stream_id, size = struct.unpack("<ii", self._bytes(at, 8))
                if size <= 0 or at + 8 + size > self.data_end:
                    problem = (at, f"packet of stream {stream_id} claims {size} bytes, "
                                   f"{self.data_end - at - 8} remain (file cut mid-packet?)")
                elif stream_id not in self.declared:
                    # a flipped header word, not a stream to skip: skipping would drop data silently
                    problem = (at, f"packet of stream {stream_id}, which the header does not declare "
                                   f"(streams {sorted(self.declared)})")
            if problem is not None:
                self._queue.append((problem[0], self.error(*problem)))
                self._ended = True
                return
            self._scan = at + 8 + size
            if stream_id != self.stream_id:
                self.counters["other_stream_packets"] += 1
                continue
            payload = self._bytes(at + 8, size)
            if self.threads:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="aedat4-lz")
                self._queue.append((at + 8, self._pool.submit(self.decompress, payload)))
            else:
                self._queue.append((at + 8, payload))
