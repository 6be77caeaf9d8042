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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from pipeline.checkpoint import load_checkpoint, save_checkpoint, supports_checkpoints
from pipeline.chunks import EndOfStream
from pipeline.driver import SourceDriver, StageDriver
from pipeline.errors import ChunkError, ConfigError, StageFailed, WireError
from pipeline.graph import Graph
from pipeline.runner import RunResult
from pipeline.security import ZapHandler, check_link, curve_client, curve_server, load_public_key
from pipeline.stage import Sink
from pipeline.wire import WireLimits, decode, encode

log = logging.getLogger("spikestream.distributed")

DEFAULT_HWM = 16
HEARTBEAT_S = 0.25          # a stage reports at least this often while it is well
HEARTBEAT_TIMEOUT_S = 2.0   # silence after which the supervisor calls a stage hung
STARTUP_GRACE_S = 60.0      # building a stage and its first chunk (kernel compiles) may take longer
ACK_S = 0.1                 # how often a consumer acknowledges what it has taken
DEFAULT_MAX_RESTARTS = 5


@dataclass
class StagePlan:
    """Where one stage process finds its sockets."""

    name: str
    addresses: dict[str, str]          # stage -> input address, for this stage and its consumers
    control: str | None = None         # supervisor's control address, if supervised
    acks: dict[str, str] | None = None  # stage -> acknowledgement address (supervised, lossless links)
    checkpoints: str | None = None     # directory for checkpoints of restartable stages
    insecure: bool = False             # allow plain-text links off loopback


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
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGTERM, signal.SIGINT)}
    ctx = zmq.Context()
    host: _StageHost | None = None
    try:
        host = _StageHost(graph, plan, ctx)
        return host.run()
    except _Interrupted:
        return 130
    except Exception as exc:  # report any stage failure to the supervisor, then exit non-zero
        log.exception("stage %s failed", plan.name)
        if host is not None:
            host.control.send({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
        elif plan.control:
            with ctx.socket(zmq.PUSH) as sock:
                sock.setsockopt(zmq.LINGER, 2000)
                sock.connect(plan.control)
                _Control(sock, plan.name).send({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    finally:
        if host is not None:
            host.close()
        ctx.term()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _send_control(control: zmq.Socket | None, message: dict) -> None:
    if control is not None:
        control.send(json.dumps(message).encode())


class _Control:
    """The stage's end of the supervisor's control link; every message names the stage."""

    def __init__(self, socket: zmq.Socket | None, stage: str) -> None:
        self.socket, self.stage = socket, stage

    def send(self, message: dict) -> None:
        _send_control(self.socket, {"stage": self.stage, **message})


@dataclass
class _Link:
    """One producer -> consumer link, as the producer sees it."""

    consumer: str
    push: zmq.Socket
    lossy: bool = False
    retain: bool = False        # keep sent chunks until the consumer's checkpoint covers them
    queue: deque = field(default_factory=deque)    # frames waiting for the socket
    kept: deque = field(default_factory=deque)     # (seq, frames) the consumer may ask for again
    received: int = -1          # highest seq the consumer has taken (acknowledged)
    committed: int = -1         # highest seq covered by the consumer's checkpoint
    done: bool = False          # the consumer has finished
    dropped: int = 0            # chunks dropped on a full lossy link


class _StageHost:
    """A stage process: its sockets, the reliable-link protocol, heartbeats and checkpoints.

    Lossless links: every chunk carries its producer's sequence number. The consumer takes
    only the next expected seq (discarding duplicates and anything past a gap) and
    acknowledges on the ack link: what it has taken, and what its last checkpoint covers.
    A producer keeps what a restartable consumer has not checkpointed; a restarted consumer
    asks each producer to resend from the seq its checkpoint ends at (0 without one), and
    its outputs resume at its checkpoint's output seq, so its consumers drop the repeats.
    A checkpoint is committed only once every consumer has acknowledged every output made
    before it, so nothing a restart does not regenerate can have been lost in flight.
    """

    def __init__(self, graph: Graph, plan: StagePlan, ctx: zmq.Context) -> None:
        self.sockets: list[zmq.Socket] = []
        self.zap: ZapHandler | None = None
        self.clean = False
        self.links: list[_Link] = []
        self.control: _Control | None = None
        try:
            self._setup(graph, plan, ctx)
        except BaseException:
            self.close()  # else the sockets made so far keep ctx.term() waiting forever
            raise

    def _setup(self, graph: Graph, plan: StagePlan, ctx: zmq.Context) -> None:
        self.graph, self.plan, self.ctx = graph, plan, ctx
        self.name = plan.name
        self.node = node = graph.nodes[plan.name]
        control = self._socket(zmq.PUSH, linger=2000)
        if plan.control:
            control.connect(plan.control)
        self.control = _Control(control if plan.control else None, self.name)
        self.reliable = plan.acks is not None
        self.limits = WireLimits.from_options(node.options)
        self.heartbeat_s = min(HEARTBEAT_S, float(node.options.get("heartbeat_timeout", HEARTBEAT_TIMEOUT_S)) / 4)
        self.last_beat = 0.0
        self.last_ack = 0.0
        self.duplicates = 0
        self.discarded = 0
        self.expected: dict[str, int] = {}
        self.stage: Any = None
        self.driver: Any = None
        curve = "curve_secret_key" in node.options
        # input
        self.pull = None
        if node.inputs:
            address = plan.addresses[self.name]
            check_link(self.name, address, curve, plan.insecure, "bind")
            self.pull = self._socket(zmq.PULL, linger=0)
            self.pull.setsockopt(zmq.RCVHWM, int(node.options.get("hwm", DEFAULT_HWM)))
            self.pull.setsockopt(zmq.MAXMSGSIZE, self.limits.max_frame_bytes)
            if curve:
                allowed = set()
                for producer in node.inputs:
                    key = graph.nodes[producer].options.get("curve_public_key")
                    if key is None:
                        raise ConfigError(f"stage {self.name!r} uses CURVE but its input {producer!r} has no "
                                          f"curve_public_key")
                    allowed.add(load_public_key(key))
                curve_server(self.pull, node.options["curve_secret_key"])
                self.zap = ZapHandler(ctx, allowed, self.name, watch=[self.pull])
            self.pull.bind(address)
        # outputs
        for consumer in graph.consumers(self.name):
            cnode = graph.nodes[consumer]
            push = self._socket(zmq.PUSH, linger=-1)  # lossless: deliver everything before exiting
            push.setsockopt(zmq.SNDHWM, int(cnode.options.get("hwm", DEFAULT_HWM)))
            address = plan.addresses[consumer]
            server_key = cnode.options.get("curve_public_key")
            check_link(self.name, address, server_key is not None, plan.insecure, "connect to")
            if server_key is not None:
                if "curve_secret_key" not in node.options:
                    raise ConfigError(f"stage {self.name!r} feeds {consumer!r}, which uses CURVE, but has no "
                                      f"curve_secret_key of its own")
                curve_client(push, node.options["curve_secret_key"], server_key)
            push.connect(address)
            self.links.append(_Link(consumer, push, lossy=bool(cnode.options.get("lossy")),
                                    retain=self.reliable and bool(cnode.options.get("restart"))))
        self.tap = None
        if node.options.get("tap"):
            check_link(self.name, node.options["tap"], False, plan.insecure, "bind")
            self.tap = self._socket(zmq.PUB, linger=0)
            self.tap.setsockopt(zmq.SNDHWM, 64)
            self.tap.bind(node.options["tap"])
        # acknowledgements: ours come in on our ack address, we send ours to our producers
        self.ack_in = None
        self.ack_out: dict[str, zmq.Socket] = {}
        if self.reliable:
            if self.links:
                self.ack_in = self._socket(zmq.PULL, linger=0)
                self.ack_in.bind(plan.acks[self.name])
            for producer in node.inputs:
                sock = self._socket(zmq.PUSH, linger=1000)
                sock.connect(plan.acks[producer])
                self.ack_out[producer] = sock
        self.checkpoint_dir = (Path(plan.checkpoints) / self.name
                               if plan.checkpoints and node.options.get("restart") else None)
        self.checkpoint_s = float(node.options.get("checkpoint_s", 1.0))
        self.pending: tuple[int, dict, dict] | None = None  # (outputs before it, state, runner state)
        self.last_checkpoint = time.monotonic()
        self.generation = 0
        self.committed_in: dict[str, int] = {p: -1 for p in node.inputs}

    def _socket(self, kind: int, linger: int) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, linger)
        self.sockets.append(sock)
        return sock

    # ---------------------------------------------------------------- main

    def run(self) -> int:
        self.control.send({"type": "ready", "pid": os.getpid()})
        self.stage = self.node.build()
        if not self.node.inputs:
            self.driver = SourceDriver(self.name, self.stage, float(self.node.options.get("speed", 0.0)))
            self._beat(grace_s=STARTUP_GRACE_S)
            for chunk in self.driver.chunks():
                self._send(chunk)
                self._service()
        else:
            self.driver = StageDriver(self.name, self.stage, self.node.inputs)
            self._restore()
            self._pump()
        self._linger()
        if isinstance(self.stage, Sink):
            self._beat(grace_s=STARTUP_GRACE_S)  # closing may write a large file in one go
            self.stage.close()
        summary = {"type": "done", "metrics": self._metrics(), "result": self.stage.result()}
        if self.plan.control is None:  # started by hand: the summary goes to stdout
            print(json.dumps({"stage": self.name, **summary}), flush=True)
        self.control.send(summary)
        self.clean = True
        return 0

    def _metrics(self) -> dict:
        out = self.driver.metrics.to_dict() if self.driver is not None else {}
        if self.duplicates or self.discarded:
            out.update(duplicates=self.duplicates, discarded_awaiting_replay=self.discarded)
        dropped = sum(link.dropped for link in self.links)
        if dropped:
            out["dropped_out"] = dropped
        if self.zap is not None:
            out.update(self.zap.to_dict())
        return out

    def _restore(self) -> None:
        expected = {p: 0 for p in self.node.inputs}
        if self.checkpoint_dir is not None and supports_checkpoints(self.stage):
            loaded = load_checkpoint(self.checkpoint_dir)
            if loaded is not None:
                state, runner = loaded
                self.stage.load_state_dict(state)
                self.driver.restore(runner)
                self.generation = int(runner.get("generation", 0))
                expected.update(self.driver.next_in)
                self.committed_in = {p: n - 1 for p, n in expected.items()}
                log.warning("stage %s: restored checkpoint %d (outputs from seq %d, inputs from %s)",
                            self.name, self.generation, runner["seq"], expected)
        self.expected = expected
        for producer, sock in self.ack_out.items():
            self._ack_send(sock, {"resume": expected[producer]})

    def _pump(self) -> None:
        poller = zmq.Poller()
        poller.register(self.pull, zmq.POLLIN)
        warm = False
        while not self.driver.done:
            self._service()
            if not poller.poll(int(self.heartbeat_s * 1000)):
                continue
            frames = self.pull.recv_multipart(copy=False)
            if not warm:
                # before decoding: the first message loads (or compiles) the wire kernels and
                # the stage's own, which can take longer than the heartbeat timeout
                self._beat(grace_s=STARTUP_GRACE_S)
            metrics = self.driver.metrics
            try:
                chunk, sent_ns = decode(frames, self.limits)
                if chunk.stream not in self.driver.merger.inputs:
                    raise WireError(f"message from stream {chunk.stream!r}, not an input of {self.name!r}")
            except WireError as exc:
                metrics.malformed += 1
                log.warning("stage %s: dropped malformed message (%d so far): %s", self.name, metrics.malformed, exc)
                continue
            want = self.expected.get(chunk.stream, 0)
            if chunk.seq < want:
                self.duplicates += 1  # a resend after a restart: already taken
                continue
            if chunk.seq > want:
                if self.reliable and not self.graph.nodes[self.name].options.get("lossy"):
                    self.discarded += 1  # past a gap: the restarted producer resends from `want`
                    continue
                metrics.drops += chunk.seq - want
            metrics.add_latency((time.time_ns() - sent_ns) / 1e6)
            self.expected[chunk.stream] = chunk.seq + 1
            try:
                outputs = self.driver.feed(chunk.stream, chunk)
            except ChunkError as exc:
                metrics.malformed += 1
                log.warning("stage %s: rejected chunk from %s: %s", self.name, chunk.stream, exc)
                continue
            if not warm:
                warm = True
                self._beat()
            for out in outputs:
                self._send(out)
            self._maybe_checkpoint()
        self._acknowledge(final=True)

    def _linger(self) -> None:
        """Stay to resend for restartable consumers until each of them has finished."""
        while any(link.retain and not link.done for link in self.links):
            self._service()
            self._flush(wait=True, timeout_s=self.heartbeat_s)

    # ---------------------------------------------------------------- sending

    def _send(self, chunk: Any) -> None:
        frames = encode(chunk)
        for link in self.links:
            if link.retain:
                link.kept.append((chunk.seq, frames))
            if link.lossy and not isinstance(chunk, EndOfStream):  # the end marker is never dropped
                try:
                    link.push.send_multipart(frames, copy=False, flags=zmq.NOBLOCK)
                except zmq.Again:
                    link.dropped += 1
            else:
                link.queue.append(frames)
        if self.tap is not None:
            try:
                self.tap.send_multipart(frames, copy=False, flags=zmq.NOBLOCK)
            except zmq.Again:
                pass
        self._flush(wait=True)

    def _flush(self, wait: bool, timeout_s: float | None = None) -> None:
        """Hand queued frames to the sockets; with `wait`, until every queue is empty."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            for link in self.links:
                while link.queue:
                    try:
                        link.push.send_multipart(link.queue[0], copy=False, flags=zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    link.queue.popleft()
            blocked = [link for link in self.links if link.queue]
            if not blocked or not wait or (deadline is not None and time.monotonic() > deadline):
                return
            self._service()
            poller = zmq.Poller()
            for link in blocked:
                poller.register(link.push, zmq.POLLOUT)
            if self.ack_in is not None:
                poller.register(self.ack_in, zmq.POLLIN)
            poller.poll(int(self.heartbeat_s * 1000))

    # ---------------------------------------------------------------- housekeeping

    def _beat(self, grace_s: float | None = None) -> None:
        message: dict[str, Any] = {"type": "heartbeat", "rss_bytes": _rss_bytes()}
        if self.driver is not None:
            message["metrics"] = self._metrics()
        if grace_s is not None:
            message["grace_s"] = grace_s
        self.control.send(message)
        self.last_beat = time.monotonic()

    def _service(self) -> None:
        now = time.monotonic()
        if now - self.last_beat > self.heartbeat_s:
            self._beat()
        if self.ack_in is not None:
            while True:
                try:
                    message = json.loads(self.ack_in.recv(zmq.NOBLOCK))
                except zmq.Again:
                    break
                except ValueError:
                    continue
                self._on_ack(message)
        if self.ack_out and now - self.last_ack > ACK_S:
            self._acknowledge()
        self._commit()

    def _on_ack(self, message: dict) -> None:
        link = next((link for link in self.links if link.consumer == message.get("consumer")), None)
        if link is None:
            return
        if "resume" in message:  # a restarted consumer: resend what it has not checkpointed
            if not link.retain:
                # Nothing is kept for a consumer that cannot restart, and this hello can arrive
                # after sending began (a consumer slow to build): clearing the queue here
                # would silently lose the chunks waiting in it.
                return
            start = int(message["resume"])
            link.queue.clear()
            link.queue.extend(frames for seq, frames in link.kept if seq >= start)
            restarted = link.received >= 0 or start > 0  # not the consumer's first hello
            link.received = start - 1
            if restarted:
                log.warning("stage %s: %s restarted, resending from seq %d (%d chunks)", self.name,
                            link.consumer, start, len(link.queue))
            return
        link.received = max(link.received, int(message.get("received", -1)))
        link.committed = max(link.committed, int(message.get("committed", -1)))
        link.done = link.done or bool(message.get("done"))
        while link.kept and link.kept[0][0] <= link.committed:
            link.kept.popleft()

    def _ack_send(self, sock: zmq.Socket, body: dict) -> None:
        try:
            sock.send(json.dumps({"consumer": self.name, **body}).encode(), zmq.NOBLOCK)
        except zmq.Again:
            pass

    def _acknowledge(self, final: bool = False) -> None:
        self.last_ack = time.monotonic()
        for producer, sock in self.ack_out.items():
            received = self.expected.get(producer, 0) - 1
            body = {"received": received, "committed": received if final else self.committed_in[producer]}
            if final:
                body["done"] = True
            self._ack_send(sock, body)

    def _maybe_checkpoint(self) -> None:
        if (self.checkpoint_dir is None or self.pending is not None or self.driver.done
                or time.monotonic() - self.last_checkpoint < self.checkpoint_s
                or not supports_checkpoints(self.stage)):
            return
        self.generation += 1
        runner = {**self.driver.runner_state(), "generation": self.generation}
        state = self.stage.state_dict()
        state = {k: v.copy() if isinstance(v, np.ndarray) else json.loads(json.dumps(v)) for k, v in state.items()}
        self.pending = (runner["seq"], state, runner)
        self.last_checkpoint = time.monotonic()

    def _commit(self) -> None:
        if self.pending is None:
            return
        outputs_before, state, runner = self.pending
        if any(link.received < outputs_before - 1 for link in self.links):
            return  # an output made before the snapshot may still be in flight
        save_checkpoint(self.checkpoint_dir, state, runner)
        self.pending = None
        self.committed_in = {p: n - 1 for p, n in runner["next_in"].items()}

    def close(self) -> None:
        if self.zap is not None:
            self.zap.close()
        for sock in self.sockets:
            # only a clean finish waits to deliver what is queued (lossless links linger)
            keep = self.clean or (self.control is not None and sock is self.control.socket)
            sock.close(linger=None if keep else 0)


def _rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def run_distributed(graph: Graph, graph_path: str | Path, *, poll_s: float = 0.1,
                    echo: bool = True, insecure: bool = False,
                    on_heartbeat: Callable[[str, dict], None] | None = None) -> RunResult:
    """Start one process per stage, supervise them, and return the collected results.

    A stage that dies, or sends no heartbeat for its `heartbeat_timeout` (2 s by default),
    is restarted if its node says `restart = true` (resuming from its last checkpoint where
    the stage supports one); otherwise the run stops and StageFailed names the stage and
    why. Ctrl-C stops all stages and re-raises KeyboardInterrupt. `on_heartbeat(stage, message)`
    sees every heartbeat (metrics, rss_bytes), e.g. for a soak run's figures.
    """
    t_begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spikestream-") as tmp:
        run_dir = Path(tmp)
        addresses = default_addresses(graph)
        acks = {name: f"tcp://127.0.0.1:{_free_port()}" for name in graph.nodes if graph.consumers(name)}
        control_address = f"ipc://{run_dir}/control.sock"
        plan_path = run_dir / "plan.json"
        plan_path.write_text(json.dumps({"addresses": addresses, "control": control_address, "acks": acks,
                                         "checkpoints": str(run_dir / "checkpoints"), "insecure": insecure}))
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
            spawn = lambda name: _spawn(name, graph_path, plan_path, echo)  # noqa: E731
            return _Supervisor(graph, procs, control, spawn, echo, on_heartbeat).run(poll_s, t_begin)
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


class _Supervisor:
    """Watches the stage processes: results, heartbeats, deaths, hangs and restarts."""

    def __init__(self, graph: Graph, procs: dict, control: zmq.Socket, spawn: Any, echo: bool,
                 on_heartbeat: Callable[[str, dict], None] | None = None) -> None:
        self.graph, self.procs, self.control, self.spawn, self.echo = graph, procs, control, spawn, echo
        self.on_heartbeat = on_heartbeat
        self.result = RunResult(pipeline=graph.name, mode="distributed", wall_s=0.0)
        self.done: set[str] = set()
        self.errors: dict[str, str] = {}
        self.restarts: dict[str, int] = {}
        now = time.monotonic()
        self.deadline = {name: now + STARTUP_GRACE_S for name in procs}

    def run(self, poll_s: float, t_begin: float) -> RunResult:
        poller = zmq.Poller()
        poller.register(self.control, zmq.POLLIN)
        while len(self.done) < len(self.graph.nodes):
            poller.poll(int(poll_s * 1000))
            self._drain()
            for name, proc in list(self.procs.items()):
                if name in self.done:
                    continue
                code = proc.poll()
                if code is not None:
                    self._drain()  # a clean exit may have just sent "done"
                    if name in self.done and code == 0:
                        continue
                    why = self.errors.pop(name, None) or (
                        f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}")
                    self._failed(name, f"died: {why}")
                elif time.monotonic() > self.deadline[name]:
                    limit = float(self.graph.nodes[name].options.get("heartbeat_timeout", HEARTBEAT_TIMEOUT_S))
                    proc.kill()
                    proc.wait()
                    self._failed(name, f"hung: no heartbeat for {limit:g} s (killed it)")
        for proc in self.procs.values():
            proc.wait(timeout=30)
        result = self.result
        for name, count in self.restarts.items():
            result.metrics.setdefault(name, {})["restarts"] = count
        result.wall_s = time.perf_counter() - t_begin
        result.metrics = {name: result.metrics[name] for name in self.graph.order if name in result.metrics}
        result.results = {name: result.results[name] for name in self.graph.order if name in result.results}
        return result

    def _failed(self, name: str, why: str) -> None:
        options = self.graph.nodes[name].options
        limit = int(options.get("max_restarts", DEFAULT_MAX_RESTARTS))
        if not options.get("restart") or self.restarts.get(name, 0) >= limit:
            extra = f" (after {self.restarts[name]} restarts)" if name in self.restarts else ""
            raise StageFailed(f"stage {name!r} {why}{extra}")
        self.restarts[name] = self.restarts.get(name, 0) + 1
        message = f"stage {name!r} {why}; restarting it ({self.restarts[name]} of at most {limit})"
        log.warning(message)
        if self.echo:
            print(message, file=sys.stderr, flush=True)
        self.procs[name] = self.spawn(name)
        self.deadline[name] = time.monotonic() + STARTUP_GRACE_S

    def _drain(self) -> None:
        while True:
            try:
                message = json.loads(self.control.recv(zmq.NOBLOCK))
            except zmq.Again:
                return
            name, kind = message.get("stage"), message.get("type")
            if name not in self.graph.nodes:
                continue
            limit = float(self.graph.nodes[name].options.get("heartbeat_timeout", HEARTBEAT_TIMEOUT_S))
            self.deadline[name] = time.monotonic() + max(limit, float(message.get("grace_s", 0.0)))
            if kind == "heartbeat" and self.on_heartbeat is not None:
                self.on_heartbeat(name, message)
            if kind == "ready":
                self.deadline[name] = time.monotonic() + STARTUP_GRACE_S  # building the stage
            elif kind == "done":
                self.done.add(name)
                self.result.metrics[name] = message.get("metrics", {})
                if message.get("result"):
                    self.result.results[name] = message["result"]
            elif kind == "error":
                self.errors[name] = message.get("message", "error")


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
