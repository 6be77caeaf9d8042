"""Learning through the network engine: ReSuMe reaches its target train, R-STDP learns a
two-choice task from reward, a population-coded Iris run clears its floor."""

import types

import numpy as np

from apps.evaluate.classify_tasks import iris_task
from apps.evaluate.rule_tasks import resume_task, rstdp_task, van_rossum


def _args(tmp_path, **kw):
    base = dict(out=str(tmp_path), epochs=0, trials=0, seed=0, quick=True, neurons=0, json=True, data="")
    return types.SimpleNamespace(**{**base, **kw})


def test_van_rossum_distance_scale():
    assert van_rossum(np.array([10.0]), np.array([])) == np.float64(van_rossum(np.array([]), np.array([10.0])))
    assert abs(van_rossum(np.array([10.0]), np.array([])) - np.sqrt(0.5)) < 0.01
    assert van_rossum(np.array([10.0, 50.0]), np.array([10.0, 50.0])) == 0.0


def test_resume_output_learns_target_train_within_30_epochs(tmp_path):
    r = resume_task(_args(tmp_path), epochs=30)
    assert r["distance_first"] > 1.2  # starts far from the 5-spike target
    assert r["first_epoch_below"] is not None and r["first_epoch_below"] <= 30
    assert r["distance_final"] < 1.0


def test_rstdp_two_choice_above_chance(tmp_path):
    r = rstdp_task(_args(tmp_path), trials=400)
    assert r["accuracy_last_100"] >= 0.75  # chance is 0.5


def test_iris_population_coding_floor(tmp_path):
    r = iris_task(_args(tmp_path))
    assert r["test_accuracy"] >= 0.9
