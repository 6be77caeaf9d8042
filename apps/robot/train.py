"""Episodes of CartPole-v1 against a controller, in this process (no pacing): the learning
curve. The ZeroMQ plant process (apps/robot/loop.py) runs the same controller in real time."""

from __future__ import annotations

from typing import Any

import numpy as np


def run_episodes(controller: Any, episodes: int, seed: int = 0, progress: bool = False,
                 stop_at: float = 0.0) -> dict[str, Any]:
    """Run `episodes` episodes (env seeds seed, seed + 1, ...); returns lengths, the
    100-episode moving average, the first episode where it reached 195 (the v0 'solved'
    threshold) and 475 (v1's), and a trajectory of the last episode. stop_at > 0: stop once
    the 100-episode average reaches it."""
    import gymnasium as gym
    from tqdm import tqdm

    env = gym.make("CartPole-v1")
    lengths: list[int] = []
    trajectory: list[list[float]] = []
    bar = tqdm(total=episodes, disable=not progress, unit="ep")
    for ep in range(int(episodes)):
        state, _ = env.reset(seed=seed + ep)
        reward, n, traj = 0.0, 0, []
        while True:
            action = controller.step(state, reward)
            traj.append([*map(float, state), float(action)])
            state, _, terminated, truncated, _ = env.step(action)
            n += 1
            reward = -1.0 if terminated else 0.0
            if terminated or truncated:
                controller.end_episode(reward, terminated, state)
                break
        lengths.append(n)
        trajectory = traj
        bar.update(1)
        bar.set_postfix(avg100=f"{np.mean(lengths[-100:]):.1f}")
        if stop_at > 0 and len(lengths) >= 100 and np.mean(lengths[-100:]) >= stop_at:
            break
    bar.close()
    env.close()
    lens = np.asarray(lengths, np.float64)
    avg = [float(lens[max(0, i - 99):i + 1].mean()) for i in range(lens.shape[0])]
    full = [a for i, a in enumerate(avg) if i >= 99]

    def first(level: float) -> int | None:
        return next((i + 1 for i, a in enumerate(avg) if i >= 99 and a >= level), None)

    return {"episodes": len(lengths), "lengths": lengths, "avg100": [round(a, 2) for a in avg],
            "best_avg100": round(max(full), 2) if full else None, "episodes_to_195": first(195),
            "episodes_to_475": first(475),
            "mean_length": round(float(lens.mean()), 2), "trajectory": trajectory}


def plot(report: dict[str, Any], path: str) -> None:
    """Reward (= length) per episode with its 100-episode average, and the last trajectory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(report["lengths"], lw=0.6, label="episode length (reward)")
    a.plot(report["avg100"], lw=1.5, label="100-episode average")
    a.axhline(195, ls="--", c="g", lw=0.8)
    a.axhline(475, ls=":", c="r", lw=0.8)
    a.set_xlabel("episode")
    a.legend()
    traj = np.asarray(report["trajectory"]) if report["trajectory"] else np.zeros((0, 5))
    if traj.shape[0]:
        b.plot(traj[:, 0], label="x (m)")
        b.plot(traj[:, 2] * 10, label="theta x10 (rad)")
        b.step(range(traj.shape[0]), traj[:, 4] * 0.5 - 1.5, label="action", lw=0.6)
    b.set_xlabel("step of the last episode")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
