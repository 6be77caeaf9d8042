"""Camera source: OpenCV capture from a device index, a video file or a network stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.chunks import Chunk, EndOfStream, FrameChunk, Geometry
from pipeline.errors import ConfigError, DeviceError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Source


def _is_live(source: int | str) -> bool:
    return isinstance(source, int) or (isinstance(source, str) and (source.isdigit() or "://" in source))


@register_stage("camera")
class Camera(Source):
    """Frames from a camera index, a video file or a stream URL (http MJPEG, rtsp, ...).

    Parameters: source (device index, file path or URL); chunk_us (chunk span, µs);
    gray (convert to one channel); width, height (resize to this, 0 = as captured);
    max_frames (stop after this many, 0 = until the stream ends); clock ("media": stamps
    from the file's own frame times; "wall": from the monotonic clock at capture; "auto":
    media for files, wall for cameras and URLs); t0_us (stamp offset of the first frame in
    media clock); max_gap_frames (a gap in media stamps longer than this many frame periods
    counts the missing frames as dropped).
    """

    def __init__(self, source: int | str = 0, chunk_us: int = 100_000, gray: bool = True, width: int = 0,
                 height: int = 0, max_frames: int = 0, clock: str = "auto", t0_us: int = 0,
                 max_gap_frames: float = 1.5) -> None:
        self.source = source
        self.chunk_us = chunk_us
        self.gray = gray
        self.width = width
        self.height = height
        self.max_frames = max_frames
        self.clock = clock
        self.t0_us = t0_us
        self.max_gap_frames = max_gap_frames

    def _open(self):
        import cv2

        src: Any = int(self.source) if isinstance(self.source, str) and self.source.isdigit() else self.source
        if isinstance(src, str) and "://" not in src and not Path(src).is_file():
            raise DeviceError(f"camera: no video file {src!r}")
        cap = cv2.VideoCapture(src)
        if not cap.isOpened():
            raise DeviceError(f"camera: cannot open {src!r} (OpenCV {cv2.__version__}: no such device, "
                              f"unreadable file or unreachable stream)")
        return cap

    def chunks(self) -> Iterator[Chunk]:
        import cv2

        if self.chunk_us <= 0:
            raise ConfigError(f"camera: chunk_us must be > 0, got {self.chunk_us}")
        if self.clock not in ("auto", "media", "wall"):
            raise ConfigError(f"camera: clock must be auto, media or wall, got {self.clock!r}")
        media = self.clock == "media" or (self.clock == "auto" and not _is_live(self.source))
        cap = self._open()
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        self.fps_ = float(fps)
        self.frames_ = self.dropped_ = self.read_failures_ = 0
        frames: list[np.ndarray] = []
        times: list[int] = []
        chunk_start = None
        geometry = None
        wall0 = None
        last_t = None
        try:
            while not self.max_frames or self.frames_ < self.max_frames:
                ok, frame = cap.read()
                if not ok:
                    break
                if media:
                    pos_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
                    t = self.t0_us + (int(round(pos_ms * 1000)) if pos_ms > 0 or fps <= 0 else
                                      int(round(self.frames_ * 1e6 / fps)))
                    if fps > 0 and last_t is not None:
                        period = 1e6 / fps
                        gap = (t - last_t) / period
                        if gap > self.max_gap_frames:
                            self.dropped_ += int(round(gap)) - 1
                else:
                    now = time.monotonic_ns() // 1000
                    wall0 = now if wall0 is None else wall0
                    t = now
                    if fps > 0 and last_t is not None and (t - last_t) > self.max_gap_frames * 1e6 / fps:
                        self.dropped_ += int(round((t - last_t) * fps / 1e6)) - 1
                if last_t is not None and t <= last_t:
                    t = last_t + 1  # stamps must increase even if a container repeats one
                last_t = t
                image = self._convert(frame, cv2)
                if geometry is None:
                    geometry = Geometry(width=image.shape[1], height=image.shape[0],
                                        channels=1 if image.ndim == 2 else 3)
                    chunk_start = t - (t - self.t0_us) % self.chunk_us if media else t
                while t >= chunk_start + self.chunk_us:
                    yield self._chunk(frames, times, chunk_start, geometry)
                    frames, times = [], []
                    chunk_start += self.chunk_us
                frames.append(image)
                times.append(t)
                self.frames_ += 1
        finally:
            cap.release()
        if geometry is None:
            raise DeviceError(f"camera: {self.source!r} delivered no frames")
        end = times[-1] + 1 if times else chunk_start
        last = self._chunk(frames, times, chunk_start, geometry)
        last.t_end = max(end, chunk_start)
        yield last
        yield EndOfStream(t_start=last.t_end, t_end=last.t_end)

    def _convert(self, frame: np.ndarray, cv2) -> np.ndarray:
        if self.gray and frame.ndim == 3:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if self.width and self.height and (frame.shape[1], frame.shape[0]) != (self.width, self.height):
            frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def _chunk(self, frames: list[np.ndarray], times: list[int], start: int, geometry: Geometry) -> FrameChunk:
        shape = (0, geometry.height, geometry.width) + (() if geometry.channels == 1 else (3,))
        return FrameChunk(t_start=int(start), t_end=int(start + self.chunk_us),
                          frames=np.stack(frames) if frames else np.zeros(shape, np.uint8),
                          times=np.array(times, dtype=np.int64), geometry=geometry, meta={})

    def result(self) -> dict[str, Any]:
        if not hasattr(self, "frames_"):
            return {}
        return {"source": str(self.source), "frames": self.frames_, "dropped_frames": self.dropped_,
                "fps": self.fps_, "summary": f"{self.frames_} frames, {self.dropped_} dropped"}

    @classmethod
    def contract_example(cls) -> ContractExample:
        import tempfile

        from sources._test_video import moving_bar_video

        path = Path(tempfile.gettempdir()) / "spikestream-camera-contract.avi"
        if not path.is_file():
            moving_bar_video(path, frames=30, fps=30.0)
        params = {"source": str(path), "chunk_us": 100_000}
        return ContractExample(params, None, variants=[{**params, "chunk_us": 33_000}])
