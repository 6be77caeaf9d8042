"""Done-when test of the keyword spotter: a scripted sequence of keywords (held-out synthetic
speakers) separated by silence is played into a virtual microphone (PulseAudio null sink)
while `spikestream kws listen` records it through PortAudio; detections are scored in order
and the latency from each word's end to its detection is measured on the stream clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.errors import DeviceError

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
SCRIPT = ["yes", "no", "cat", "up", "down", "left", "house", "right", "on", "off", "stop", "go"]


@pytest.fixture(scope="module")
def model_dir():
    """The default model (trained by `spikestream kws train --default` when missing or of an
    older format)."""
    from apps.kws.model import KwsModel
    from apps.kws.train import default_model_dir
    from pipeline.errors import FormatError

    folder = default_model_dir()
    try:
        KwsModel.load(folder)
    except FormatError:
        subprocess.run([sys.executable, "-m", "pipeline.cli", "kws", "train", "--default", "--json"], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=900)
    return folder


@pytest.fixture(scope="module")
def virtual_mic():
    from sources._virtual_audio import VirtualAudio

    audio = VirtualAudio(sample_rate_hz=16000)
    try:
        audio.start()
    except DeviceError as exc:
        pytest.skip(f"PulseAudio cannot start here: {exc}")
    try:
        audio.add_null_sink()
        yield audio
    finally:
        audio.stop()


@pytest.mark.slow
def test_listen_detects_scripted_keywords_live(model_dir, virtual_mic, tmp_path):
    from apps.kws.script import align_script, make_script, score
    from apps.kws.train import ensure_default_keywords
    from sources.wav import read_wav, write_wav

    audio, script = make_script(ensure_default_keywords(), SCRIPT, KEYWORDS, seed=0)
    wav = tmp_path / "script.wav"
    write_wav(wav, audio, 16000)
    record = Path(os.environ.get("KWS_REPORT_DIR", tmp_path)) / "kws_live_heard.wav"
    duration = audio.shape[0] / 16000 + 3.0
    env = {**os.environ, **virtual_mic.env}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "kws", "listen", "--device", "pulse",
                             "--model", str(model_dir), "--duration", f"{duration:.2f}", "--json",
                             "--record", str(record)],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    line = proc.stderr.readline()
    assert "listening for" in line, line + proc.stderr.read()
    time.sleep(1.5)  # the stream is open and the null sink's monitor is flowing
    virtual_mic.play(wav)
    out, err = proc.communicate(timeout=duration + 60)
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["source"]["input_overflows"] == 0 and result["source"]["overrun_frames"] == 0, result["source"]
    # where each word sits on the stream clock: found again in what was heard (the player
    # may insert silence on an underrun, shifting the words after it)
    heard = read_wav(record)[0][:, 0]
    placed = align_script(heard, audio, script)
    report = score(result["detections"], placed, result["t0_us"])
    print(json.dumps({k: v for k, v in report.items() if k != "false"}))
    (Path(os.environ.get("KWS_REPORT_DIR", tmp_path)) / "kws_live_report.json").write_text(
        json.dumps({**report, "detections": result["detections"], "source": result["source"],
                    "chunk_ms_p50": result["chunk_ms_p50"],
                    "chunk_ms_p99": result["chunk_ms_p99"],
                    "word_ends_s": [round(w.end / 16000, 3) for w in placed]}))
    assert report["detection_rate"] >= 0.8, report
    assert report["in_order"], report
    assert report["false_detections"] <= 1, report
