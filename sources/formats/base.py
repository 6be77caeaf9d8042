"""The event-file reader interface shared by every format module.

`EventReader` is the public interface (read / read_until / seek / info / counters).
`BlockFileReader` implements it for formats decoded from a byte stream: it reads the file
in blocks, hands each block (plus the carried-over tail of the previous one) to a
subclass's `_decode(buf, offset, final)` and keeps the decoded events until asked for,
so memory stays flat whatever the file size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from pipeline.errors import FormatError
from pipeline.events import EVENT_DTYPE, empty_events

SNIFF_BYTES = 65536
EVENT_BYTES = EVENT_DTYPE.itemsize


@dataclass(frozen=True)
class FileInfo:
    """What a file says about itself (header fields; counts only where cheap)."""

    path: str
    format: str
    width: int | None
    height: int | None
    event_count: int | None
    t_first: int | None
    t_last: int | None
    extra: dict = field(default_factory=dict)

    @property
    def duration_us(self) -> int | None:
        if self.t_first is None or self.t_last is None:
            return None
        return int(self.t_last) - int(self.t_first)


def format_error(path, offset: int | None, what: str, fmt: str = "") -> FormatError:
    """One message shape: '<fmt> file <path>, byte <offset>: <what>'."""
    where = f"{fmt} file {path}" if fmt else f"file {path}"
    if offset is not None:
        where += f", byte {int(offset)}"
    return FormatError(f"{where}: {what}")


def parse_percent_header(head: bytes) -> tuple[list[str], int]:
    """Prophesee '% key value' header lines at the start of `head` -> (lines, header size).

    The header is every leading line that starts with '%' (a line '% end' closes it).
    """
    lines: list[str] = []
    pos = 0
    n = len(head)
    while pos < n and head[pos : pos + 1] == b"%":
        nl = head.find(b"\n", pos)
        if nl < 0:
            break
        line = head[pos:nl].decode("latin-1").rstrip("\r")
        lines.append(line[1:].strip())
        pos = nl + 1
        if line.strip() == "% end":
            break
    return lines, pos


def header_dict(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        key, _, value = line.partition(" ")
        if key and key not in out:
            out[key] = value.strip()
    return out


class EventReader:
    """One open event file, streamed in constant memory.

    Subclasses set `format` and `suffixes`, implement `sniff`, `__init__` (parse the
    header; FormatError(path, offset, what) when wrong), `read`, `read_until`, `seek`,
    `info` and `close`.
    """

    format: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    counters: dict[str, int]

    @classmethod
    def sniff(cls, head: bytes) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, max_events: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def read_until(self, t_end: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def seek(self, t: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def info(self) -> FileInfo:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass

    def read_all(self) -> np.ndarray:
        """Every remaining event (for tests and small files)."""
        parts = []
        while True:
            ev = self.read(1 << 20)
            if ev.shape[0] == 0:
                break
            parts.append(ev)
        return concat_events(parts)

    def __iter__(self):
        while True:
            ev = self.read(1 << 18)
            if ev.shape[0] == 0:
                return
            yield ev

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PendingEvents:
    """A FIFO of decoded event blocks: take the first n, or all with t < t_end."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.count = 0

    def clear(self) -> None:
        self.blocks, self.count = [], 0

    def push(self, events: np.ndarray) -> None:
        if events.shape[0]:
            self.blocks.append(events)
            self.count += events.shape[0]

    def last_t(self) -> int | None:
        return int(self.blocks[-1]["t"][-1]) if self.blocks else None

    def take(self, n: int) -> np.ndarray:
        # Concatenate and copy through uint8 views: numpy moves the packed 13-byte
        # EVENT_DTYPE records about ten times slower than plain bytes.
        n = min(n, self.count)
        if n <= 0:
            return empty_events()
        first = self.blocks[0]
        if first.shape[0] >= n:
            out, rest = first[:n], first[n:]
            self.blocks = ([rest] if rest.shape[0] else []) + self.blocks[1:]
            shared = bool(self.blocks) and rest.shape[0] > 0
        else:
            parts, k = [], 0
            while k < n:
                block = self.blocks.pop(0)
                need = n - k
                parts.append(block[:need])
                k += min(need, block.shape[0])
                if block.shape[0] > need:
                    self.blocks.insert(0, block[need:])
            out = concat_events(parts)
            shared = False
        self.count -= n
        # copy only where the rest of the block stays queued, so the caller may keep `out`
        return _as_bytes(out).copy().view(EVENT_DTYPE) if shared else out

    def take_into(self, out: np.ndarray) -> int:
        """Move the first min(count, len(out)) events into out[:k]; k."""
        k = 0
        dst = _as_bytes(out)
        while self.blocks and k < out.shape[0]:
            block = self.blocks[0]
            m = min(block.shape[0], out.shape[0] - k)
            dst[k * EVENT_BYTES:(k + m) * EVENT_BYTES] = _as_bytes(block[:m])
            if m < block.shape[0]:
                self.blocks[0] = block[m:]
            else:
                self.blocks.pop(0)
            k += m
        self.count -= k
        return k

    def count_before(self, t_end: int) -> int:
        n = 0
        for block in self.blocks:
            k = int(np.searchsorted(block["t"], t_end, side="left"))
            n += k
            if k < block.shape[0]:
                break
        return n


class BlockFileReader(EventReader):
    """EventReader over a byte stream decoded block by block.

    Subclass contract: set `self.path`, `self.header_size` (bytes before the data) and
    call `self._open_stream()` at the end of `__init__`; implement
    `_reset_state()` (decoder state back to the start of the data) and
    `_decode(buf: np.ndarray[uint8], offset: int, final: bool) -> (events, consumed)`,
    which decodes as much of `buf` (file bytes from `offset`) as it can and returns the
    events and the number of bytes consumed (the rest is carried over to the next call;
    at `final` an unconsumed tail is an error the subclass reports).
    """

    block_bytes: ClassVar[int] = 1 << 20
    path: str
    header_size: int

    def _open_stream(self) -> None:
        self._fh = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        self.file_size = os.fstat(self._fh.fileno()).st_size
        self._pending = PendingEvents()
        self._rewind_to_data()

    def _rewind_to_data(self) -> None:
        self._fh.seek(self.header_size)
        self._offset = self.header_size  # file offset of self._carry[0]
        self._carry = np.empty(0, dtype=np.uint8)
        self._eof = False
        self._done = False
        self._pending.clear()
        self._reset_state()

    def _reset_state(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decode(self, buf: np.ndarray, offset: int, final: bool):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fill(self) -> None:
        """Decode one more block into the pending queue (sets _done at the end)."""
        while True:
            if not self._eof:
                raw = self._fh.read(self.block_bytes)
                if len(raw) < self.block_bytes:
                    self._eof = True
                data = np.frombuffer(raw, dtype=np.uint8)
                buf = np.concatenate([self._carry, data]) if self._carry.shape[0] else data
            else:
                buf = self._carry
            if buf.shape[0] == 0 and self._eof:
                self._done = True
                return
            events, consumed = self._decode(buf, self._offset, self._eof)
            self._offset += consumed
            self._carry = buf[consumed:].copy() if consumed < buf.shape[0] else np.empty(0, np.uint8)
            self._pending.push(events)
            if self._eof and (consumed == 0 or self._carry.shape[0] == 0):
                if self._carry.shape[0] == 0:
                    self._done = True
                    return
                # the decoder made no progress on the final bytes: a cut-off record
                raise format_error(self.path, self._offset, "file ends inside a record", self.format)
            if events.shape[0]:
                return

    def read(self, max_events: int) -> np.ndarray:
        """The next <= max_events events (EVENT_DTYPE); empty at the end of the file."""
        max_events = int(max_events)
        if max_events < 0:
            raise ValueError(f"read: max_events must be >= 0, got {max_events}")
        while self._pending.count < max_events and not self._done:
            self._fill()
        return self._pending.take(max_events)

    def read_until(self, t_end: int) -> np.ndarray:
        """All next events with t < t_end (µs)."""
        t_end = int(t_end)
        while not self._done and (self._pending.count == 0 or self._pending.last_t() < t_end):
            self._fill()
        return self._pending.take(self._pending.count_before(t_end))

    def read_all(self) -> np.ndarray:
        """Every remaining event: the blocks decoded into the queue, joined once."""
        while not self._done:
            self._fill()
        return self._pending.take(self._pending.count)

    def seek(self, t: int) -> None:
        """Next read starts at the first event with t >= t (decodes from the start,
        dropping each block that ends before t, so memory stays flat)."""
        t = int(t)
        self._rewind_to_data()
        while not self._done:
            self._fill()
            last = self._pending.last_t()
            if last is not None and last >= t:
                break
            self._pending.clear()
        self._pending.take(self._pending.count_before(t))

    def close(self) -> None:
        fh = getattr(self, "_fh", None)
        if fh is not None:
            fh.close()


def concat_events(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate EVENT_DTYPE arrays as bytes (numpy copies the packed structured dtype
    field by field, ~10x slower)."""
    parts = [p for p in parts if p.shape[0]]
    if not parts:
        return empty_events()
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([_as_bytes(p) for p in parts]).view(EVENT_DTYPE)


def _as_bytes(events: np.ndarray) -> np.ndarray:
    return (events if events.flags.c_contiguous else np.ascontiguousarray(events)).view(np.uint8)
