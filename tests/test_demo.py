"""The README's main job (`spikestream demo`) on a small generated set, end to end:
espeak-ng synthesis, a distributed pipeline per shard (a process per stage, ZeroMQ),
readout, report files."""

from __future__ import annotations

import json
import subprocess
import sys


def test_demo_runs_distributed_end_to_end(tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    cmd = [sys.executable, "-m", "pipeline.cli", "demo", "--speakers", "20", "--repeats", "1", "--test-percent", "40", "--cache", str(cache),
           "--out", str(out), "--shard-size", "100", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=420)  # generous: CI runs other tests beside it
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["runner"] == "distributed"
    assert report["classes"] == ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"]
    # every clip of the train and test speakers went through the pipeline exactly once
    assert report["n_train"] + report["n_test"] == report["throughput"]["samples"] > 0
    assert report["n_test"] % 10 == 0 and report["n_test"] > 0
    assert report["train_accuracy"] > 0.9
    assert report["accuracy"] > 0.45  # chance is 0.1; a broken front end or label mix-up lands near it
    assert (out / "confusion.png").stat().st_size > 1000
    assert json.loads((out / "report.json").read_text())["accuracy"] == report["accuracy"]
