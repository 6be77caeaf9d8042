"""The replay app: features do not depend on chunking, accuracy floor on real digits,
resume, Dask results identical to one process, a killed worker's shard rerun exactly once."""

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from apps.replay.model import ReplayConfig, shard_graph
from apps.replay.replay import plan_split, replay
from apps.replay.shards import extract, run_shard

FSDD = str(Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "fsdd")


def test_features_do_not_depend_on_chunking():
    cfg = ReplayConfig("fsdd", FSDD)
    rows = []
    for chunk_us in (3_333, 40_000, 10**8):
        graph = shard_graph(ReplayConfig("fsdd", FSDD, chunk_us=chunk_us), "test", FSDD, [0, 31, 77, 140], 0)
        rows.append(run_shard(graph))
    assert rows[0]["sample_ids"].tolist() == ["0_george_0", "1_jackson_1", "3_george_2", "5_nicolas_0"]
    for other in rows[1:]:
        assert np.array_equal(rows[0]["features"], other["features"])
        assert np.array_equal(rows[0]["span_us"], other["span_us"])
    assert rows[0]["features"].shape == (4, cfg.bins * cfg.channels)


def test_fsdd_accuracy_floor_and_resume(tmp_path):
    cfg = ReplayConfig("fsdd", FSDD, limit=500, shard_size=100)
    first = replay(cfg, out_dir=tmp_path)
    assert first["n_train"] == 500 and first["n_test"] == 250
    assert first["accuracy"] >= 0.85  # full train split: 0.964
    assert first["throughput"]["samples"] == 750 and first["throughput"]["real_time_factor"] > 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["accuracy"] == first["accuracy"] and (tmp_path / "confusion.png").stat().st_size > 1000
    shards = sorted((tmp_path / "shards" / cfg.digest()).glob("*.npz"))
    assert len(shards) == 5 + 3
    shards[2].unlink()
    shards[-1].write_bytes(b"torn")
    again = replay(cfg, out_dir=tmp_path)
    assert again["throughput"]["resumed_samples"] == 750 - 100 - 50
    assert again["test_predictions"] == first["test_predictions"]


def test_fsdd_online_readout_learns_one_sample_at_a_time(tmp_path):
    cfg = ReplayConfig("fsdd", FSDD, limit=500, shard_size=250, readout="online")
    report = replay(cfg, out_dir=tmp_path)
    assert report["config"]["readout"] == "online"
    assert report["accuracy"] >= 0.85  # full train split: 0.968


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as c, distributed.Client(c) as client:
        yield client


def test_two_workers_give_the_same_result_as_one_process(cluster):
    cfg = ReplayConfig("fsdd", FSDD, limit=200, shard_size=25)
    here = replay(cfg)
    there = replay(cfg, client=cluster)
    assert there["test_predictions"] == here["test_predictions"] and there["accuracy"] == here["accuracy"]
    assert there["confusion"] == here["confusion"]


def test_killed_worker_shard_is_rerun_and_every_sample_counted_once(cluster):
    cfg = ReplayConfig("fsdd", FSDD, shard_size=8)
    shards, _ = plan_split(cfg, "test", FSDD)
    # paced at 40x real time, each shard of ~3.6 s of speech takes ~0.1 s, so both workers are busy
    graphs = [shard_graph(cfg, "test", FSDD, idx, s, speed=40.0) for s, idx in enumerate(shards)]
    pids_before = cluster.run(os.getpid)
    killed = []

    def kill_one(shard):
        if not killed:
            pid = next(iter(pids_before.values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    got = extract(graphs, [len(i) for i in shards], "test", None, client=cluster, on_done=kill_one)
    assert killed
    ids = np.concatenate([r.sample_ids for r in got]).tolist()
    assert len(ids) == 250 and len(set(ids)) == 250
    expected = [r.sample_id for r in __import__("sources.datasets.fsdd", fromlist=["x"]).fsdd_listing(FSDD, "test")]
    assert ids == expected
    cluster.wait_for_workers(2, timeout=30)
    assert set(cluster.run(os.getpid).values()) != set(pids_before.values())  # the nanny restarted it
    reference = run_shard(shard_graph(cfg, "test", FSDD, shards[5], 5))
    assert np.array_equal(got[5].features, reference["features"])


def test_cli_json(tmp_path, capsys):
    from pipeline.cli import main

    code = main(["replay", "fsdd", FSDD, "--limit", "120", "--out", str(tmp_path / "out"), "--json", "--bins", "3"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_train"] == 120 and report["features"] == 3 * 64
    assert set(report["per_class_recall"]) == {str(d) for d in range(10)}
    assert Path(report["files"]["confusion_png"]).is_file()
