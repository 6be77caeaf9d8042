"""The camera source on a video file written with OpenCV and on an MJPEG stream served
over HTTP on 127.0.0.1 by the test."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from pipeline.chunks import EndOfStream, FrameChunk
from pipeline.errors import DeviceError
from pipeline.testing import assert_tiles, payload
from sources._test_video import moving_bar_frames, moving_bar_video
from sources.camera import Camera


def _frames(chunks):
    return [c for c in chunks if isinstance(c, FrameChunk)]


def test_video_file_frames_and_stamps(tmp_path):
    path = moving_bar_video(tmp_path / "bar.avi", frames=30, fps=30.0)
    cam = Camera(source=str(path), chunk_us=100_000)
    chunks = list(cam.chunks())
    assert isinstance(chunks[-1], EndOfStream)
    data = _frames(chunks)
    assert_tiles(data, "camera")
    p = payload(data)
    assert p["frames.frames"].shape == (30, 48, 64)
    # media clock: frame i at i / fps
    assert np.array_equal(p["frames.times"], np.round(np.arange(30) * 1e6 / 30).astype(np.int64))
    assert [c.frames.shape[0] for c in data[:3]] == [3, 3, 3]  # 0, 33, 67 | 100, 133, 167 | 200, 233, 267
    # content survives the MJPG round trip: the bar is where it was drawn
    expected = moving_bar_frames(30)
    assert np.abs(p["frames.frames"].astype(int) - expected).mean() < 4.0
    assert cam.result()["frames"] == 30 and cam.result()["dropped_frames"] == 0
    # same output whatever the chunk size
    other = payload(_frames(Camera(source=str(path), chunk_us=7_000).chunks()))
    assert np.array_equal(other["frames.times"], p["frames.times"])


class _MjpegHandler(BaseHTTPRequestHandler):
    frames: list[bytes] = []
    pause_after: int = -1

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            for i, jpeg in enumerate(self.frames):
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                self.wfile.write(f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                self.wfile.flush()
                time.sleep(0.02 if i != self.pause_after else 0.3)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def mjpeg_server():
    import cv2

    frames = moving_bar_frames(20)
    _MjpegHandler.frames = [cv2.imencode(".jpg", f)[1].tobytes() for f in frames]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MjpegHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg", frames
    server.shutdown()
    server.server_close()


def test_mjpeg_http_stream(mjpeg_server):
    url, frames = mjpeg_server
    cam = Camera(source=url, chunk_us=50_000, max_frames=20)
    data = _frames(cam.chunks())
    assert_tiles(data, "camera mjpeg")
    p = payload(data)
    assert p["frames.frames"].shape[0] == 20
    assert np.abs(p["frames.frames"].astype(int) - frames.astype(int)).mean() < 4.0
    stamps = p["frames.times"]
    assert np.all(np.diff(stamps) > 0)
    # wall clock stamps: 20 frames sent 20 ms apart span roughly 0.4 s
    assert 0.2e6 < stamps[-1] - stamps[0] < 2.0e6


def test_missing_sources_raise_device_error(tmp_path):
    with pytest.raises(DeviceError, match="no video file"):
        next(Camera(source=str(tmp_path / "nothing.avi")).chunks())
    with pytest.raises(DeviceError, match="cannot open"):
        next(Camera(source="http://127.0.0.1:9/none.mjpg").chunks())
