"""Stage checkpoints for restarts: arrays in .npz, everything else in JSON, never pickle.

A stage supports checkpoints by defining two optional methods:

    def state_dict(self) -> dict[str, np.ndarray | JSON-able]: ...
    def load_state_dict(self, state: dict) -> None: ...

`state_dict` returns the stage's whole state (numpy arrays and JSON values, keyed by
name); `load_state_dict` takes the same dict back (arrays come back read-only: copy
before changing them). A checkpoint is written to a fresh directory and published by
atomically replacing a `current` pointer file, so a crash mid-write leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError
from pipeline.stage import Stage


def supports_checkpoints(stage: Stage) -> bool:
    return callable(getattr(stage, "state_dict", None)) and callable(getattr(stage, "load_state_dict", None))


def save_checkpoint(directory: str | Path, state: dict[str, Any], runner: dict[str, Any]) -> Path:
    """Write `state` (the stage's state_dict) and `runner` (JSON) as the new current checkpoint."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    generation = int(runner.get("generation", 0))
    target = directory / f"gen-{generation}"
    tmp = directory / f"tmp-{generation}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    arrays = {k: np.ascontiguousarray(v) for k, v in state.items() if isinstance(v, np.ndarray)}
    for name, array in arrays.items():
        if array.dtype.hasobject:
            raise ConfigError(f"checkpoint: array {name!r} has dtype object; only plain numeric arrays are saved")
    values = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    np.savez(tmp / "arrays.npz", **arrays)
    (tmp / "state.json").write_text(json.dumps({"values": values, "runner": runner}))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    pointer = directory / "current.tmp"
    pointer.write_text(target.name)
    os.replace(pointer, directory / "current")
    for old in directory.glob("gen-*"):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target


def load_checkpoint(directory: str | Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(state, runner) of the current checkpoint, or None if there is none."""
    directory = Path(directory)
    pointer = directory / "current"
    if not pointer.is_file():
        return None
    target = directory / pointer.read_text().strip()
    doc = json.loads((target / "state.json").read_text())
    state: dict[str, Any] = dict(doc["values"])
    with np.load(target / "arrays.npz", allow_pickle=False) as npz:
        for name in npz.files:
            array = npz[name]
            array.flags.writeable = False
            state[name] = array
    return state, doc["runner"]
