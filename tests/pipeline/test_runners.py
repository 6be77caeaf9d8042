"""In-process and distributed runs of the same TOML give identical output; a dead stage is
reported; Ctrl-C stops every stage; a stage survives malformed messages."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from pipeline.chunks import EndOfStream, Geometry, SignalChunk
from pipeline.distributed import run_distributed
from pipeline.errors import ConfigError
from pipeline.graph import graph_from_dict, load_graph
from pipeline.runner import run_inprocess
from pipeline.wire import encode
from sources.wav import write_wav

ROOT = Path(__file__).resolve().parents[2]
SPIKESTREAM = [sys.executable, "-m", "pipeline.cli"]


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "noise.wav"
    rng = np.random.default_rng(1)
    write_wav(path, 0.3 * rng.standard_normal(16_000 * 2).astype(np.float32), 16_000)
    return path


def _toml(tmp_path, wav, speed=0, extra=""):
    text = f"""
[pipeline]
name = "copy"

[stages.audio]
type = "wav_source"
path = "{wav}"
chunk_us = 7000
speed = {speed}

[stages.left]
type = "npz_writer"
input = "audio"
path = "{tmp_path}/left.npz"

[stages.right]
type = "npz_writer"
input = "audio"
path = "{tmp_path}/right.npz"
{extra}
"""
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    return path


def test_inprocess_and_distributed_fan_out_identical(tmp_path, wav):
    toml = _toml(tmp_path, wav)
    graph = load_graph(toml)
    local = run_inprocess(graph)
    left = np.load(tmp_path / "left.npz")["samples"].copy()
    (tmp_path / "left.npz").unlink()
    remote = run_distributed(graph, toml, echo=False)
    assert np.load(tmp_path / "left.npz")["samples"].tobytes() == left.tobytes()
    assert np.load(tmp_path / "right.npz")["samples"].tobytes() == left.tobytes()
    assert left.shape == (32_000, 1)
    assert local.results["left"]["samples"] == remote.results["right"]["samples"] == 32_000
    assert remote.metrics["left"]["chunks_in"] == local.metrics["left"]["chunks_in"] > 200
    assert remote.metrics["left"]["drops"] == remote.metrics["left"]["malformed"] == 0


def test_graph_errors_name_the_key(tmp_path, wav):
    base = {"stages": {"a": {"type": "wav_source", "path": str(wav)}, "b": {"type": "npz_writer", "input": "a"}}}
    with pytest.raises(ConfigError, match="unknown stage 'zz'"):
        graph_from_dict({"stages": {**base["stages"], "c": {"type": "npz_writer", "input": "zz"}}})
    with pytest.raises(ConfigError, match="unknown parameter.*'nope'"):
        graph_from_dict({"stages": {**base["stages"], "b": {"type": "npz_writer", "input": "a", "nope": 1}}})
    with pytest.raises(ConfigError, match="unknown stage type 'magic'"):
        graph_from_dict({"stages": {"a": {"type": "magic"}}})
    with pytest.raises(ConfigError, match="needs an 'input'"):
        graph_from_dict({"stages": {"b": {"type": "npz_writer"}}})


def _start(toml, *extra):
    return subprocess.Popen([*SPIKESTREAM, "run", "--distributed", str(toml), *extra], cwd=ROOT,
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)


def _pids(proc, n):
    pids = {}
    while len(pids) < n:
        line = proc.stderr.readline()
        assert line, "supervisor ended before starting its stages"
        if line.startswith("started stage"):
            name, pid = line.split()[2], int(line.split("pid ")[1].rstrip(")\n"))
            pids[name] = pid
    return pids


def test_killed_stage_is_reported_quickly(tmp_path, wav):
    proc = _start(_toml(tmp_path, wav, speed=1))
    pids = _pids(proc, 3)
    time.sleep(1.0)
    os.kill(pids["right"], signal.SIGKILL)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=10)
    assert time.monotonic() - t0 < 5
    assert proc.returncode == 1
    assert "stage 'right' died: killed by signal SIGKILL" in err
    for pid in pids.values():
        assert not _alive(pid)


def test_ctrl_c_stops_all_stages(tmp_path, wav):
    proc = _start(_toml(tmp_path, wav, speed=1))
    pids = _pids(proc, 3)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    time.sleep(0.2)
    for pid in pids.values():
        assert not _alive(pid)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0); check its state
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_stage_survives_malformed_messages(tmp_path):
    port = _free_port()
    toml = tmp_path / "p.toml"
    toml.write_text(f"""
[stages.mic]
type = "wav_source"
path = "unused.wav"

[stages.rec]
type = "npz_writer"
input = "mic"
path = "{tmp_path}/rec.npz"
address = "tcp://127.0.0.1:{port}"
""")
    stage = subprocess.Popen([*SPIKESTREAM, "stage", "rec", str(toml)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    geometry = Geometry(channels=1, sample_rate_hz=1000)
    good = SignalChunk(t_start=0, t_end=3000, samples=np.ones((3, 1), np.float32), geometry=geometry,
                       stream="mic", seq=0)
    frames = [bytes(f) for f in encode(good)]
    header = json.loads(frames[0])
    bad_messages = [
        [b"\x80\x03random bytes"],
        [json.dumps({**header, "v": 9}).encode(), frames[1]],
        [json.dumps({**header, "arrays": [{"name": "samples", "dtype": "<f8", "shape": [3, 1]}]}).encode(), frames[1]],
        [frames[0], frames[1][:5]],
        [json.dumps({**header, "arrays": [{"name": "samples", "dtype": "<f4", "shape": [10**11, 1]}]}).encode(),
         frames[1]],
        [json.dumps({**header, "stream": "intruder"}).encode(), frames[1]],
    ]
    with zmq.Context() as ctx, ctx.socket(zmq.PUSH) as push:
        push.connect(f"tcp://127.0.0.1:{port}")
        for message in bad_messages:
            push.send_multipart(message)
        push.send_multipart(encode(good))
        push.send_multipart(encode(EndOfStream(t_start=3000, t_end=3000, stream="mic", seq=1)))
        out, err = stage.communicate(timeout=30)
    assert stage.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["metrics"]["malformed"] == len(bad_messages)
    assert summary["metrics"]["chunks_in"] == 1
    assert np.load(tmp_path / "rec.npz")["samples"].tolist() == [[1.0], [1.0], [1.0]]


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)  # the bug this guards against was a silent hang
def test_consumer_slow_to_build_loses_nothing(tmp_path, monkeypatch):
    """The source starts once its consumer has bound, but the consumer says hello on its ack
    link only after building its stage: chunks the source holds back meanwhile (more than
    the socket and kernel buffers take) must still arrive."""
    plugins = ROOT / "tests" / "pipeline" / "plugins"
    monkeypatch.setenv("PYTHONPATH", f"{plugins}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.syspath_prepend(str(plugins))
    wav = tmp_path / "long.wav"
    samples = 48_000 * 120  # 23 MB of float32 on the wire
    write_wav(wav, 0.3 * np.random.default_rng(2).standard_normal(samples).astype(np.float32), 48_000)
    toml = tmp_path / "slow.toml"
    toml.write_text(f"""
[pipeline]
name = "slow"
plugins = ["slow_start_stage"]

[stages.audio]
type = "wav_source"
path = "{wav}"
chunk_us = 20000

[stages.rec]
type = "slow_start_npz_writer"
input = "audio"
path = "{tmp_path}/rec.npz"
build_s = 3.0
""")
    result = run_distributed(load_graph(toml), toml, echo=False)
    assert result.results["rec"]["samples"] == samples
    assert result.metrics["rec"]["chunks_in"] == 6000
