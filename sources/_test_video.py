"""Synthetic scenes written as real video files (OpenCV), for examples and tests."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def moving_bar_frames(frames: int = 30, width: int = 64, height: int = 48, speed_px: float = 2.0,
                      bar_px: int = 8) -> np.ndarray:
    """uint8 [frames, height, width]: a bright vertical bar moving right over a dark background."""
    out = np.full((frames, height, width), 40, np.uint8)
    for i in range(frames):
        left = int(round(4 + i * speed_px))
        out[i, :, left:left + bar_px] = 200
    return out


def moving_bar_video(path: str | Path, frames: int = 30, fps: float = 30.0, width: int = 64,
                     height: int = 48) -> Path:
    """Write the moving bar as an MJPG AVI (written aside, then renamed into place)."""
    import cv2

    path = Path(path)
    fd, tmp = tempfile.mkstemp(suffix=".avi", dir=path.parent)
    os.close(fd)
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height), isColor=True)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write MJPG video to {tmp}")
    for frame in moving_bar_frames(frames, width, height):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    os.replace(tmp, path)
    return path
