"""Coverage-guided fuzzing of the wire decoder with atheris (not a test: runs until stopped).

    python -m benchmarks.fuzz_wire [-runs=1000000] [-max_len=4096] [corpus_dir ...]

The input bytes are split into frames at 0xFF 0x00 markers (so atheris can grow headers
and buffers independently), seeded with valid messages of every kind. A decode either
returns a chunk that validates or raises WireError; anything else is a crash atheris
reports with the input that caused it.
"""

from __future__ import annotations

import sys

SEPARATOR = b"\xff\x00"


def _one_input(data: bytes) -> None:
    from pipeline.chunks import EndOfStream
    from pipeline.errors import WireError
    from pipeline.wire import WireLimits, decode

    frames = data.split(SEPARATOR)
    try:
        chunk, _ = decode(frames, WireLimits(max_array_bytes=1 << 20, max_message_bytes=1 << 21))
    except WireError:
        return
    if not isinstance(chunk, EndOfStream):
        chunk.validate()


def _seeds(directory: str) -> None:
    import os

    from tests.pipeline.test_wire_fuzz import _good_messages
    os.makedirs(directory, exist_ok=True)
    for i, frames in enumerate(_good_messages()):
        with open(os.path.join(directory, f"seed-{i}"), "wb") as f:
            f.write(SEPARATOR.join(frames))


def main(argv: list[str]) -> int:
    import tempfile

    import atheris

    with atheris.instrument_imports():
        import pipeline.chunks  # noqa: F401
        import pipeline.wire  # noqa: F401
    corpus = [a for a in argv[1:] if not a.startswith("-")]
    if not corpus:
        seed_dir = tempfile.mkdtemp(prefix="fuzz-wire-")
        _seeds(seed_dir)
        argv = [*argv, seed_dir]
    atheris.Setup(argv, _one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
