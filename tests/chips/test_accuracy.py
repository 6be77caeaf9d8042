"""Quantisation study on real FSDD recordings: the trained spoken-digit SNN keeps its accuracy on
the fixed-point chips that can represent it (floors that fail if deploy() mangles weights,
thresholds or decays) and the study reports every chip."""

from pathlib import Path

import numpy as np
import pytest

from network.chips.accuracy import CLASSES, accuracy, load_digits, study, train
from network.chips.deploy import deploy

FSDD = Path(__file__).resolve().parents[2].parent / "shared/data/fsdd"
pytestmark = pytest.mark.skipif(not (FSDD / "recordings").is_dir(), reason="FSDD recordings not present")


@pytest.fixture(scope="module")
def data():
    return load_digits(FSDD, per_class=60)


def test_rasters_are_binary_with_phase_inputs(data):
    assert data.rasters.shape[1:] == (64, 16)
    assert data.rasters.max() == 1
    # exactly one phase input fires on each step
    assert np.all(data.rasters[:, :, 12:].sum(axis=2) == 1)
    assert sorted(set(data.labels.tolist())) == list(range(CLASSES))


def test_float_and_chip_accuracy_floors(data):
    out = study(data, chips=["loihi", "spinnaker", "xylo", "truenorth"])
    res = out["results"]
    assert res["float"]["accuracy"] >= 0.65         # chance is 0.125
    assert res["loihi"]["accuracy"] >= res["float"]["accuracy"] - 0.08
    assert res["spinnaker"]["accuracy"] >= res["float"]["accuracy"] - 0.08
    assert res["xylo"]["accuracy"] >= 0.5
    assert res["truenorth"]["accuracy"] is not None  # reported, even when it is poor


def test_accuracy_is_the_argmax_of_output_counts(data):
    t = train(data, hidden=60, seed=0)
    d = deploy(t.model, "loihi")
    acc, _ = accuracy(d, data, t.test[:5])
    n = d.q.n
    hits = 0
    for i in t.test[:5]:
        d.infer(data.rasters[i])
        hits += int(np.argmax(d._last[0][n - CLASSES:n]) == data.labels[i])
    assert acc == hits / 5
