"""The closed loop over ZeroMQ: the plant in its own process, the controller in this one.

The plant (CartPole-v1 from gymnasium, spawned with multiprocessing "spawn") ticks at a
fixed rate on the monotonic clock. At tick k it stamps the state (sensed_ns) and sends it
as a ValueChunk [x, x_dot, theta, theta_dot, reward, terminated, truncated] spanning
[k * period, (k + 1) * period) µs of the loop's timeline over a REQ socket (wire format
of pipeline/wire.py); the controller answers with a ValueChunk ["action"] stamped at the
same time, carrying its compute time in meta. The plant applies the command (the moment
it passes the action to env.step is "applied"), logs sensor stamp -> applied latency,
tick start jitter and missed deadlines (command applied after the next tick is due), and
writes its log to an .npz the parent reads back.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.chunks import Geometry, ValueChunk
from pipeline.errors import WireError

SENSOR_NAMES = ("x", "x_dot", "theta", "theta_dot", "reward", "terminated", "truncated")


def _wait_until(t_ns: int) -> None:
    """Sleep most of the way, then spin: tick starts within a few µs when the CPU is free."""
    while True:
        left = t_ns - time.monotonic_ns()
        if left <= 0:
            return
        if left > 300_000:
            time.sleep((left - 250_000) / 1e9)


def plant_main(endpoint: str, n_steps: int, rate_hz: int, seed: int, log_path: str) -> None:
    """The plant process: CartPole-v1 ticking at rate_hz for n_steps control steps."""
    import gymnasium as gym
    import zmq

    from pipeline import wire

    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    env = gym.make("CartPole-v1")
    state, _ = env.reset(seed=seed)
    period_ns = 1_000_000_000 // rate_hz
    period_us = 1_000_000 // rate_hz
    geometry = Geometry(channels=len(SENSOR_NAMES), sample_rate_hz=rate_hz)
    sensed = np.zeros(n_steps, np.int64)
    scheduled = np.zeros(n_steps, np.int64)
    applied = np.zeros(n_steps, np.int64)
    compute = np.zeros(n_steps, np.int64)
    actions = np.zeros(n_steps, np.int8)
    episode_of = np.zeros(n_steps, np.int32)
    seq_back = np.zeros(n_steps, np.int64)
    lengths: list[int] = []
    reward, terminated, truncated, episode, length = 0.0, False, False, 0, 0
    # handshake: the controller is up before the clock starts
    sock.send(b"hello")
    sock.recv()
    tick = time.monotonic_ns() + 2 * period_ns
    for k in range(n_steps):
        now = time.monotonic_ns()
        if now > tick + period_ns:  # overran by more than a period: re-anchor, no catch-up burst
            tick += -(-(now - tick) // period_ns) * period_ns
        scheduled[k] = tick
        tick += period_ns
        _wait_until(int(scheduled[k]))
        sensed[k] = time.monotonic_ns()
        row = np.array([[*state, reward, terminated, truncated]], np.float32)
        chunk = ValueChunk(t_start=k * period_us, t_end=(k + 1) * period_us, values=row,
                           times=np.array([k * period_us], np.int64), names=SENSOR_NAMES, geometry=geometry,
                           stream="plant", seq=k, meta={"sensed_ns": int(sensed[k]), "episode": episode})
        sock.send_multipart(wire.encode(chunk), copy=False)
        command, _ = wire.decode(sock.recv_multipart(copy=False))
        if not isinstance(command, ValueChunk) or command.names != ("action",) or command.times[0] != k * period_us:
            raise WireError(f"plant: step {k}: unexpected reply {command.kind} {command.names} at {command.t_start}")
        action = int(command.values[0, 0])
        applied[k] = time.monotonic_ns()
        compute[k] = int(command.meta.get("compute_ns", -1))
        seq_back[k] = command.t_start
        actions[k] = action
        episode_of[k] = episode
        if terminated or truncated:  # the controller saw the end; start the next episode
            lengths.append(length)
            episode += 1
            length = 0
            state, _ = env.reset(seed=seed + episode)
            reward, terminated, truncated = 0.0, False, False
            continue
        state, r, terminated, truncated, _ = env.step(action)
        reward = -1.0 if terminated else 0.0
        length += 1
    sock.send(b"bye")
    sock.recv()
    np.savez(log_path, sensed=sensed, scheduled=scheduled, applied=applied, compute=compute, actions=actions,
             episode=episode_of, stamps=seq_back, lengths=np.asarray(lengths, np.int64), period_ns=period_ns)
    sock.close()
    ctx.term()


def run_loop(controller: Any, n_steps: int = 10_000, rate_hz: int = 1000, seed: int = 0,
             endpoint: str = "tcp://127.0.0.1:*") -> dict[str, Any]:
    """Run the plant process against `controller` (a CartPoleController) for n_steps ticks;
    returns timing statistics and the episodes' lengths."""
    import zmq

    from pipeline import wire

    controller.warm_up()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    address = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = str(Path(tmp) / "plant.npz")
        proc = multiprocessing.get_context("spawn").Process(target=plant_main,
                                                             args=(address, n_steps, rate_hz, seed, log_path))
        proc.start()
        try:
            if not sock.poll(60_000):
                raise WireError("robot loop: the plant process did not connect within 60 s")
            sock.recv()
            sock.send(b"ok")
            names = ("action",)
            last_t = -1
            in_order = True
            while True:
                if not sock.poll(30_000):
                    raise WireError("robot loop: no message from the plant for 30 s")
                frames = sock.recv_multipart(copy=False)
                if len(frames) == 1 and frames[0].bytes == b"bye":
                    sock.send(b"bye")
                    break
                chunk, _ = wire.decode(frames)
                in_order &= chunk.t_start > last_t
                last_t = chunk.t_start
                t0 = time.perf_counter_ns()
                row = chunk.values[0]
                if row[5] or row[6]:
                    controller.end_episode(float(row[4]), bool(row[5]))
                    action = 0
                else:
                    action = controller.step(row[:4], float(row[4]))
                compute_ns = time.perf_counter_ns() - t0
                reply = ValueChunk(t_start=chunk.t_start, t_end=chunk.t_end, values=np.array([[action]], np.float32),
                                   times=chunk.times.copy(), names=names, geometry=Geometry(channels=1),
                                   stream="controller", seq=chunk.seq, meta={"compute_ns": int(compute_ns)})
                sock.send_multipart(wire.encode(reply), copy=False)
            proc.join(60)
            log = dict(np.load(log_path))
        finally:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
            sock.close()
            ctx.term()
    stats = timing_stats(log)
    stats["stamps_in_order"] = bool(in_order and np.all(np.diff(log["stamps"]) > 0))
    return stats


def timing_stats(log: dict[str, np.ndarray]) -> dict[str, Any]:
    """Latency (sensor stamp -> command applied), tick jitter, deadline misses, compute."""
    period = int(log["period_ns"])
    latency = (log["applied"] - log["sensed"]) / 1000.0
    jitter = (log["sensed"] - log["scheduled"]) / 1000.0
    compute = log["compute"][log["compute"] >= 0] / 1000.0
    # a deadline is missed when the command lands after the next tick was due
    missed = int(np.sum(log["applied"] > log["scheduled"] + period))

    def pct(a: np.ndarray) -> dict[str, float]:
        return {"mean": round(float(a.mean()), 2), "p50": round(float(np.percentile(a, 50)), 2),
                "p99": round(float(np.percentile(a, 99)), 2), "max": round(float(a.max()), 2)}

    import os

    return {"steps": int(latency.shape[0]), "rate_hz": 1e9 / period, "latency_us": pct(latency),
            "jitter_us": pct(jitter), "compute_us": pct(compute), "missed_deadlines": missed,
            "episodes": [int(x) for x in log["lengths"]], "load_average": [round(x, 2) for x in os.getloadavg()]}
