"""`spikestream evaluate spoken-digits` (issue 7): real FSDD recordings -> cochlea -> a
readout learned online, one sample at a time; small run with floors that can fail."""

from argparse import Namespace
from pathlib import Path

import numpy as np

from apps.evaluate.classify_tasks import online_train_test, spoken_digits_task
from network.readouts import OnlineSoftmaxReadout

FSDD = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "fsdd"


def test_online_readout_learns_from_a_stream_one_sample_at_a_time():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (4, 20))
    y = rng.integers(0, 4, 600)
    X = centres[y] + rng.normal(0, 0.7, (600, 20))
    readout = OnlineSoftmaxReadout(epochs=0).fit(X[:4], np.arange(4))
    before = readout.predict(X[500:])
    assert np.all(before == before[0])  # untrained: no information
    for i in range(500):  # one sample at a time, as a stream delivers them
        readout.partial_fit(X[i : i + 1], y[i : i + 1])
    assert readout.n_samples_seen_ == 500
    assert np.mean(readout.predict(X[500:]) == y[500:]) > 0.95
    batch = OnlineSoftmaxReadout(epochs=1, random_state=0).fit(X[:500], y[:500])
    assert np.mean(batch.predict(X[500:]) == y[500:]) > 0.95
    pred = online_train_test(X, y, np.arange(500), np.arange(500, 600), epochs=1, seed=0)
    assert np.mean(pred == y[500:]) > 0.95


def test_spoken_digits_quick_run_above_floors(tmp_path):
    args = Namespace(data=str(FSDD), quick=True, epochs=0, seed=0, json=True, out=str(tmp_path), neurons=0)
    result = spoken_digits_task(args)
    assert result["samples"] == 500
    assert result["random_split_accuracy"] >= 0.82  # chance 0.1; full run 0.95
    assert result["held_out_speaker_mean"] >= 0.35
    assert Path(result["png"]).is_file()
