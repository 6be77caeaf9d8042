"""Per-link limits from the TOML (max message, array and metadata size) are enforced on
receipt, before the payload is turned into arrays: an oversize message is rejected and
counted, the stage keeps running and takes the next good one."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zmq

from pipeline.chunks import EndOfStream, Geometry, SignalChunk
from pipeline.errors import WireError
from pipeline.graph import load_graph
from pipeline.wire import WireLimits, decode, encode

ROOT = Path(__file__).resolve().parents[2]


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chunk(n, seq, meta=None):
    return SignalChunk(t_start=seq * 1000, t_end=seq * 1000 + 1000, samples=np.ones((n, 1), np.float32),
                       geometry=Geometry(channels=1, sample_rate_hz=n * 1000), stream="mic", seq=seq,
                       first_sample=seq * n, meta=meta or {})


def test_limits_from_toml_reject_oversize_messages(tmp_path):
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
max_array_bytes = 400
max_meta_bytes = 100
max_message_bytes = 2000
""")
    limits = WireLimits.from_options(load_graph(toml).nodes["rec"].options)
    assert (limits.max_array_bytes, limits.max_meta_bytes, limits.max_message_bytes) == (400, 100, 2000)
    stage = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "stage", "rec", str(toml)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    good = _chunk(100, 0)                                   # 400 bytes: at the limit
    big_array = _chunk(101, 0)                              # 404 bytes
    big_meta = _chunk(10, 0, meta={"note": "x" * 200})     # metadata over 100 bytes
    header = json.loads(bytes(encode(good)[0]))
    header["arrays"][0]["shape"] = [2**38, 1]               # declares 1 TiB; never allocated
    huge_declared = [json.dumps(header).encode(), b"\0" * 400]
    padded = [bytes(encode(good)[0]), b"\0" * 400, b"\0" * 1800]  # total message over 2000 bytes
    with zmq.Context() as ctx, ctx.socket(zmq.PUSH) as push:
        push.linger = 5000
        push.connect(f"tcp://127.0.0.1:{port}")
        for message in (encode(big_array), encode(big_meta), huge_declared, padded):
            push.send_multipart(message)
        push.send_multipart(encode(good))
        push.send_multipart(encode(EndOfStream(t_start=1000, t_end=1000, stream="mic", seq=1)))
        out, err = stage.communicate(timeout=60)
    assert stage.returncode == 0, err
    metrics = json.loads(out.strip().splitlines()[-1])["metrics"]
    assert metrics["malformed"] == 4 and metrics["chunks_in"] == 1
    assert "exceeds limit 400" in err and "meta" in err and "limit 2000" in err
    assert np.load(tmp_path / "rec.npz")["samples"].shape == (100, 1)


def test_limit_options_are_checked():
    with pytest.raises(WireError, match="positive integer"):
        WireLimits.from_options({"max_array_bytes": -5})
    with pytest.raises(WireError, match="positive integer"):
        WireLimits.from_options({"max_meta_bytes": "big"})
    frames = encode(_chunk(100, 0))
    with pytest.raises(WireError, match="exceeds limit 399"):
        decode(frames, WireLimits(max_array_bytes=399))
