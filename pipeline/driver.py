"""Hosting one stage: merge its inputs in a fixed order, call it, stamp and count outputs.

Both runners use these drivers, which is why in-process and distributed runs give the
same output: a stage sees the same sequence of chunks whatever carried them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator

from pipeline.chunks import Chunk, EndOfStream
from pipeline.clock import Pacer
from pipeline.errors import ChunkError
from pipeline.metrics import StageMetrics
from pipeline.stage import Source, Stage


class InputMerger:
    """Releases chunks from several inputs in (t_start, input order) order.

    A chunk is released only when every input that has not ended has a chunk waiting, so
    the order does not depend on arrival timing. With one input it passes chunks through.
    """

    def __init__(self, inputs: list[str]) -> None:
        self.inputs = list(inputs)
        self._queues: dict[str, deque[Chunk]] = {name: deque() for name in inputs}
        self._ended: set[str] = set()

    def push(self, input_name: str, chunk: Chunk) -> list[Chunk]:
        if input_name not in self._queues:
            raise ChunkError(f"chunk from unexpected input {input_name!r}; inputs are {self.inputs}")
        if input_name in self._ended:
            raise ChunkError(f"chunk from input {input_name!r} after its end of stream")
        if isinstance(chunk, EndOfStream):
            self._ended.add(input_name)
        else:
            self._queues[input_name].append(chunk)
        return self._release()

    @property
    def finished(self) -> bool:
        return len(self._ended) == len(self.inputs) and not any(self._queues.values())

    def _release(self) -> list[Chunk]:
        out = []
        while True:
            live = [n for n in self.inputs if n not in self._ended or self._queues[n]]
            if not live or any(not self._queues[n] for n in live if n not in self._ended):
                return out
            pick = min((n for n in live if self._queues[n]),
                       key=lambda n: (self._queues[n][0].t_start, self.inputs.index(n)))
            out.append(self._queues[pick].popleft())


class StageDriver:
    """Runs one processing stage or sink for a runner."""

    def __init__(self, name: str, stage: Stage, inputs: list[str]) -> None:
        self.name = name
        self.stage = stage
        self.merger = InputMerger(inputs)
        self.metrics = StageMetrics()
        self._seq = 0
        self._t_end = 0
        self.done = False
        self.next_in: dict[str, int] = {name: 0 for name in inputs}  # next input seq not yet consumed

    def runner_state(self) -> dict:
        """What a checkpoint needs besides the stage's own state (JSON)."""
        return {"seq": self._seq, "t_end": self._t_end, "next_in": dict(self.next_in)}

    def restore(self, state: dict) -> None:
        """Continue after a checkpoint: the next output seq and the next input seq per input."""
        self._seq, self._t_end = int(state["seq"]), int(state["t_end"])
        self.next_in.update({k: int(v) for k, v in state["next_in"].items() if k in self.next_in})

    def feed(self, input_name: str, chunk: Chunk) -> list[Chunk]:
        """Take one chunk from an input; return outputs (ending with EndOfStream when done)."""
        if not isinstance(chunk, EndOfStream):
            self.metrics.chunks_in += 1
            self.metrics.items_in += chunk.n_items
            self.metrics.bytes_in += chunk.nbytes
        out: list[Chunk] = []
        released = self.merger.push(input_name, chunk)
        if isinstance(chunk, EndOfStream) and not self.merger._queues[input_name]:
            self.next_in[input_name] = chunk.seq + 1
        for ready in released:
            if ready.stream in self.next_in:
                self.next_in[ready.stream] = ready.seq + 1
            self.stage.check_input(ready)
            t0 = time.perf_counter()
            produced = self.stage.process(ready)
            self.metrics.busy_s += time.perf_counter() - t0
            out.extend(self._stamp(produced))
        if self.merger.finished and not self.done:
            t0 = time.perf_counter()
            produced = self.stage.flush()
            self.metrics.busy_s += time.perf_counter() - t0
            out.extend(self._stamp(produced))
            out.append(EndOfStream(t_start=self._t_end, t_end=self._t_end, stream=self.name, seq=self._seq))
            self.done = True
        return out

    def _stamp(self, chunks: list[Chunk]) -> list[Chunk]:
        for c in chunks:
            c.stream, c.seq = self.name, self._seq
            self._seq += 1
            self._t_end = c.t_end
            for array in c.arrays().values():
                array.flags.writeable = False  # the no-mutation contract, enforced in-process too
            self.metrics.chunks_out += 1
            self.metrics.items_out += c.n_items
            self.metrics.bytes_out += c.nbytes
        return chunks


class SourceDriver:
    """Iterates a source, pacing it, stamping stream names and sequence numbers."""

    def __init__(self, name: str, source: Source, speed: float = 0.0) -> None:
        self.name = name
        self.stage = source
        self.pacer = Pacer(speed)
        self.metrics = StageMetrics()

    def chunks(self) -> Iterator[Chunk]:
        seq, t_end = 0, 0
        iterator = iter(self.stage.chunks())
        while True:
            t0 = time.perf_counter()
            chunk = next(iterator, None)
            self.metrics.busy_s += time.perf_counter() - t0
            if chunk is None or isinstance(chunk, EndOfStream):
                break
            self.pacer.wait_until(chunk.t_end)
            chunk.stream, chunk.seq = self.name, seq
            seq += 1
            t_end = chunk.t_end
            for array in chunk.arrays().values():
                array.flags.writeable = False
            self.metrics.chunks_out += 1
            self.metrics.items_out += chunk.n_items
            self.metrics.bytes_out += chunk.nbytes
            yield chunk
        yield EndOfStream(t_start=t_end, t_end=t_end, stream=self.name, seq=seq)
