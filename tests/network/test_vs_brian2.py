"""Spike times and membrane traces against Brian2 on the same input spikes.

(IF is checked against its closed form in test_neurons.py: Brian2's exact solver rejects
an integrator without leak.) Brian2 2.9 does not import under numpy 2, so the reference runs in a separate Python
(BRIAN2_PYTHON, else /tmp/brian2-venv/bin/python, else this one if Brian2 imports); all
cases run in one Brian2 process ('numpy' code generation: quick to start).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from network.network import Network
from network.populations import (
    AdaptiveLIFPopulation,
    HodgkinHuxleyPopulation,
    IFPopulation,
    InputPopulation,
    IzhikevichPopulation,
    LIFPopulation,
)
from network.projections import Projection

HERE = Path(__file__).parent
DT_MS = 0.1
CLASSES = {"LIF": LIFPopulation, "ALIF": AdaptiveLIFPopulation, "IF": IFPopulation, "IZH": IzhikevichPopulation,
           "HH": HodgkinHuxleyPopulation}


def _brian2_python():
    candidates = [os.environ.get("BRIAN2_PYTHON", ""), "/tmp/brian2-venv/bin/python", sys.executable]
    for exe in candidates:
        if exe and Path(exe).exists():
            ok = subprocess.run([exe, "-c", "import brian2"], capture_output=True).returncode == 0
            if ok:
                return exe
    return None


def _input(rng, n_in, steps, rate_per_step):
    mask = rng.random((steps, n_in)) < rate_per_step
    s, i = np.nonzero(mask)
    return {"n": n_in, "neurons": i.tolist(), "steps": s.tolist()}


def _projection(rng, pre, post, n_pre, n_post, p, w_lo, w_hi, receptor, max_delay):
    mask = rng.random((n_pre, n_post)) < p
    i, j = np.nonzero(mask)
    return {"pre": pre, "post": post, "i": i.tolist(), "j": j.tolist(),
            "w": rng.uniform(w_lo, w_hi, i.size).tolist(), "delay": rng.integers(0, max_delay + 1, i.size).tolist(),
            "receptor": receptor}


def _cases():
    rng = np.random.default_rng(42)
    cases = []
    # time constants shared by the group: Brian2's exact solver wants them numeric
    lif = {"tau_m_ms": [20.0] * 4, "tau_exc_ms": [5.0] * 4, "tau_inh_ms": [10.0] * 4, "v_rest": [0.0, -0.2, 0.1, 0.0], "v_reset": [0.0, -0.1, 0.0, 0.2],
           "v_th": [1.0, 0.8, 1.2, 1.0], "refractory_ms": [2.0, 0.0, 5.0, 1.0], "bias": [0.0, 0.3, 0.0, 0.1]}
    for model, reset, params in (("LIF", "hard", lif), ("LIF", "soft", lif),
                                 ("ALIF", "hard", {**lif, "tau_adapt_ms": [50.0] * 4, "beta": [0.1, 0.05, 0.2, 0.1],
                                                   "bias": [0.9, 0.8, 1.0, 0.7]})):
        cases.append({"id": f"{model}-{reset}", "dt_ms": DT_MS, "steps": 3000, "input": _input(rng, 6, 3000, 0.02),
                      "groups": [{"name": "g", "model": model, "n": 4, "reset": reset, "params": params}],
                      "projections": [_projection(rng, "input", "g", 6, 4, 0.8, 0.2, 0.6, "exc", 0),
                                      _projection(rng, "input", "g", 6, 4, 0.3, -0.4, -0.1, "inh", 0)]})
    izh = {"a": [0.02, 0.02, 0.1], "b": [0.2, 0.25, 0.2], "c": [-65.0, -65.0, -65.0], "d": [8.0, 2.0, 2.0],
           "v_peak": [30.0] * 3, "bias": [5.0, 0.0, 2.0], "tau_exc_ms": [5.0] * 3, "tau_inh_ms": [10.0] * 3,
           "v_init": [-65.0, -70.0, -65.0]}
    cases.append({"id": "IZH", "dt_ms": DT_MS, "steps": 3000, "input": _input(rng, 6, 3000, 0.02),
                  "groups": [{"name": "g", "model": "IZH", "n": 3, "params": izh}],
                  "projections": [_projection(rng, "input", "g", 6, 3, 0.8, 2.0, 6.0, "exc", 0)]})
    hh = {k: [v] * 2 for k, v in HodgkinHuxleyPopulation.defaults.items()}
    hh["bias"] = [0.5, 0.0]
    cases.append({"id": "HH", "dt_ms": 0.01, "steps": 3000, "input": _input(rng, 4, 3000, 0.005),
                  "groups": [{"name": "g", "model": "HH", "n": 2, "params": hh}],
                  "projections": [_projection(rng, "input", "g", 4, 2, 1.0, 2.0, 4.0, "exc", 0)]})
    # a small network with per-synapse delays, recurrence and inhibition
    small = {k: [v] * 5 for k, v in LIFPopulation.defaults.items()}
    small["refractory_ms"] = [2.0] * 5
    out = {k: [v] * 3 for k, v in LIFPopulation.defaults.items()}
    cases.append({"id": "net", "dt_ms": DT_MS, "steps": 4000, "input": _input(rng, 8, 4000, 0.05),
                  "groups": [{"name": "a", "model": "LIF", "n": 5, "reset": "hard", "params": small},
                             {"name": "b", "model": "LIF", "n": 3, "reset": "hard", "params": out}],
                  "projections": [_projection(rng, "input", "a", 8, 5, 0.6, 0.2, 0.5, "exc", 30),
                                  _projection(rng, "a", "b", 5, 3, 1.0, 0.8, 1.5, "exc", 50),
                                  _projection(rng, "b", "a", 3, 5, 0.5, -0.6, -0.2, "inh", 20),
                                  _projection(rng, "a", "a", 5, 5, 0.3, 0.1, 0.3, "exc", 10)]})
    return cases


def _ours(case):
    dt_us = int(round(case["dt_ms"] * 1000))
    net = Network(dt_us=dt_us)
    net.add(InputPopulation(case["input"]["n"]), input=True)
    mons = {}
    for g in case["groups"]:
        cls = CLASSES[g["model"]]
        params = {k: np.asarray(v) for k, v in g["params"].items() if k in cls.defaults}
        extra = {"reset": g["reset"]} if "reset" in g else {}
        net.add(cls(g["n"], name=g["name"], **extra, **params), output=True)
        mons[g["name"]] = net.monitor_state(g["name"], "v")
    for pj in case["projections"]:
        i, j = np.asarray(pj["i"], np.int64), np.asarray(pj["j"], np.int64)
        n_pre = case["input"]["n"] if pj["pre"] == "input" else net.populations[pj["pre"]].n
        order = np.lexsort((j, i))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(i, minlength=n_pre))])
        net.connect(Projection(pj["pre"], pj["post"], indptr, j[order], np.asarray(pj["w"])[order],
                               np.asarray(pj["delay"], np.int64)[order], pj["receptor"]))
    steps = np.asarray(case["input"]["steps"], np.int64)
    order = np.argsort(steps, kind="stable")
    out = net.advance(case["steps"], steps[order], np.asarray(case["input"]["neurons"], np.int64)[order])
    return out, {name: m.values for name, m in mons.items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    exe = _brian2_python()
    if exe is None:
        pytest.skip("no Python with Brian2 (set BRIAN2_PYTHON; see tests/network/_brian2_reference.py)")
    tmp = tmp_path_factory.mktemp("brian2")
    cases = _cases()
    (tmp / "cases.json").write_text(json.dumps(cases))
    done = subprocess.run([exe, str(HERE / "_brian2_reference.py"), str(tmp / "cases.json"), str(tmp / "out.npz")],
                          capture_output=True, text=True, timeout=600, cwd=tmp)
    if done.returncode:
        raise RuntimeError(f"Brian2 reference failed:\n{done.stderr[-3000:]}")
    with np.load(tmp / "out.npz", allow_pickle=False) as data:
        return cases, {k: data[k] for k in data.files}


@pytest.mark.parametrize("case_id", ["LIF-hard", "LIF-soft", "ALIF-hard", "IZH", "HH", "net"])
def test_matches_brian2(reference, case_id):
    cases, ref = reference
    case = next(c for c in cases if c["id"] == case_id)
    spikes, traces = _ours(case)
    for g in case["groups"]:
        name = g["name"]
        steps, neurons = spikes[name]
        b_steps, b_neurons = ref[f"{case_id}/{name}/spike_steps"], ref[f"{case_id}/{name}/spike_neurons"]
        assert b_steps.size > 3, f"{case_id}/{name}: the reference barely spikes ({b_steps.size}); a weak test"
        for i in range(g["n"]):
            ours, theirs = np.sort(steps[neurons == i]), np.sort(b_steps[b_neurons == i])
            assert ours.shape == theirs.shape, f"{case_id}/{name} neuron {i}: {ours.size} vs {theirs.size} spikes"
            assert np.all(np.abs(ours - theirs) <= 1), f"{case_id}/{name} neuron {i}: spike steps differ"
        v, bv = traces[name], ref[f"{case_id}/{name}/v"]
        assert v.shape == bv.shape
        scale = np.maximum(np.abs(bv), 1.0 if g["model"] not in ("IZH", "HH") else 10.0)
        err = np.abs(v - bv) / scale
        assert err.max() < 1e-4, f"{case_id}/{name}: membrane differs by {err.max():.2e} relative"
