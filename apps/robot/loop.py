"""The closed loop over ZeroMQ: the plant in its own process, the controller in this one.

The plant process (spawned with multiprocessing "spawn"; its simulator side from
apps.robot.loop_plants: CartPole-v1 or the lane-keeping robot) ticks at a fixed rate on the
monotonic clock. At tick k it stamps its sensors (sensed_ns) and sends them as one chunk
spanning [k * period, (k + 1) * period) µs of the loop's timeline over a REQ socket (wire
format of pipeline/wire.py); the controller answers with a ValueChunk of motor commands
stamped at the same time, carrying its compute time in meta. The plant applies the
command (that moment is "applied"), logs sensor stamp -> applied latency, tick start
jitter and missed deadlines (command applied after the next tick is due), and writes its
log to an .npz the parent reads back.

Both processes wait by spinning on non-blocking receives with sched_yield between polls
(SCHED_FIFO was tried too: on the 2-vCPU microVM this was written on it did not help).
Why: a blocked process costs a wake-up per hop, and a REQ/REP round trip has
six of them (each side's thread and ZeroMQ I/O thread); on a virtual machine whose idle
vCPUs halt, that alone was 70-280 µs p50 and over 1 ms p99. A spinning process that sees
its own clock jump by more than STALL_NS was not running although it wanted to: the
machine took the CPU away (hypervisor, interrupts). Such stalls are counted per step, so
a missed deadline can be told apart from a slow controller. Messages are copied, not sent
zero-copy: for a few hundred bytes pyzmq's zero-copy path costs more than the copy.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.chunks import Geometry, ValueChunk
from pipeline.errors import WireError

STALL_NS = 200_000  # a spinning process whose clock jumps this far was not running
SPIN_AHEAD_NS = 500_000  # waits sleep until this long before a tick, then spin


def _wait_until(t_ns: int) -> int:
    """Sleep most of the way, then spin: the tick starts within a few µs when the CPU is
    free. Returns the longest stall seen while spinning (ns)."""
    stall = 0
    last = time.monotonic_ns()
    while True:
        now = time.monotonic_ns()
        left = t_ns - now
        if left <= 0:
            return max(stall, now - last)
        if left > SPIN_AHEAD_NS:
            time.sleep((left - SPIN_AHEAD_NS + 50_000) / 1e9)
            now = time.monotonic_ns()
        else:
            stall = max(stall, now - last)
            os.sched_yield()  # lets ZeroMQ's I/O thread run if it shares this CPU
        last = now


def recv_spinning(sock: Any, timeout_ns: int) -> tuple[list[Any], int]:
    """A multipart message from sock, polling without blocking (sched_yield between polls);
    returns it with the longest stall seen while waiting (ns)."""
    import zmq

    start = last = time.monotonic_ns()
    stall = 0
    while True:
        try:
            return sock.recv_multipart(zmq.NOBLOCK), stall
        except zmq.Again:
            pass
        now = time.monotonic_ns()
        stall = max(stall, now - last)
        last = now
        if now - start > timeout_ns:
            raise WireError(f"robot loop: no message for {timeout_ns / 1e9:.0f} s")
        os.sched_yield()


def plant_main(endpoint: str, plant: str, plant_args: dict[str, Any], n_steps: int, rate_hz: int,
               log_path: str) -> None:
    """The plant process: `plant` (a PLANT_SIDES name) ticking at rate_hz for n_steps steps."""
    import zmq

    from apps.robot.loop_plants import COMMAND_NAMES, PLANT_SIDES
    from pipeline import wire

    side = PLANT_SIDES[plant](**plant_args)
    names = COMMAND_NAMES[plant]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    period_ns = 1_000_000_000 // rate_hz
    period_us = 1_000_000 // rate_hz
    sensed = np.zeros(n_steps, np.int64)
    scheduled = np.zeros(n_steps, np.int64)
    applied = np.zeros(n_steps, np.int64)
    compute = np.zeros(n_steps, np.int64)
    seq_back = np.zeros(n_steps, np.int64)
    stalls = np.zeros(n_steps, np.int64)  # longest stall of either process in the step
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
        stall = _wait_until(int(scheduled[k]))
        sensed[k] = time.monotonic_ns()
        chunk = side.observe(k * period_us, (k + 1) * period_us, k, {"sensed_ns": int(sensed[k])})
        sock.send_multipart(wire.encode(chunk))
        frames, recv_stall = recv_spinning(sock, 30_000_000_000)
        command, _ = wire.decode(frames)
        if not isinstance(command, ValueChunk) or command.names != names or command.t_start != k * period_us:
            raise WireError(f"plant: step {k}: unexpected reply {command.kind} {getattr(command, 'names', '')} "
                            f"at {command.t_start} (expected values {names} at {k * period_us})")
        applied[k] = time.monotonic_ns()
        compute[k] = int(command.meta.get("compute_ns", -1))
        stalls[k] = max(stall, recv_stall, int(command.meta.get("stall_ns", 0)))
        seq_back[k] = command.t_start
        side.apply(command)
    sock.send(b"bye")
    sock.recv()
    np.savez(log_path, sensed=sensed, scheduled=scheduled, applied=applied, compute=compute, stamps=seq_back,
             period_ns=period_ns, stalls=stalls, summary=json.dumps(side.summary()))
    sock.close()
    ctx.term()


def run_loop(controller: Any, n_steps: int = 10_000, rate_hz: int = 1000, seed: int = 0,
             endpoint: str = "tcp://127.0.0.1:*", plant: str = "cartpole",
             plant_args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the plant process (`plant`: "cartpole" or "lane", with plant_args for its side in
    apps.robot.loop_plants) against `controller` for n_steps ticks; returns timing
    statistics and the plant's episodes."""
    import zmq

    from apps.robot.loop_plants import COMMAND_NAMES, CONTROLLER_SIDES
    from pipeline import wire

    respond = CONTROLLER_SIDES[plant]
    names = COMMAND_NAMES[plant]

    controller.warm_up()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    address = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = str(Path(tmp) / "plant.npz")
        proc = multiprocessing.get_context("spawn").Process(target=plant_main,
                                                             args=(address, plant, {"seed": seed, **(plant_args or {})},
                                                                   n_steps, rate_hz, log_path))
        proc.start()
        try:
            if not sock.poll(60_000):
                raise WireError("robot loop: the plant process did not connect within 60 s")
            sock.recv()
            sock.send(b"ok")
            last_t = -1
            in_order = True
            period_ns = 1_000_000_000 // rate_hz
            arrived = 0
            while True:
                # block until shortly before the next tick's message is due, then spin; in a
                # poll, not a sleep: a message that comes early (the plant catching up after a
                # late step) must not wait, or every later step would start that late too
                left_ms = (arrived + period_ns - SPIN_AHEAD_NS - time.monotonic_ns()) // 1_000_000
                if arrived and left_ms > 0:
                    sock.poll(int(left_ms))
                frames, stall = recv_spinning(sock, 30_000_000_000)
                arrived = time.monotonic_ns()
                if len(frames) == 1 and frames[0] == b"bye":
                    sock.send(b"bye")
                    break
                chunk, _ = wire.decode(frames)
                in_order &= chunk.t_start > last_t
                last_t = chunk.t_start
                t0 = time.perf_counter_ns()
                command = respond(controller, chunk)
                compute_ns = time.perf_counter_ns() - t0
                reply = ValueChunk(t_start=chunk.t_start, t_end=chunk.t_end, values=np.array([command], np.float32),
                                   times=np.array([chunk.t_start], np.int64), names=names,
                                   geometry=Geometry(channels=len(names)),
                                   stream="controller", seq=chunk.seq,
                                   meta={"compute_ns": int(compute_ns), "stall_ns": int(stall)})
                sock.send_multipart(wire.encode(reply))
            proc.join(60)
            log = dict(np.load(log_path))
        finally:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
            sock.close()
            ctx.term()
    stats = timing_stats(log)
    stats.update(json.loads(str(log["summary"])))
    stats["stamps_in_order"] = bool(in_order and np.all(np.diff(log["stamps"]) > 0))
    return stats


def timing_stats(log: dict[str, np.ndarray]) -> dict[str, Any]:
    """Latency (sensor stamp -> command applied), tick jitter, deadline misses, compute."""
    period = int(log["period_ns"])
    latency = (log["applied"] - log["sensed"]) / 1000.0
    jitter = (log["sensed"] - log["scheduled"]) / 1000.0
    compute = log["compute"][log["compute"] >= 0] / 1000.0
    # a deadline is missed when the command lands after the next tick was due
    late = log["applied"] > log["scheduled"] + period
    missed = int(np.sum(late))
    stalled = log["stalls"] > STALL_NS

    def pct(a: np.ndarray) -> dict[str, float]:
        return {"mean": round(float(a.mean()), 2), "p50": round(float(np.percentile(a, 50)), 2),
                "p99": round(float(np.percentile(a, 99)), 2), "max": round(float(a.max()), 2)}

    return {"steps": int(latency.shape[0]), "rate_hz": 1e9 / period, "latency_us": pct(latency),
            "jitter_us": pct(jitter), "compute_us": pct(compute), "missed_deadlines": missed,
            # misses in steps where a waiting process saw the machine take its CPU away
            "missed_with_stall": int(np.sum(late & stalled)), "steps_with_stall": int(np.sum(stalled)),
            "load_average": [round(x, 2) for x in os.getloadavg()]}
