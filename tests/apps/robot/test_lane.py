"""Lane keeping (Bing et al. 2018): the plant's geometry and kinematics against known answers,
the event camera against the dvs_emulator stage, learning against the untrained network,
save/load reproducibility, and the held-out track."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apps.robot.lane import EventCamera, LanePlant, Track
from apps.robot.lane_controller import LaneController
from apps.robot.lane_train import evaluate, run_episodes
from pipeline.errors import ConfigError

TRAIN_EPISODES = 8  # ~4000 control steps on the oval, a few seconds


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    ctl = LaneController(seed=0)
    rep = run_episodes(ctl, TRAIN_EPISODES, track="oval", seed=0)
    path = ctl.save(tmp_path_factory.mktemp("lane") / "lane.json")
    return {"path": path, "report": rep, "controller": ctl}


def circle_track(radius: float = 2.0) -> Track:
    a = np.linspace(0, 2 * np.pi, 4000, endpoint=False)
    return Track(np.stack([radius * np.cos(a), radius * np.sin(a)], 1), 0.6, "circle", step_m=0.002)


# -- plant --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["oval", "wavy"])
def test_lateral_error_is_the_signed_offset_from_the_centre_line(name):
    track = Track.named(name)
    for s in (0.3, 4.1, 9.7):
        for d in (0.0, 0.1, -0.22):
            x, y, _ = track.pose_at(s, d)
            _, s_found, error = track.project(np.array([x, y]), 0, window=track.points.shape[0])
            assert error == pytest.approx(d, abs=1e-4)  # the centre line is a 1 cm polyline
            assert s_found == pytest.approx(s, abs=0.02)
    # driving clockwise, "left of the driving direction" is the other side
    rev = Track.named(name, reverse=True)
    x, y, _ = track.pose_at(2.0, 0.15)
    assert rev.project(np.array([x, y]), 0, window=rev.points.shape[0])[2] == pytest.approx(-0.15, abs=1e-3)


def test_kinematics_drive_a_circle_and_count_laps():
    """Wheel speeds for a circle of the track's radius keep the robot on the centre line;
    laps count the arc length driven."""
    radius, v = 2.0, 0.5
    plant = LanePlant(circle_track(radius), max_laps=3.0)
    plant.reset(np.pi * radius / 4000)  # mid-chord of circle_track, where its heading is the circle's
    w = v / radius
    v_l, v_r = v - w * plant.axle_m / 2, v + w * plant.axle_m / 2
    n = int(np.ceil(3 * 2 * np.pi * radius / v * 20))
    worst = 0.0
    for _ in range(n):
        obs = plant.step(v_l, v_r)
        worst = max(worst, abs(obs["error_m"]))
        if obs["done"]:
            break
    assert worst < 1e-4
    assert not obs["left_lane"] and obs["done"] and plant.laps == pytest.approx(3.0, abs=0.01)
    assert plant.steps == pytest.approx(n, abs=1)
    # straight ahead at 0.4 m/s for 10 steps of 50 ms: 0.2 m along the heading
    plant.reset(0.0)
    x0, y0, th = plant.pose
    for _ in range(10):
        plant.step(0.4, 0.4)
    assert np.hypot(plant.pose[0] - x0, plant.pose[1] - y0) == pytest.approx(0.2, abs=1e-9)
    assert plant.pose[2] == pytest.approx(th)


def test_leaving_the_lane_ends_the_episode():
    plant = LanePlant(Track.named("oval"))
    plant.reset(5.0, 0.0, heading_rad=0.5)  # on a straight, heading out of the lane
    for _ in range(200):
        obs = plant.step(0.5, 0.5)
        if obs["done"]:
            break
    assert obs["left_lane"] and abs(obs["error_m"]) > 0.3 and plant.laps < 0.1


def test_event_camera_sees_motion_and_not_a_still_scene():
    plant = LanePlant(Track.named("oval"))
    plant.reset(5.0)
    moving = [plant.step(0.5, 0.5)["events"] for _ in range(5)]
    still = [plant.step(0.0, 0.0)["events"] for _ in range(5)]
    assert min(len(e) for e in moving) > 50
    assert sum(len(e) for e in still) == 0
    ev = moving[-1]
    assert np.all(np.diff(ev["t"]) >= 0) and ev["x"].max() < 64 and ev["y"].max() < 32
    assert set(np.unique(ev["p"])) <= {0, 1}


def test_event_camera_matches_the_dvs_emulator_stage():
    """The per-frame fast path gives exactly the stage's events on the same frames."""
    from pipeline.chunks import FrameChunk, Geometry
    from sources.dvs_emulator import DVSEmulator

    plant = LanePlant(Track.named("oval"))
    plant.reset(3.0, 0.05, 0.1)
    frames, times = [plant.frame()], [0]
    for _ in range(6):
        plant.step(0.45, 0.55)
        frames.append(plant.frame())
        times.append(plant.t_us)
    frames_arr, times_arr = np.stack(frames), np.asarray(times, np.int64)
    params = dict(threshold_sigma=0.05, refractory_us=2000, shot_noise_rate_hz=20.0, seed=4)
    stage = DVSEmulator(**params)
    stage.reset()
    chunk = FrameChunk(t_start=0, t_end=int(times_arr[-1]) + 1, frames=frames_arr, times=times_arr,
                       geometry=Geometry(width=64, height=32, channels=1))
    expected = stage.process(chunk)[0].events
    cam = EventCamera(**params)
    cam.reset(frames[0], 0)
    got = np.concatenate([cam.events(f, t) for f, t in zip(frames[1:], times[1:])])
    assert len(got) > 100
    np.testing.assert_array_equal(got, expected)


# -- controller -------------------------------------------------------------------------------


def test_regions_count_events_like_bing_et_al():
    from pipeline.events import EVENT_DTYPE

    ctl = LaneController(learning=False)
    ev = np.zeros(5, EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = [0, 7, 8, 63, 63], [0, 7, 0, 31, 31], [1, 0, 1, 1, 0]
    counts = ctl.region_counts(ev).reshape(4, 8)
    assert counts[0, 0] == 2 and counts[0, 1] == 1 and counts[3, 7] == 2 and counts.sum() == 5
    steps, neurons = ctl.input_spikes(np.where(np.arange(32) == 3, 1000.0, 0.0))
    assert set(neurons.tolist()) == {3} and np.all(np.diff(steps) >= 0)
    assert 5 <= steps.size <= 27  # 300 Hz for 50 ms: 15 spikes expected


def test_error_is_only_a_reward():
    """With learning off the lateral error never reaches the network: same events, any error,
    same commands."""
    plant = LanePlant(Track.named("oval"))
    obs = plant.reset(5.0)
    events = [plant.step(0.5, 0.5)["events"] for _ in range(6)]
    out = []
    for errors in (np.zeros(6), np.linspace(-0.3, 0.3, 6)):
        ctl = LaneController(seed=3, learning=False)
        out.append([ctl.step(e, float(r)) for e, r in zip(events, errors)])
    assert out[0] == out[1]
    assert obs["error_m"] == pytest.approx(0.0, abs=1e-9)


def test_learning_beats_the_untrained_controller(trained):
    untrained = run_episodes(LaneController(seed=0, learning=False), 4, track="oval", seed=50)
    ctl = LaneController.load(trained["path"])
    learned = run_episodes(ctl, 4, track="oval", seed=50)
    before = np.mean([r["progress_m"] for r in untrained["per_episode"]])
    after = np.mean([r["progress_m"] for r in learned["per_episode"]])
    assert all(r["left_lane"] for r in untrained["per_episode"])  # it drives straight off at a corner
    assert after > before + 8.0, (before, after)
    assert sum(not r["left_lane"] for r in learned["per_episode"]) >= 3


def test_save_load_reproduces_the_trajectory(trained):
    doc = json.loads(trained["path"].read_text())
    assert doc["kind"] == "lane_rstdp" and doc["episodes"] == TRAIN_EPISODES
    a, b = LaneController.load(trained["path"]), LaneController.load(trained["path"])
    assert not a.learning
    np.testing.assert_array_equal(a.weights(), trained["controller"].weights())
    ra = evaluate(a, "ellipse", laps=0.5, seed=7)
    rb = evaluate(b, "ellipse", laps=0.5, seed=7)
    assert ra["steps"] > 100 and ra["trajectory"] == rb["trajectory"]
    np.testing.assert_array_equal(a.weights(), trained["controller"].weights())  # learning off: unchanged
    assert np.ptp(a.weights()) > 0.3  # and R-STDP did move them


def test_trained_controller_keeps_the_held_out_track_for_three_laps(trained):
    ctl = LaneController.load(trained["path"])
    res = evaluate(ctl, "wavy", laps=3.0, episodes=1, seed=1000)
    assert res["completed"] == 1 and res["left_lane"] == 0 and res["laps"][0] >= 3.0
    assert res["mean_abs_error_m"] < 0.05 and res["max_abs_error_m"] < 0.3


def test_configuration_errors(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"kind": "cartpole_rstdp"}')
    with pytest.raises(ConfigError, match="not a saved lane controller"):
        LaneController.load(p)
    with pytest.raises(ConfigError, match="regions"):
        LaneController(columns=100)
    with pytest.raises(ConfigError, match="control period"):
        run_episodes(LaneController(window_steps=20), 1)
    with pytest.raises(ConfigError, match="unknown"):
        Track.named("moebius")


def test_cli_trains_saves_and_tests_a_loaded_controller(tmp_path, capsys):
    import argparse

    from apps.robot import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    path = tmp_path / "lane.json"
    args = parser.parse_args(["lane", "--learn", "--episodes", "2", "--laps", "0.3", "--save", str(path),
                              "--plot", str(tmp_path / "lane.png"), "--json"])
    assert cli.run(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["train"]["episodes"] == 2 and first["test"]["track"] == "wavy"
    assert (tmp_path / "lane.png").stat().st_size > 10_000
    assert cli.run(parser.parse_args(["lane", "--load", str(path), "--laps", "0.3", "--json"])) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["learning"] is False and second["test"] == {**first["test"], "wall_s": second["test"]["wall_s"]}
    assert cli.run(parser.parse_args(["lane", "--track", "nowhere"])) == 2


def test_trained_controller_drives_the_plant_process_over_zeromq(trained):
    """The same controller against the robot in its own process at its 20 Hz control rate:
    it keeps the lane on the held-out track, and the loop reports its timing."""
    from apps.robot.loop import run_loop

    ctl = LaneController.load(trained["path"])
    rate = int(1e6 / (ctl.params["window_steps"] * ctl.params["dt_us"]))
    stats = run_loop(ctl, n_steps=120, rate_hz=rate, seed=1000, plant="lane",
                     plant_args={"track": "wavy", "laps": 3.0, "control_hz": rate})
    assert stats["steps"] == 120 and stats["stamps_in_order"] and rate == 20
    (episode,) = stats["episodes"]  # 6 s of driving: still the first episode
    assert not episode["left_lane"] and episode["laps"] > 0.1 and episode["mean_abs_error_m"] < 0.05
    assert 0 < stats["latency_us"]["p50"] < 50_000 and stats["missed_deadlines"] <= 12
