"""Fault handling of the distributed runner: a 3-stage replay whose middle stage is killed
with SIGKILL twice at random points restarts it from its checkpoint, and the output equals
an undisturbed run's event for event; a hung stage is named within the heartbeat timeout."""

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from pipeline.graph import load_graph
from pipeline.runner import run_inprocess
from sources.wav import write_wav

ROOT = Path(__file__).resolve().parents[2]


def _pipeline(tmp_path, seconds=12, speed=3):
    wav = tmp_path / "noise.wav"
    rng = np.random.default_rng(4)
    write_wav(wav, 0.5 * rng.standard_normal(16_000 * seconds).astype(np.float32), 16_000)
    toml = tmp_path / "replay.toml"
    toml.write_text(f"""
[pipeline]
name = "replay"

[stages.audio]
type = "wav_source"
path = "{wav}"
chunk_us = 10000
speed = {speed}

[stages.spikes]
type = "rate_encoder"
input = "audio"
mode = "deterministic"
max_rate_hz = 3000
restart = true
checkpoint_s = 0.2

[stages.rec]
type = "npz_writer"
input = "spikes"
path = "{tmp_path}/distributed.npz"
""")
    return toml


def _lines(stream, out):
    for line in stream:
        out.put((time.monotonic(), line))


def _wait_for(lines, log, pattern, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            t, line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        log.append(line)
        if pattern in line:
            return t, line
    raise AssertionError(f"no {pattern!r} within {timeout_s} s; stderr so far:\n{''.join(log)}")


def test_middle_stage_killed_twice_restarts_from_checkpoint_losslessly(tmp_path):
    toml = _pipeline(tmp_path)
    run_inprocess(load_graph(toml, {"rec": {"path": str(tmp_path / "reference.npz")}}))
    reference = np.load(tmp_path / "reference.npz")["events"]
    assert reference.size > 5_000
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--distributed", str(toml), "--json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    lines: queue.Queue = queue.Queue()
    log: list[str] = []
    reader = threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True)
    reader.start()
    try:
        _, line = _wait_for(lines, log, "started stage spikes", 60)
        pid = int(line.split("pid ")[1].rstrip(")\n"))
        _wait_for(lines, log, "started stage audio", 60)
        noticed = []
        for delay in (rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.2)):
            time.sleep(delay)
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            t, _ = _wait_for(lines, log, "stage 'spikes' died: killed by signal SIGKILL; restarting it", 10)
            noticed.append(t - killed)
            _, line = _wait_for(lines, log, "started stage spikes", 10)
            pid = int(line.split("pid ")[1].rstrip(")\n"))
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    reader.join(timeout=5)
    while not lines.empty():
        log.append(lines.get()[1])
    err = "".join(log)
    assert proc.returncode == 0, f"seed {seed}\n{err}"
    result = json.loads(out)
    assert result["metrics"]["spikes"]["restarts"] == 2
    assert max(noticed) < 2.0, noticed
    events = np.load(tmp_path / "distributed.npz")["events"]
    assert events.shape == reference.shape, f"seed {seed}"
    assert events.tobytes() == reference.tobytes(), f"seed {seed}"
