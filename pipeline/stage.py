"""The Stage protocol: chunk in -> chunks out, state kept between calls, flush at end.

Parameters are stored verbatim in ``__init__`` (as scikit-learn estimators do); state is
created on the first chunk or in ``reset()``. A stage's output must not depend on how its
input was chunked. Stages never modify the arrays of the chunks they receive (the
runners hand them read-only arrays).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pipeline.chunks import Chunk
from pipeline.errors import ChunkError


@dataclass
class ContractExample:
    """What the shared stage-contract test runs a registered stage on.

    For a stage: `params` build it and `inputs` is a short stream of input chunks.
    For a source: `inputs` is None and `variants` are extra parameter sets that differ only
    in chunking (chunk size), whose output must equal that of `params`.
    """

    params: dict[str, Any]
    inputs: list[Chunk] | None = None
    variants: list[dict[str, Any]] = field(default_factory=list)


class Stage:
    """Base of every pipeline stage."""

    #: chunk kinds this stage takes as input ("events", "signal", "frames", "values").
    accepts: ClassVar[tuple[str, ...]] = ()

    def process(self, chunk: Chunk) -> list[Chunk]:
        """Consume one chunk; return the chunks it completes (possibly none)."""
        raise NotImplementedError

    def flush(self) -> list[Chunk]:
        """End of stream: return whatever state still holds, then the stage is finished."""
        return []

    def reset(self) -> None:
        """Forget all state so the next chunk starts a fresh stream."""

    def result(self) -> dict[str, Any]:
        """A JSON-able summary reported at the end of a run (sinks, readouts)."""
        return {}

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, read back from attributes of the same name."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names if hasattr(self, n)}

    def check_input(self, chunk: Chunk) -> None:
        """Raise ChunkError unless the chunk's kind is one this stage accepts."""
        if chunk.kind not in self.accepts:
            raise ChunkError(
                f"{type(self).__name__} accepts {', '.join(self.accepts) or 'no input'} chunks, "
                f"got a {chunk.kind} chunk from stream {chunk.stream!r}"
            )

    @classmethod
    def contract_example(cls) -> ContractExample:
        """Parameters and a short input stream for tests/test_stage_contract.py.

        Every registered stage must provide one (a stage without one fails that test).
        """
        raise NotImplementedError(f"{cls.__name__} has no contract_example()")

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


class Source(Stage):
    """A stage with no input: yields chunks that tile time from the stream's start."""

    def chunks(self) -> Iterator[Chunk]:
        raise NotImplementedError

    def process(self, chunk: Chunk) -> list[Chunk]:
        raise ChunkError(f"{type(self).__name__} is a source and takes no input chunks")


class Sink(Stage):
    """A stage that consumes chunks and emits none; its summary comes from result()."""

    def close(self) -> None:
        """Release files or devices; called once after flush()."""
