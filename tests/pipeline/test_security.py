"""CURVE on stage links: a wrong key and no key are refused (ZAP, counted), the right key
runs and gives the plain loopback run's output; non-loopback plain binds are refused."""

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from pipeline.chunks import EndOfStream, Geometry, SignalChunk
from pipeline.distributed import StagePlan, run_distributed, run_stage_process
from pipeline.errors import ConfigError
from pipeline.graph import load_graph
from pipeline.security import generate_keys, is_loopback, load_public_key, load_secret_key
from pipeline.wire import encode
from sources.wav import write_wav

ROOT = Path(__file__).resolve().parents[2]
SPIKESTREAM = [sys.executable, "-m", "pipeline.cli"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    return {name: generate_keys(root / name, name) for name in ("mic", "rec", "intruder")}


def test_key_files(keys, tmp_path):
    public, secret = keys["mic"]
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert load_secret_key(secret)[0] == load_public_key(public)
    with pytest.raises(ConfigError, match="no secret-key"):
        load_secret_key(public)
    os.chmod(secret, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_secret_key(secret)
    os.chmod(secret, 0o600)
    with pytest.raises(ConfigError, match="already exist"):
        generate_keys(public.parent, "mic")
    out = subprocess.run([*SPIKESTREAM, "keys", "generate", str(tmp_path / "k"), "--name", "x", "--json"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    assert len(doc["public_key"]) == 40
    assert stat.S_IMODE(Path(doc["secret_key_file"]).stat().st_mode) == 0o600


def test_loopback_rule(tmp_path):
    assert is_loopback("tcp://127.0.0.1:5555") and is_loopback("tcp://[::1]:5") and is_loopback("ipc:///tmp/x")
    assert not is_loopback("tcp://0.0.0.0:5555") and not is_loopback("tcp://*:5") and not is_loopback("tcp://10.1.2.3:5")
    toml = tmp_path / "p.toml"
    toml.write_text(f"""
[stages.mic]
type = "wav_source"
path = "unused.wav"

[stages.rec]
type = "npz_writer"
input = "mic"
path = "{tmp_path}/rec.npz"
address = "tcp://0.0.0.0:{_free_port()}"
""")
    graph = load_graph(toml)
    plan = StagePlan("rec", {"rec": graph.nodes["rec"].options["address"]})
    assert run_stage_process(graph, plan) == 1  # refused, and it says why
    err = subprocess.run([*SPIKESTREAM, "stage", "rec", str(toml)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60).stderr
    assert "refusing to bind non-loopback address" in err and "--insecure" in err


def _curve_toml(tmp_path, keys, port, wav="unused.wav", out="rec.npz"):
    toml = tmp_path / "curve.toml"
    toml.write_text(f"""
[stages.mic]
type = "wav_source"
path = "{wav}"
chunk_us = 7000
curve_public_key = "{keys['mic'][0]}"
curve_secret_key = "{keys['mic'][1]}"

[stages.rec]
type = "npz_writer"
input = "mic"
path = "{tmp_path}/{out}"
address = "tcp://127.0.0.1:{port}"
curve_public_key = "{keys['rec'][0]}"
curve_secret_key = "{keys['rec'][1]}"
""")
    return toml


def _wait_for_bind(port: int, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"stage did not bind port {port} within {timeout_s:.0f} s")


def test_wrong_and_missing_keys_are_refused(tmp_path, keys):
    port = _free_port()
    toml = _curve_toml(tmp_path, keys, port)
    stage = subprocess.Popen([*SPIKESTREAM, "stage", "rec", str(toml)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    geometry = Geometry(channels=1, sample_rate_hz=1000)
    address = f"tcp://127.0.0.1:{port}"
    server_key = load_public_key(keys["rec"][0])
    bogus = SignalChunk(t_start=0, t_end=3000, samples=np.full((3, 1), 9, np.float32), geometry=geometry,
                        stream="mic", seq=0)
    good = SignalChunk(t_start=0, t_end=3000, samples=np.ones((3, 1), np.float32), geometry=geometry,
                       stream="mic", seq=0)
    with zmq.Context() as ctx:
        _wait_for_bind(port, stage)  # a cold start (imports, Numba cache) can take seconds
        wrong = ctx.socket(zmq.PUSH)
        wrong.curve_publickey, wrong.curve_secretkey = load_secret_key(keys["intruder"][1])
        wrong.curve_serverkey = server_key
        none = ctx.socket(zmq.PUSH)
        for sock in (wrong, none):
            sock.linger = 0
            sock.connect(address)
            sock.send_multipart(encode(bogus))
        time.sleep(1.0)
        right = ctx.socket(zmq.PUSH)
        right.linger = 5000
        right.curve_publickey, right.curve_secretkey = load_secret_key(keys["mic"][1])
        right.curve_serverkey = server_key
        right.connect(address)
        right.send_multipart(encode(good))
        right.send_multipart(encode(EndOfStream(t_start=3000, t_end=3000, stream="mic", seq=1)))
        out, err = stage.communicate(timeout=30)
        for sock in (wrong, none, right):
            sock.close()
    assert stage.returncode == 0, err
    metrics = json.loads(out.strip().splitlines()[-1])["metrics"]
    assert metrics["chunks_in"] == 1 and metrics["malformed"] == 0
    assert metrics["auth_accepted"] == 1
    assert metrics["auth_rejected"] >= 2
    assert "key " + load_public_key(keys["intruder"][0]).decode() + " is not authorised" in err
    assert "handshake failed" in err
    assert np.load(tmp_path / "rec.npz")["samples"].tolist() == [[1.0]] * 3


def test_curve_run_equals_plain_loopback_run(tmp_path, keys):
    wav = tmp_path / "noise.wav"
    write_wav(wav, 0.3 * np.random.default_rng(2).standard_normal(16_000).astype(np.float32), 16_000)
    plain = tmp_path / "plain.toml"
    plain.write_text(f"""
[stages.mic]
type = "wav_source"
path = "{wav}"
chunk_us = 7000

[stages.rec]
type = "npz_writer"
input = "mic"
path = "{tmp_path}/plain.npz"
""")
    run_distributed(load_graph(plain), plain, echo=False)
    toml = _curve_toml(tmp_path, keys, _free_port(), wav=wav, out="curve.npz")
    result = run_distributed(load_graph(toml), toml, echo=False)
    assert result.metrics["rec"]["auth_accepted"] == 1 and result.metrics["rec"]["auth_rejected"] == 0
    a, b = np.load(tmp_path / "plain.npz"), np.load(tmp_path / "curve.npz")
    assert a["samples"].shape == (16_000, 1)
    assert a["samples"].tobytes() == b["samples"].tobytes()


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
