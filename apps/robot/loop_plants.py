"""The two plants of the ZeroMQ control loop, each as two halves: the simulator side that
runs in the plant process (`CartPoleSide`, `LaneSide`: a sensor chunk out per tick, a
command chunk in) and the controller side that answers a sensor chunk with a command
(`cartpole_command`, `lane_command`).

    cartpole  sensors: ValueChunk [x, x_dot, theta, theta_dot, reward, terminated, truncated]
              command: ValueChunk ["action"] (0 = push left, 1 = push right)
    lane      sensors: EventChunk of the camera's events over the tick, meta error_m (lateral
              error, m), done, left_lane
              command: ValueChunk ["v_left", "v_right"] (wheel speeds, m/s)

An episode's end travels with the sensors (terminated/truncated, or done): the controller
learns from it and answers with a command the plant ignores, and the plant starts the
next episode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.chunks import EventChunk, Geometry, ValueChunk

CARTPOLE_SENSORS = ("x", "x_dot", "theta", "theta_dot", "reward", "terminated", "truncated")
COMMAND_NAMES = {"cartpole": ("action",), "lane": ("v_left", "v_right")}


class CartPoleSide:
    """CartPole-v1 (gymnasium) in the plant process; episode k starts from seed + k."""

    def __init__(self, seed: int = 0) -> None:
        import gymnasium as gym

        self.env = gym.make("CartPole-v1")
        self.seed = int(seed)
        self.state, _ = self.env.reset(seed=self.seed)
        self.reward, self.terminated, self.truncated = 0.0, False, False
        self.episode, self.length = 0, 0
        self.lengths: list[int] = []

    def observe(self, t_start: int, t_end: int, seq: int, meta: dict[str, Any]) -> ValueChunk:
        row = np.array([[*self.state, self.reward, self.terminated, self.truncated]], np.float32)
        return ValueChunk(t_start=t_start, t_end=t_end, values=row, times=np.array([t_start], np.int64),
                          names=CARTPOLE_SENSORS, geometry=Geometry(channels=len(CARTPOLE_SENSORS)),
                          stream="plant", seq=seq, meta=meta)

    def apply(self, command: ValueChunk) -> None:
        if self.terminated or self.truncated:  # the controller saw the end: next episode
            self.lengths.append(self.length)
            self.episode += 1
            self.length = 0
            self.state, _ = self.env.reset(seed=self.seed + self.episode)
            self.reward, self.terminated, self.truncated = 0.0, False, False
            return
        self.state, _, self.terminated, self.truncated, _ = self.env.step(int(command.values[0, 0]))
        self.reward = -1.0 if self.terminated else 0.0
        self.length += 1

    def summary(self) -> dict[str, Any]:
        return {"episodes": self.lengths}


class LaneSide:
    """The lane-keeping robot (apps.robot.lane.LanePlant) in the plant process: episodes of
    up to `laps` laps on `track`, each from a seeded start on the centre line."""

    def __init__(self, seed: int = 0, track: str = "wavy", laps: float = 3.0, control_hz: float = 20.0) -> None:
        from apps.robot.lane import LanePlant, Track

        self.plant = LanePlant(Track.named(track), control_hz=control_hz, max_laps=laps)
        self.seed = int(seed)
        self.episode = 0
        self.rows: list[dict[str, Any]] = []
        self._start()

    def _start(self) -> None:
        rng = np.random.default_rng([self.seed, self.episode])
        self.obs = self.plant.reset(rng.uniform(0.0, self.plant.track.length_m))
        self.errors: list[float] = []

    def observe(self, t_start: int, t_end: int, seq: int, meta: dict[str, Any]) -> EventChunk:
        w, h = self.plant.camera_px
        return EventChunk(t_start=t_start, t_end=t_end, events=self._on_timeline(self.obs["events"], t_start, t_end),
                          geometry=Geometry(width=w, height=h), stream="plant", seq=seq,
                          meta={**meta, "error_m": float(self.obs["error_m"]), "done": bool(self.obs["done"]),
                                "left_lane": bool(self.obs["left_lane"])})

    def _on_timeline(self, events: np.ndarray, t_start: int, t_end: int) -> np.ndarray:
        # the camera's own clock runs per episode; the loop's timeline is the tick's span
        out = events.copy()
        if out.size:
            period = self.plant.dt_us
            out["t"] = t_start + (out["t"] - (self.plant.t_us - period)) * (t_end - t_start) // period
            np.clip(out["t"], t_start, t_end - 1, out=out["t"])
        return out

    def _episode_row(self) -> dict[str, Any]:
        return {"laps": round(self.plant.laps, 3), "left_lane": bool(self.obs["left_lane"]),
                "mean_abs_error_m": round(float(np.mean(np.abs(self.errors))) if self.errors else 0.0, 4),
                "steps": self.plant.steps}

    def apply(self, command: ValueChunk) -> None:
        if self.obs["done"]:
            self.rows.append(self._episode_row())
            self.episode += 1
            self._start()
            return
        v_left, v_right = (float(v) for v in command.values[0])
        self.obs = self.plant.step(v_left, v_right)
        self.errors.append(self.obs["error_m"])

    def summary(self) -> dict[str, Any]:
        return {"episodes": [*self.rows, {**self._episode_row(), "unfinished": True}]}


PLANT_SIDES = {"cartpole": CartPoleSide, "lane": LaneSide}


def cartpole_command(controller: Any, sensors: ValueChunk) -> list[float]:
    """A CartPoleController's answer to one sensor chunk."""
    row = sensors.values[0]
    if row[5] or row[6]:
        controller.end_episode(float(row[4]), bool(row[5]))
        return [0.0]
    return [float(controller.step(row[:4], float(row[4])))]


def lane_command(controller: Any, sensors: EventChunk) -> list[float]:
    """A LaneController's answer to one sensor chunk."""
    if sensors.meta.get("done"):
        controller.end_episode()
        return [0.0, 0.0]
    return list(controller.step(sensors.events, float(sensors.meta.get("error_m", 0.0))))


CONTROLLER_SIDES = {"cartpole": cartpole_command, "lane": lane_command}
