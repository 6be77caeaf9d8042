"""Shared streaming machinery of the iniVation readers (AEDAT 2.0, 3.1, 4).

A reader subclass decodes one block at a time (`_next_block(want) -> events | None`) and
may position itself near a time (`_rewind(t)`); this mixin turns that into the
`read` / `read_until` / `seek` interface of `sources.formats.base.EventReader` while
holding at most one decoded block beyond what the caller asked for.
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import FormatError
from sources.formats.base import EventReader as _Base
from sources.formats.base import PendingEvents


def format_error(path, offset: int, what: str, kind: str) -> FormatError:
    """One message shape for every iniVation decode error."""
    return FormatError(f"{kind} decode error in {path} at byte {offset}: {what}")


class BlockStreamReader(_Base):
    """read/read_until/seek over the blocks a subclass decodes."""

    def _init_stream(self) -> None:
        self._pending = PendingEvents()
        self._done = False

    # subclass hooks -------------------------------------------------------------
    def _next_block(self, want: int) -> np.ndarray | None:  # pragma: no cover - abstract
        """The next decoded events; None at the end. want: how many events the caller still
        needs (0: no hint); a block of exactly that many lets `read` return it uncopied."""
        raise NotImplementedError

    def _rewind(self, t: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # interface ------------------------------------------------------------------
    def _fill(self, want: int = 0) -> bool:
        while True:
            block = self._next_block(want)
            if block is None:
                self._done = True
                return False
            if block.shape[0]:
                self._pending.push(block)
                return True

    def read(self, max_events: int) -> np.ndarray:
        """The next <= max_events events (EVENT_DTYPE); empty at the end of the file."""
        max_events = int(max_events)
        if max_events < 0:
            raise ValueError(f"read: max_events must be >= 0, got {max_events}")
        while self._pending.count < max_events and not self._done:
            self._fill(max_events - self._pending.count)
        return self._pending.take(max_events)

    def read_until(self, t_end: int) -> np.ndarray:
        """All next events with t < t_end (µs)."""
        t_end = int(t_end)
        while not self._done and (self._pending.count == 0 or self._pending.last_t() < t_end):
            self._fill()
        return self._pending.take(self._pending.count_before(t_end))

    def seek(self, t: int) -> None:
        """Position so that the next read starts at the first event with t >= t."""
        self._pending.clear()
        self._done = False
        self._rewind(int(t))
        while not self._done:
            self._fill()
            last = self._pending.last_t()
            if last is not None and last >= t:
                break
            self._pending.clear()  # whole blocks before t: drop them, memory stays flat
        self._pending.take(self._pending.count_before(int(t)))

    def read_all(self) -> np.ndarray:
        """Every remaining event (convenience for tests and small files)."""
        while not self._done:
            self._fill(1 << 20)
        return self._pending.take(self._pending.count)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
