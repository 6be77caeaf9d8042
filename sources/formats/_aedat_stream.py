"""Shared streaming machinery of the iniVation readers (AEDAT 2.0, 3.1, 4).

A reader subclass decodes one block at a time (`_next_block() -> events | None`) and
may position itself near a time (`_rewind(t)`); this mixin turns that into the
`read` / `read_until` / `seek` interface of `sources.formats.base.EventReader` while
holding at most one decoded block beyond what the caller asked for.
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import FormatError
from pipeline.events import EVENT_DTYPE, empty_events
from sources.formats.base import EventReader as _Base


def format_error(path, offset: int, what: str, kind: str) -> FormatError:
    """One message shape for every iniVation decode error."""
    return FormatError(f"{kind} decode error in {path} at byte {offset}: {what}")


class BlockStreamReader(_Base):
    """read/read_until/seek over the blocks a subclass decodes."""

    def _init_stream(self) -> None:
        self._blocks: list[np.ndarray] = []
        self._count = 0
        self._done = False

    # subclass hooks -------------------------------------------------------------
    def _next_block(self) -> np.ndarray | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _rewind(self, t: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # interface ------------------------------------------------------------------
    def _fill(self) -> bool:
        while True:
            block = self._next_block()
            if block is None:
                self._done = True
                return False
            if block.shape[0]:
                self._blocks.append(block)
                self._count += block.shape[0]
                return True

    def _take(self, n: int) -> np.ndarray:
        if n <= 0:
            return empty_events()
        pending = self._blocks[0] if len(self._blocks) == 1 else np.concatenate(self._blocks)
        out, rest = pending[:n], pending[n:]
        self._blocks = [rest] if rest.shape[0] else []
        self._count = rest.shape[0]
        return out.copy() if rest.shape[0] else out

    def read(self, max_events: int) -> np.ndarray:
        """The next <= max_events events (EVENT_DTYPE); empty at the end of the file."""
        if max_events < 0:
            raise ValueError(f"read: max_events must be >= 0, got {max_events}")
        while self._count < max_events and not self._done:
            self._fill()
        return self._take(min(max_events, self._count))

    def read_until(self, t_end: int) -> np.ndarray:
        """All next events with t < t_end (µs)."""
        while not self._done and (self._count == 0 or self._blocks[-1]["t"][-1] < t_end):
            self._fill()
        n = 0
        for block in self._blocks:
            k = int(np.searchsorted(block["t"], t_end, side="left"))
            n += k
            if k < block.shape[0]:
                break
        return self._take(n)

    def seek(self, t: int) -> None:
        """Position so that the next read starts at the first event with t >= t."""
        self._blocks, self._count, self._done = [], 0, False
        self._rewind(int(t))
        self.read_until(int(t))

    def read_all(self) -> np.ndarray:
        """Every remaining event (convenience for tests and small files)."""
        parts = list(self._blocks)
        self._blocks, self._count = [], 0
        while not self._done:
            block = self._next_block()
            if block is None:
                self._done = True
            elif block.shape[0]:
                parts.append(block)
        return np.concatenate(parts) if parts else np.empty(0, dtype=EVENT_DTYPE)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
