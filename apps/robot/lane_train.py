"""Episodes of lane keeping against a controller, in this process (no pacing): training on one
track, testing on another, and a PNG of the learning curve and a trajectory.

Each episode starts at a seeded random place on the track (arc length, a small lateral
offset and heading error) and ends when the robot leaves the lane (|error| > width / 2)
or has driven `max_laps` laps. While training, episodes alternate between the track's two
driving directions, so the controller sees left and right turns (Bing et al. 2018
alternated between the inner and outer lane of their track for the same reason).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from apps.robot.lane import TEST_TRACK, TRAIN_TRACK, LanePlant, Track
from pipeline.errors import ConfigError


def run_episodes(controller: Any, episodes: int, track: str = TRAIN_TRACK, seed: int = 0, max_laps: float = 1.0,
                 both_directions: bool = True, start_noise: bool = True, progress: bool = False,
                 plant_args: dict | None = None) -> dict[str, Any]:
    """Run `episodes` episodes on `track` (episode k seeded by (seed, k)); returns per episode
    the steps, progress along the lane (m; the episode's reward), laps, mean |error| (m)
    and whether it left the lane, plus the last episode's trajectory [x, y, error] (m)."""
    from tqdm import tqdm

    directions = (False, True) if both_directions else (False,)
    plants = [LanePlant(Track.named(track, reverse=r), max_laps=max_laps, **(plant_args or {})) for r in directions]
    window_us = controller.params["window_steps"] * controller.params["dt_us"]
    if window_us != plants[0].dt_us:
        raise ConfigError(f"lane episodes: the controller's window ({window_us} µs) must be the plant's control "
                          f"period ({plants[0].dt_us} µs)")
    rows: list[dict[str, Any]] = []
    trajectory: list[list[float]] = []
    bar = tqdm(total=int(episodes), disable=not progress, unit="ep")
    t0 = time.perf_counter()
    for ep in range(int(episodes)):
        plant = plants[ep % len(plants)]
        rng = np.random.default_rng([seed, ep])
        s0 = rng.uniform(0.0, plant.track.length_m)
        offset, heading = (rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1)) if start_noise else (0.0, 0.0)
        obs = plant.reset(s0, offset, heading)
        max_steps = int(4 * max_laps * plant.track.length_m / 0.1 * 1e6 / plant.dt_us)  # >= 0.1 m/s on average
        errors, traj = [], [[*plant.pose[:2], obs["error_m"]]]
        while True:
            v_left, v_right = controller.step(obs["events"], obs["error_m"])
            obs = plant.step(v_left, v_right)
            errors.append(obs["error_m"])
            traj.append([*plant.pose[:2], obs["error_m"]])
            if obs["done"] or plant.steps >= max_steps:
                break
        controller.end_episode()
        err = np.abs(np.asarray(errors))
        rows.append({"steps": plant.steps, "progress_m": round(plant.progress_m, 3), "laps": round(plant.laps, 3),
                     "mean_abs_error_m": round(float(err.mean()), 4), "max_abs_error_m": round(float(err.max()), 4),
                     "left_lane": bool(obs["left_lane"]), "track": plant.track.name})
        trajectory = traj
        bar.update(1)
        bar.set_postfix(progress=f"{plant.progress_m:.1f} m")
    bar.close()
    return {"track": track, "episodes": len(rows), "per_episode": rows,
            "steps": int(sum(r["steps"] for r in rows)), "wall_s": round(time.perf_counter() - t0, 2),
            "trajectory": trajectory}


def evaluate(controller: Any, track: str = TEST_TRACK, laps: float = 3.0, episodes: int = 1, seed: int = 1000,
             plant_args: dict | None = None) -> dict[str, Any]:
    """Drive `episodes` episodes of up to `laps` laps on `track` (one direction, started on the
    centre line with seeded noise) with the controller as it is; summary of the lane keeping."""
    rep = run_episodes(controller, episodes, track=track, seed=seed, max_laps=laps, both_directions=False,
                       plant_args=plant_args)
    rows = rep["per_episode"]
    steps = np.array([r["steps"] for r in rows], np.float64)
    mean_err = float(np.sum([r["mean_abs_error_m"] * r["steps"] for r in rows]) / max(steps.sum(), 1.0))
    return {"track": track, "episodes": len(rows), "laps": [r["laps"] for r in rows],
            "completed": int(sum(r["laps"] >= laps and not r["left_lane"] for r in rows)),
            "left_lane": int(sum(r["left_lane"] for r in rows)), "steps": int(steps.sum()),
            "mean_abs_error_m": round(mean_err, 4), "max_abs_error_m": max(r["max_abs_error_m"] for r in rows),
            "wall_s": rep["wall_s"], "trajectory": rep["trajectory"]}


def plot(train: dict[str, Any] | None, test: dict[str, Any] | None, path: str) -> None:
    """Progress (reward) per training episode, and the last trajectory over its track."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    if train is not None:
        prog = [r["progress_m"] for r in train["per_episode"]]
        a.plot(range(1, len(prog) + 1), prog, ".-", lw=0.8, label="progress along the lane (m)")
        left = [i + 1 for i, r in enumerate(train["per_episode"]) if r["left_lane"]]
        a.plot(left, [prog[i - 1] for i in left], "rx", ms=4, label="left the lane")
        a.set_xlabel(f"training episode ({train['track']})")
        a.set_ylabel("reward: progress (m)")
        a.legend()
    show = test if test is not None else train
    if show is not None and show["trajectory"]:
        track = Track.named(show["track"])
        traj = np.asarray(show["trajectory"])
        for side in (-1, 1):
            edge = track.points + side * track.normal * track.lane_width_m / 2
            b.plot(*np.vstack([edge, edge[:1]]).T, c="0.5", lw=0.8)
        b.plot(*np.vstack([track.points, track.points[:1]]).T, c="0.8", lw=0.6, ls="--")
        sc = b.scatter(traj[:, 0], traj[:, 1], c=np.abs(traj[:, 2]), s=2, cmap="viridis")
        fig.colorbar(sc, ax=b, label="|lateral error| (m)")
        b.set_aspect("equal")
        what = "test" if show is test else "last training episode"
        b.set_title(f"{what}: {show['track']}")
        b.set_xlabel("x (m)")
        b.set_ylabel("y (m)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
