"""Event-camera file readers and writers, one format per module.

`open_events(path)` detects the format from the file's first bytes (each reader's
`sniff`), not from its name; `file_info(path)` reports geometry, duration and counts
from the header where the format allows. Modules here are plain modules (no stages);
the file-source stage is `sources/event_file.py`.
"""

from __future__ import annotations

import importlib
import os

from pipeline.errors import FormatError
from sources.formats.base import SNIFF_BYTES, EventReader, FileInfo

# (module, class) in detection order: formats with a strong magic first, the header-less
# N-MNIST .bin (detected by plausibility only) last.
_READER_NAMES = [
    ("sources.formats.aedat4", "Aedat4Reader"),
    ("sources.formats.aedat31", "Aedat31Reader"),
    ("sources.formats.aedat2", "Aedat2Reader"),
    ("sources.formats.evt3", "Evt3Reader"),
    ("sources.formats.evt2", "Evt2Reader"),
    ("sources.formats.dat", "DatReader"),
    ("sources.formats.arrays", "NpyReader"),
    ("sources.formats.arrays", "NpzReader"),
    ("sources.formats.arrays", "Hdf5Reader"),
    ("sources.formats.nmnist_bin", "NmnistBinReader"),
]


def _load_readers() -> list[type[EventReader]]:
    readers = []
    for module, name in _READER_NAMES:
        try:
            mod = importlib.import_module(module)
        except ImportError:  # a format module not written yet
            continue
        cls = getattr(mod, name, None)
        if cls is not None:
            readers.append(cls)
    return readers


READERS: list[type[EventReader]] = _load_readers()


def reader_for(format: str) -> type[EventReader]:
    for cls in READERS:
        if cls.format == format:
            return cls
    known = ", ".join(cls.format for cls in READERS)
    raise FormatError(f"unknown event-file format {format!r}; known: {known}")


def detect_format(path) -> type[EventReader]:
    """The reader class whose `sniff` accepts the file's first bytes."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise FormatError(f"file {path}: cannot open: {exc}") from exc
    for cls in READERS:
        if cls.sniff(head):
            return cls
    tried = ", ".join(cls.format for cls in READERS)
    raise FormatError(f"file {path}, byte 0: not a recognised event file (tried {tried})")


def open_events(path, format: str | None = None, **options) -> EventReader:
    """Open an event file; the format comes from its header unless `format` names it."""
    cls = reader_for(format) if format else detect_format(path)
    return cls(os.fspath(path), **options)


def file_info(path, format: str | None = None, **options) -> FileInfo:
    with open_events(path, format, **options) as reader:
        return reader.info()


__all__ = ["READERS", "EventReader", "FileInfo", "detect_format", "file_info", "open_events", "reader_for"]
