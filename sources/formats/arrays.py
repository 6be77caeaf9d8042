"""Event arrays on disk: `.npy`, `.npz` and HDF5, read in slices and converted to EVENT_DTYPE.

Accepted layouts (fields t, x, y, p of any integer width, p also bool; aliases `ts` /
`timestamp` for t and `polarity` / `pol` for p; p in {0, 1}, or {-1, 1} with -1 read as 0):

- `.npy`: one 1-D structured array (e.g. EVENT_DTYPE, tonic's, OpenEB's EventCD), opened
  with `np.load(mmap_mode="r", allow_pickle=False)` so only the slices read are paged in.
- `.npz`: a structured member `events`, or members `t`, `x`, `y`, `p` of equal length;
  optional scalar members `width`, `height` or `sensor_size` (tonic's (W, H[, P])). Members
  stored uncompressed (`np.savez`) are memory-mapped straight from the zip; compressed ones
  (`np.savez_compressed`) are decompressed as a stream, so `seek` there rewinds and skips.
- HDF5 (h5py): a group `events` holding 1-D datasets t, x, y, p (DSEC's layout, with its
  optional root dataset `t_offset` added to t), or a 1-D compound dataset `events` (or
  `CD/events`); `dataset=` names another path. Geometry from `width`/`height` or
  `sensor_size` attributes of the root or the events node.

Times must be integer µs sorted in time; anything else is a FormatError naming the event.
"""

from __future__ import annotations

import io
import struct
import zipfile
from typing import ClassVar

import numpy as np

from pipeline.events import EVENT_DTYPE, as_events
from sources.formats._array_reader import (
    FIELDS,
    ArrayReaderBase,
    H5Columns,
    RandomColumns,
    RecordFile,
    ZipColumns,
    ZipStream,
    check_kinds,
    geometry_from,
    pick_fields,
    read_npy_header,
)

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class NpyReader(ArrayReaderBase):
    """A 1-D structured `.npy` array of events: EVENT_DTYPE rows read straight into the
    arrays returned, other layouts memory-mapped and converted. Parameters: path; width,
    height: the sensor geometry (a .npy has none; checked against when given)."""

    format: ClassVar[str] = "npy"
    suffixes: ClassVar[tuple[str, ...]] = (".npy",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(b"\x93NUMPY")

    def _open(self):
        with open(self.path, "rb") as fh:
            shape, dtype = read_npy_header(fh)
            data_offset = fh.tell()
        if dtype.names is None:
            raise ValueError(f"array of dtype {dtype} is not structured (need fields t, x, y, p)")
        names = pick_fields(dtype.names, "array")
        check_kinds({f: dtype.fields[names[f]][0] for f in FIELDS})
        if shape[0] == 0:
            arr = np.empty(0, dtype=dtype)
        else:
            if dtype == EVENT_DTYPE and dtype.names == EVENT_DTYPE.names:
                return RecordFile(self.path, data_offset, shape[0]), None, None
            arr = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return RandomColumns({f: arr[names[f]] for f in FIELDS}, shape[0]), None, None


class NpzReader(ArrayReaderBase):
    """Events in an `.npz` (see the module docstring for the layouts). Parameters: path;
    width, height: override the geometry stored in the file."""

    format: ClassVar[str] = "npz"
    suffixes: ClassVar[tuple[str, ...]] = (".npz",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        if not head.startswith(b"PK\x03\x04") or len(head) < 30:
            return False
        (name_len,) = struct.unpack("<H", head[26:28])
        return head[30 : 30 + name_len].endswith(b".npy")

    def _open(self):
        self._zip = zipfile.ZipFile(self.path)
        try:
            return self._open_members()
        except BaseException:
            self._zip.close()
            raise

    def _open_members(self):
        members = {n[:-4]: n for n in self._zip.namelist() if n.endswith(".npy")}
        small = {k: self._small(members[k]) for k in ("width", "height", "sensor_size") if k in members}
        width, height = geometry_from(small)
        if "events" in members:
            wanted = {"events": members["events"]}
        else:
            names = pick_fields(members, "npz")
            wanted = {f: members[names[f]] for f in FIELDS}
        infos = {k: self._zip.getinfo(v) for k, v in wanted.items()}
        stored = all(i.compress_type == zipfile.ZIP_STORED for i in infos.values())
        if stored:
            parts = {k: self._memmap(i) for k, i in infos.items()}
            lengths = {k: a.shape[0] for k, a in parts.items()}
        else:
            parts = {k: ZipStream(self._zip, v) for k, v in wanted.items()}
            lengths = {k: s.n for k, s in parts.items()}
        dtypes = {k: a.dtype for k, a in parts.items()}
        if "events" in parts:
            if dtypes["events"].names is None:
                raise ValueError(f"member 'events' of dtype {dtypes['events']} is not structured")
            names = pick_fields(dtypes["events"].names, "member 'events'")
            check_kinds({f: dtypes["events"].fields[names[f]][0] for f in FIELDS})
            n = lengths["events"]
        else:
            names = None
            check_kinds(dtypes)
            if len(set(lengths.values())) != 1:
                raise ValueError(f"members t, x, y, p differ in length: {lengths}")
            n = lengths["t"]
        if not stored:
            return ZipColumns(parts, names, n), width, height
        columns = {f: parts["events"][names[f]] for f in FIELDS} if names else parts
        return RandomColumns(columns, n), width, height

    def _small(self, name: str) -> np.ndarray:
        if self._zip.getinfo(name).file_size > 4096:
            raise ValueError(f"member {name} is too large for a geometry value")
        return np.load(io.BytesIO(self._zip.read(name)), allow_pickle=False)

    def _memmap(self, info: zipfile.ZipInfo) -> np.ndarray:
        """A stored member's array mapped in place: data starts after the local file
        header (30 bytes + name + extra field, PKWARE APPNOTE 4.3.7) and the .npy header."""
        with open(self.path, "rb") as fh:
            fh.seek(info.header_offset)
            local = fh.read(30)
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                raise ValueError(f"member {info.filename}: bad local file header")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            fh.seek(info.header_offset + 30 + name_len + extra_len)
            start = fh.tell()
            shape, dtype = read_npy_header(fh)
            offset = fh.tell()
        if offset - start + shape[0] * dtype.itemsize > info.file_size:
            raise ValueError(f"member {info.filename}: {shape[0]} rows do not fit its {info.file_size} bytes")
        if shape[0] == 0:
            return np.empty(0, dtype=dtype)
        return np.memmap(self.path, dtype=dtype, mode="r", offset=offset, shape=shape)

    def close(self) -> None:
        super().close()
        if getattr(self, "_zip", None) is not None:
            self._zip.close()


class Hdf5Reader(ArrayReaderBase):
    """Events in an HDF5 file (see the module docstring for the layouts). Parameters: path;
    dataset: the group or compound dataset holding the events (default: `events`, then
    `CD/events`); width, height: override the geometry stored in the file."""

    format: ClassVar[str] = "hdf5"
    suffixes: ClassVar[tuple[str, ...]] = (".h5", ".hdf5")
    options: ClassVar[tuple[str, ...]] = ("dataset",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        # the superblock sits at 0 or, after a user block, at 512, 1024, 2048, ... (HDF5 spec II.A)
        at = 0
        while at + 8 <= len(head):
            if head[at : at + 8] == HDF5_SIGNATURE:
                return True
            at = 512 if at == 0 else 2 * at
        return False

    def _open(self, dataset: str | None = None):
        import h5py

        handle = h5py.File(self.path, "r")
        try:
            return self._layout(handle, dataset)
        except BaseException:
            handle.close()
            raise

    def _layout(self, handle, dataset):
        import h5py

        paths = [dataset] if dataset else ["events", "CD/events"]
        node = next((handle[p] for p in paths if p in handle), None)
        if node is None:
            raise ValueError(f"no {' or '.join(repr(p) for p in paths)} group/dataset; top level has {sorted(handle)}")
        attrs = {**{k: v for k, v in handle.attrs.items()}, **{k: v for k, v in node.attrs.items()}}
        width, height = geometry_from(attrs)
        t_offset = 0
        if "t_offset" in handle and isinstance(handle["t_offset"], h5py.Dataset) and handle["t_offset"].size == 1:
            t_offset = int(np.asarray(handle["t_offset"][()]).reshape(-1)[0])  # DSEC: t is relative to this
        if isinstance(node, h5py.Dataset):
            if node.dtype.names is None or node.ndim != 1:
                raise ValueError(f"dataset {node.name} (dtype {node.dtype}, shape {node.shape}) is not a 1-D compound")
            names = pick_fields(node.dtype.names, f"dataset {node.name}")
            check_kinds({f: node.dtype.fields[names[f]][0] for f in FIELDS})
            return H5Columns(handle, names, node.shape[0], t_offset, compound=node), width, height
        names = pick_fields([k for k in node if isinstance(node[k], h5py.Dataset)], f"group {node.name}")
        columns = {f: node[names[f]] for f in FIELDS}
        check_kinds({f: c.dtype for f, c in columns.items()})
        shapes = {f: c.shape for f, c in columns.items()}
        if any(len(s) != 1 for s in shapes.values()) or len(set(shapes.values())) != 1:
            raise ValueError(f"datasets t, x, y, p must be 1-D of one length; shapes {shapes}")
        return H5Columns(handle, columns, shapes["t"][0], t_offset), width, height


# writers ------------------------------------------------------------------------------
def _prepare(events: np.ndarray, where: str) -> np.ndarray:
    events = as_events(np.asarray(events), where=where)
    t = events["t"]
    if t.shape[0] > 1 and np.any(t[1:] < t[:-1]):
        raise ValueError(f"{where}: events must be time-sorted")
    return events


def write_npy(path, events: np.ndarray) -> None:
    """Write events as one EVENT_DTYPE `.npy` array (no geometry: a .npy holds one array)."""
    events = _prepare(events, f"npy writer {path}")
    with open(path, "wb") as fh:  # a file object, so numpy does not append '.npy' to the name
        np.save(fh, events, allow_pickle=False)


def write_npz(path, events: np.ndarray, width: int | None = None, height: int | None = None,
              layout: str = "columns", compressed: bool = False) -> None:
    """Write events as `.npz`: layout "columns" (members t, x, y, p) or "events" (one
    EVENT_DTYPE member), plus `width`/`height` members when given; `compressed` deflates."""
    events = _prepare(events, f"npz writer {path}")
    if layout == "columns":
        arrays = {f: np.ascontiguousarray(events[f]) for f in FIELDS}
    elif layout == "events":
        arrays = {"events": events}
    else:
        raise ValueError(f"npz writer: layout must be 'columns' or 'events', got {layout!r}")
    if width is not None and height is not None:
        arrays["width"], arrays["height"] = np.int64(width), np.int64(height)
    save = np.savez_compressed if compressed else np.savez
    with open(path, "wb") as fh:
        save(fh, allow_pickle=False, **arrays)


def write_hdf5(path, events: np.ndarray, width: int | None = None, height: int | None = None,
               layout: str = "columns", compression: str | None = None) -> None:
    """Write events to HDF5: layout "columns" (group `events` with datasets t, x, y, p) or
    "compound" (dataset `events` of EVENT_DTYPE); `width`/`height` as root attributes;
    compression: an h5py filter name such as "gzip" or "lzf"."""
    import h5py

    events = _prepare(events, f"HDF5 writer {path}")
    if layout not in ("columns", "compound"):
        raise ValueError(f"HDF5 writer: layout must be 'columns' or 'compound', got {layout!r}")
    chunks = (min(max(events.shape[0], 1), 1 << 16),)
    with h5py.File(path, "w") as fh:
        if width is not None and height is not None:
            fh.attrs["width"], fh.attrs["height"] = int(width), int(height)
        if layout == "compound":
            fh.create_dataset("events", data=events, chunks=chunks, compression=compression)
        else:
            group = fh.create_group("events")
            for f in FIELDS:
                group.create_dataset(f, data=np.ascontiguousarray(events[f]), chunks=chunks, compression=compression)


__all__ = ["Hdf5Reader", "NpyReader", "NpzReader", "write_hdf5", "write_npy", "write_npz"]
