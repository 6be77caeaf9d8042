"""Live view of an event stream: events accumulated into frames, shown in an OpenCV window
or, with no display, written to an MP4 file or a folder of PNGs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.chunks import Chunk, EventChunk
from pipeline.errors import ConfigError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Sink


@register_stage("live_view")
class LiveView(Sink):
    """Accumulate events over `frame_us` windows into grey frames (ON white, OFF black).

    Parameters: frame_us (accumulation window, µs, on the stream clock); out (".mp4" file,
    a folder for PNGs, or "" for none); window (show an OpenCV window when a display
    exists); scale (pixel zoom); fps (of the MP4 file; 0 = 1e6 / frame_us).
    """

    accepts = ("events",)

    def __init__(self, frame_us: int = 33_000, out: str = "", window: bool = False, scale: int = 1,
                 fps: float = 0.0) -> None:
        self.frame_us = frame_us
        self.out = out
        self.window = window
        self.scale = scale
        self.fps = fps

    def reset(self) -> None:
        self._frame: np.ndarray | None = None
        self._frame_start: int | None = None
        self._writer = None
        self.frames_ = 0

    def process(self, chunk: Chunk) -> list[Chunk]:
        self.check_input(chunk)
        if not hasattr(self, "frames_"):
            self.reset()
        assert isinstance(chunk, EventChunk)
        if self.frame_us <= 0:
            raise ConfigError(f"live_view: frame_us must be > 0, got {self.frame_us}")
        g = chunk.geometry
        if self._frame is None:
            if g.width <= 0 or g.height <= 0:
                raise ConfigError("live_view: event chunks need a geometry with width and height")
            self._frame = np.full((g.height, g.width), 128, np.uint8)
            self._frame_start = chunk.t_start - chunk.t_start % self.frame_us
        ev = chunk.events
        t = ev["t"]
        # close every frame that ends before this chunk's events (or span) reach past it
        while self._frame_start + self.frame_us <= chunk.t_end:
            end = self._frame_start + self.frame_us
            inside = ev[(t >= self._frame_start) & (t < end)]
            self._draw(inside)
            self._emit()
            self._frame_start = end
        self._draw(ev[t >= self._frame_start])
        return []

    def _draw(self, ev: np.ndarray) -> None:
        self._frame[ev["y"], ev["x"]] = np.where(ev["p"] > 0, 255, 0).astype(np.uint8)

    def _emit(self) -> None:
        import cv2

        image = self._frame
        if self.scale > 1:
            image = cv2.resize(image, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_NEAREST)
        if self.out.endswith(".mp4"):
            if self._writer is None:
                fps = self.fps or 1e6 / self.frame_us
                self._writer = cv2.VideoWriter(self.out, cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                               (image.shape[1], image.shape[0]), isColor=False)
            self._writer.write(image)
        elif self.out:
            Path(self.out).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(Path(self.out) / f"frame_{self.frames_:06d}.png"), image)
        if self.window and os.environ.get("DISPLAY"):
            cv2.imshow("spikestream live view", image)
            cv2.waitKey(1)
        self.frames_ += 1
        self._frame[:] = 128

    def flush(self) -> list[Chunk]:
        if getattr(self, "_frame", None) is not None:
            self._emit()
        return []

    def close(self) -> None:
        if getattr(self, "_writer", None) is not None:
            self._writer.release()
            self._writer = None

    def result(self) -> dict[str, Any]:
        return {"frames": int(getattr(self, "frames_", 0)), "out": self.out}

    @classmethod
    def contract_example(cls) -> ContractExample:
        from pipeline.chunks import Geometry
        from pipeline.events import make_events

        ev = make_events([10, 5000, 40_000, 70_000], [1, 2, 3, 4], [0, 1, 2, 3], [1, 0, 1, 0])
        chunk = EventChunk(t_start=0, t_end=100_000, events=ev, geometry=Geometry(width=8, height=4))
        return ContractExample({"frame_us": 33_000}, [chunk])
