"""DVS emulator on synthetic scenes with known answers."""

from __future__ import annotations

import numpy as np

from pipeline.chunks import FrameChunk, Geometry
from pipeline.testing import payload, run_stage
from sources._test_video import moving_bar_frames
from sources.dvs_emulator import DVSEmulator

PERIOD = 10_000  # µs between frames


def _chunks(frames, per_chunk=5):
    times = np.arange(frames.shape[0], dtype=np.int64) * PERIOD
    g = Geometry(width=frames.shape[2], height=frames.shape[1], channels=1)
    return [FrameChunk(t_start=int(a * PERIOD), t_end=int(min(a + per_chunk, frames.shape[0]) * PERIOD),
                       frames=frames[a:a + per_chunk], times=times[a:a + per_chunk], geometry=g)
            for a in range(0, frames.shape[0], per_chunk)]


def test_moving_edge_gives_right_polarity_pixels_and_times():
    frames = moving_bar_frames(10, width=40, height=4, speed_px=2.0, bar_px=8)  # 40 -> 200 at the edges
    stage = DVSEmulator(on_threshold=0.2, off_threshold=0.2, threshold_sigma=0.0)
    ev = payload(run_stage(stage, _chunks(frames)))["events.events"]
    contrast = np.log(200 / 255 + 0.02) - np.log(40 / 255 + 0.02)
    per_pixel = int(np.floor(contrast / 0.2))
    for k in range(1, 10):
        in_k = ev[(ev["t"] > (k - 1) * PERIOD) & (ev["t"] <= k * PERIOD)]
        on, off = in_k[in_k["p"] == 1], in_k[in_k["p"] == 0]
        # the bar covers columns [4 + 2k, 12 + 2k): two columns brighten at its front, two darken behind
        assert set(np.unique(on["x"]).tolist()) == {10 + 2 * k, 11 + 2 * k}
        assert set(np.unique(off["x"]).tolist()) == {4 + 2 * (k - 1), 5 + 2 * (k - 1)}
        assert on.shape[0] == off.shape[0] == per_pixel * 2 * 4  # per pixel, 2 columns x 4 rows
        # the j-th ON event of a pixel sits where the interpolated log intensity crosses j thresholds
        pixel = on[(on["x"] == 10 + 2 * k) & (on["y"] == 0)]
        expected = (k - 1) * PERIOD + np.ceil(np.arange(1, per_pixel + 1) * 0.2 / contrast * PERIOD)
        assert np.array_equal(pixel["t"], expected.astype(np.int64))
    assert np.all(np.diff(ev["t"]) >= 0)


def test_refractory_period_drops_fast_repeats():
    frames = moving_bar_frames(10, width=40, height=4, speed_px=2.0, bar_px=8)
    ev = payload(run_stage(DVSEmulator(threshold_sigma=0.0, refractory_us=5000), _chunks(frames)))["events.events"]
    for x, y in {(int(e["x"]), int(e["y"])) for e in ev}:
        t = ev["t"][(ev["x"] == x) & (ev["y"] == y)]
        assert np.all(np.diff(t) >= 5000)


def test_static_scene_gives_only_noise_at_the_configured_rate():
    frames = np.full((101, 32, 32), 120, np.uint8)  # 1 s of a static scene, 1024 pixels
    rate = 5.0
    stage = DVSEmulator(threshold_sigma=0.05, shot_noise_rate_hz=rate, seed=7)
    ev = payload(run_stage(stage, _chunks(frames, per_chunk=7)))["events.events"]
    expected = rate * 1.0 * 1024
    assert abs(ev.shape[0] - expected) < 4 * np.sqrt(expected)
    assert abs(np.mean(ev["p"]) - 0.5) < 0.05
    # spread over pixels and time, not piled up
    assert np.unique(ev["x"].astype(int) * 32 + ev["y"]).size > 900
    counts, _ = np.histogram(ev["t"], bins=10, range=(0, 1_000_000))
    assert counts.min() > expected / 10 - 4 * np.sqrt(expected / 10)
    # no noise, no leak: a static scene is silent
    quiet = payload(run_stage(DVSEmulator(threshold_sigma=0.05), _chunks(frames)))["events.events"]
    assert quiet.shape[0] == 0


def test_leak_events_are_on_events_at_the_leak_rate():
    frames = np.full((201, 16, 16), 90, np.uint8)  # 2 s
    ev = payload(run_stage(DVSEmulator(threshold_sigma=0.0, leak_rate_hz=3.0, seed=1), _chunks(frames)))[
        "events.events"]
    assert np.all(ev["p"] == 1)
    per_pixel = ev.shape[0] / 256 / 2.0
    assert 2.5 < per_pixel < 3.5


def test_seed_changes_noise_but_chunking_does_not():
    frames = np.full((41, 16, 16), 100, np.uint8)
    a = payload(run_stage(DVSEmulator(shot_noise_rate_hz=50.0, seed=1), _chunks(frames, 3)))["events.events"]
    b = payload(run_stage(DVSEmulator(shot_noise_rate_hz=50.0, seed=1), _chunks(frames, 11)))["events.events"]
    c = payload(run_stage(DVSEmulator(shot_noise_rate_hz=50.0, seed=2), _chunks(frames, 3)))["events.events"]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_live_view_writes_png_frames_of_the_emulated_events(tmp_path):
    import cv2

    from sinks.live_view import LiveView

    frames = moving_bar_frames(10, width=40, height=4, speed_px=2.0, bar_px=8)
    out = run_stage(DVSEmulator(threshold_sigma=0.0), _chunks(frames))
    view = LiveView(frame_us=PERIOD, out=str(tmp_path / "png"))
    run_stage(view, out)
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert len(pngs) == view.result()["frames"] >= 9
    k = 3
    image = cv2.imread(str(pngs[k - 1]), cv2.IMREAD_GRAYSCALE)  # frame k-1 shows the events of interval k
    assert np.all(image[:, [10 + 2 * k, 11 + 2 * k]] == 255)  # ON at the bar's front
    assert np.all(image[:, [4 + 2 * (k - 1), 5 + 2 * (k - 1)]] == 0)  # OFF behind it
    assert np.count_nonzero(image != 128) == 4 * 4
