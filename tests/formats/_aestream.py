"""aestream as a test peer, run in a child process: aestream 0.6 segfaults on some files
(the real DVXplorer sample.aedat4), which in-process would end the whole test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.events import EVENT_DTYPE

_SCRIPT = """
import sys, numpy as np, aestream
events = aestream.FileInput(sys.argv[1], (int(sys.argv[2]), int(sys.argv[3]))).load()
np.save(sys.argv[4], events, allow_pickle=False)
"""


def aestream_events(path, geometry: tuple[int, int], tmp_path: Path) -> np.ndarray:
    """The events aestream decodes from `path` as EVENT_DTYPE; skips where aestream is not
    installed, fails with its exit code where it crashes."""
    pytest.importorskip("aestream")
    out = tmp_path / f"aestream_{Path(path).name}.npy"
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(path), str(geometry[0]), str(geometry[1]), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"aestream exits with {done.returncode} on {path}: {done.stderr[-300:]}"
    theirs = np.load(out, allow_pickle=False)  # fields timestamp, x, y, polarity
    events = np.empty(theirs.shape[0], dtype=EVENT_DTYPE)
    for ours, field in zip("txyp", theirs.dtype.names):
        events[ours] = theirs[field]
    return events
