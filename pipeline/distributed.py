"""The distributed runner: every stage in its own OS process, linked by ZeroMQ.

Each consumer binds one PULL socket (its input address); each producer connects one PUSH
socket per consumer, so fan-out copies and fan-in merges (in time order, see
driver.InputMerger). PUSH/PULL with small high-water marks makes a slow stage slow its
producers instead of dropping. A stage may also publish its output on a PUB socket (a
lossy monitor tap). The supervisor starts the stage processes, collects their heartbeats,
metrics and results on a control socket, and stops everything if one of them dies.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from pipeline.driver import SourceDriver, StageDriver
from pipeline.errors import ChunkError, StageFailed, WireError
from pipeline.graph import Graph
from pipeline.runner import RunResult
from pipeline.stage import Sink
from pipeline.wire import DEFAULT_LIMITS, decode, encode

log = logging.getLogger("spikestream.distributed")

DEFAULT_HWM = 16
HEARTBEAT_S = 0.5


@dataclass
class StagePlan:
    """Where one stage process finds its sockets."""

    name: str
    addresses: dict[str, str]          # stage -> input address, for this stage and its consumers
    control: str | None = None         # supervisor's control address, if supervised


def default_addresses(graph: Graph) -> dict[str, str]:
    """Input addresses: the TOML's `address` where given, else a free loopback TCP port.

    Not ipc://: libzmq drops the tail of an ipc stream when its sender exits, even with
    infinite linger, while TCP delivers everything the sender's kernel buffer holds.
    """
    return {name: str(node.options.get("address") or f"tcp://127.0.0.1:{_free_port()}")
            for name, node in graph.nodes.items() if node.inputs}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Interrupted(Exception):
    pass


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise _Interrupted(signal.Signals(signum).name)


def run_stage_process(graph: Graph, plan: StagePlan) -> int:
    """Host one stage until its input ends (or it is interrupted). Returns an exit code."""
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGINT, _raise_interrupted)
    node = graph.nodes[plan.name]
    consumers = graph.consumers(plan.name)
    hwm = int(node.options.get("hwm", DEFAULT_HWM))
    ctx = zmq.Context()
    control = ctx.socket(zmq.PUSH) if plan.control else None
    pull = ctx.socket(zmq.PULL) if node.inputs else None
    pushes = {c: ctx.socket(zmq.PUSH) for c in consumers}
    tap = ctx.socket(zmq.PUB) if node.options.get("tap") else None
    clean = False
    try:
        if control is not None:
            control.setsockopt(zmq.LINGER, 2000)
            control.connect(plan.control)
        if pull is not None:
            pull.setsockopt(zmq.RCVHWM, hwm)
            pull.setsockopt(zmq.MAXMSGSIZE, DEFAULT_LIMITS.max_array_bytes)
            pull.setsockopt(zmq.LINGER, 0)
            pull.bind(plan.addresses[plan.name])
        for consumer, push in pushes.items():
            push.setsockopt(zmq.SNDHWM, int(graph.nodes[consumer].options.get("hwm", DEFAULT_HWM)))
            push.setsockopt(zmq.LINGER, -1)  # lossless: deliver everything before exiting
            push.connect(plan.addresses[consumer])
        if tap is not None:
            tap.setsockopt(zmq.SNDHWM, 64)
            tap.setsockopt(zmq.LINGER, 0)
            tap.bind(node.options["tap"])
        report = _Control(control, plan.name)
        report.send({"type": "ready", "pid": os.getpid()})
        stage = node.build()
        if not node.inputs:
            driver: Any = SourceDriver(plan.name, stage, float(node.options.get("speed", 0.0)))
            _pump_source(driver, pushes, tap, report)
        else:
            driver = StageDriver(plan.name, stage, node.inputs)
            _pump_stage(driver, pull, pushes, tap, report)
        if isinstance(stage, Sink):
            stage.close()
        summary = {"type": "done", "metrics": driver.metrics.to_dict(), "result": stage.result()}
        if control is None:  # started by hand: the summary goes to stdout
            print(json.dumps({"stage": plan.name, **summary}), flush=True)
        report.send(summary)
        clean = True
        return 0
    except _Interrupted:
        return 130
    except Exception as exc:  # report any stage failure to the supervisor, then exit non-zero
        log.exception("stage %s failed", plan.name)
        _Control(control, plan.name).send({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    finally:
        for push in pushes.values():
            if not clean:
                push.setsockopt(zmq.LINGER, 0)
            push.close()
        for sock in (pull, tap, control):
            if sock is not None:
                sock.close()
        ctx.term()


def _send_control(control: zmq.Socket | None, message: dict) -> None:
    if control is not None:
        control.send(json.dumps(message).encode())


class _Control:
    """The stage's end of the supervisor's control link; every message names the stage."""

    def __init__(self, socket: zmq.Socket | None, stage: str) -> None:
        self.socket, self.stage = socket, stage

    def send(self, message: dict) -> None:
        _send_control(self.socket, {"stage": self.stage, **message})


def _send(chunk: Any, pushes: dict[str, zmq.Socket], tap: zmq.Socket | None) -> None:
    frames = encode(chunk)
    for push in pushes.values():
        push.send_multipart(frames, copy=False)
    if tap is not None:
        try:
            tap.send_multipart(frames, copy=False, flags=zmq.NOBLOCK)
        except zmq.Again:
            pass


def _pump_source(driver: SourceDriver, pushes: dict, tap: Any, control: Any) -> None:
    last_beat = time.monotonic()
    for chunk in driver.chunks():
        _send(chunk, pushes, tap)
        if time.monotonic() - last_beat > HEARTBEAT_S:
            control.send({"type": "heartbeat", "metrics": driver.metrics.to_dict()})
            last_beat = time.monotonic()


def _pump_stage(driver: StageDriver, pull: zmq.Socket, pushes: dict, tap: Any, control: Any) -> None:
    expected_seq: dict[str, int] = {}
    poller = zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    last_beat = time.monotonic()
    while not driver.done:
        if time.monotonic() - last_beat > HEARTBEAT_S:
            control.send({"type": "heartbeat", "metrics": driver.metrics.to_dict()})
            last_beat = time.monotonic()
        if not poller.poll(int(HEARTBEAT_S * 1000)):
            continue
        frames = pull.recv_multipart(copy=False)
        try:
            chunk, sent_ns = decode(frames)
            if chunk.stream not in driver.merger.inputs:
                raise WireError(f"message from stream {chunk.stream!r}, not an input of {driver.name!r}")
        except WireError as exc:
            driver.metrics.malformed += 1
            log.warning("stage %s: dropped malformed message (%d so far): %s", driver.name,
                        driver.metrics.malformed, exc)
            continue
        driver.metrics.add_latency((time.time_ns() - sent_ns) / 1e6)
        gap = chunk.seq - expected_seq.get(chunk.stream, 0)
        if gap < 0:
            driver.metrics.malformed += 1
            log.warning("stage %s: dropped out-of-order chunk seq %d from %s", driver.name, chunk.seq, chunk.stream)
            continue
        driver.metrics.drops += gap
        expected_seq[chunk.stream] = chunk.seq + 1
        try:
            outputs = driver.feed(chunk.stream, chunk)
        except ChunkError as exc:
            driver.metrics.malformed += 1
            log.warning("stage %s: rejected chunk from %s: %s", driver.name, chunk.stream, exc)
            continue
        for out in outputs:
            _send(out, pushes, tap)


def run_distributed(graph: Graph, graph_path: str | Path, *, poll_s: float = 0.1,
                    echo: bool = True) -> RunResult:
    """Start one process per stage, supervise them, and return the collected results.

    Raises StageFailed naming the stage if one dies or reports an error; Ctrl-C stops all
    stages and re-raises KeyboardInterrupt.
    """
    t_begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spikestream-") as tmp:
        run_dir = Path(tmp)
        addresses = default_addresses(graph)
        control_address = f"ipc://{run_dir}/control.sock"
        plan_path = run_dir / "plan.json"
        plan_path.write_text(json.dumps({"addresses": addresses, "control": control_address}))
        ctx = zmq.Context()
        control = ctx.socket(zmq.PULL)
        control.setsockopt(zmq.LINGER, 0)
        control.bind(control_address)
        procs: dict[str, subprocess.Popen] = {}
        try:
            # Consumers first, and sources only once every consumer has bound its input, so
            # no producer ever sends into an endpoint that does not exist yet.
            consumers = [n for n in graph.order if graph.nodes[n].inputs]
            for name in consumers:
                procs[name] = _spawn(name, graph_path, plan_path, echo)
            _await_ready(control, procs, consumers)
            for name in graph.sources:
                procs[name] = _spawn(name, graph_path, plan_path, echo)
            return _supervise(graph, procs, control, poll_s, t_begin)
        finally:
            _stop_all(procs)
            control.close()
            ctx.term()


def _spawn(name: str, graph_path: str | Path, plan_path: Path, echo: bool) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.commands.stage", name, str(graph_path), "--plan", str(plan_path)],
        stdin=subprocess.DEVNULL)
    if echo:
        print(f"started stage {name} (pid {proc.pid})", file=sys.stderr, flush=True)
    return proc


def _await_ready(control: zmq.Socket, procs: dict[str, subprocess.Popen], names: list[str],
                 timeout_s: float = 120.0) -> None:
    waiting = set(names)
    deadline = time.monotonic() + timeout_s
    while waiting:
        if control.poll(100):
            message = json.loads(control.recv())
            if message.get("type") == "ready":
                waiting.discard(message.get("stage"))
            elif message.get("type") == "error":
                raise StageFailed(f"stage {message.get('stage')!r} failed to start: {message.get('message')}")
        for name in list(waiting):
            code = procs[name].poll()
            if code is not None:
                raise StageFailed(f"stage {name!r} died while starting (exit code {code})")
        if time.monotonic() > deadline:
            raise StageFailed(f"stage(s) {sorted(waiting)} did not start within {timeout_s:.0f} s")


def _supervise(graph: Graph, procs: dict, control: zmq.Socket, poll_s: float, t_begin: float) -> RunResult:
    result = RunResult(pipeline=graph.name, mode="distributed", wall_s=0.0)
    done: set[str] = set()
    errors: dict[str, str] = {}
    poller = zmq.Poller()
    poller.register(control, zmq.POLLIN)
    while len(done) < len(procs):
        poller.poll(int(poll_s * 1000))
        _drain(control, done, errors, result)
        for name, proc in procs.items():
            code = proc.poll()
            if code is None or name in done:
                continue
            _drain(control, done, errors, result)  # a clean exit may have just sent "done"
            if name in done and code == 0:
                continue
            why = errors.get(name) or (f"killed by signal {signal.Signals(-code).name}" if code < 0
                                       else f"exited with code {code}")
            raise StageFailed(f"stage {name!r} died: {why}")
    for proc in procs.values():
        proc.wait(timeout=30)
    result.wall_s = time.perf_counter() - t_begin
    result.metrics = {name: result.metrics[name] for name in graph.order if name in result.metrics}
    result.results = {name: result.results[name] for name in graph.order if name in result.results}
    return result


def _drain(control: zmq.Socket, done: set, errors: dict, result: RunResult) -> None:
    while True:
        try:
            message = json.loads(control.recv(zmq.NOBLOCK))
        except zmq.Again:
            return
        name, kind = message.get("stage"), message.get("type")
        if kind == "done":
            done.add(name)
            result.metrics[name] = message.get("metrics", {})
            if message.get("result"):
                result.results[name] = message["result"]
        elif kind == "error":
            errors[name] = message.get("message", "error")


def _stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 3
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
