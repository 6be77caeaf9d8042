"""Fixed-point emulators: Numba kernel against the numpy reference, against Lava's bit-accurate
Loihi models (when a lava-nc interpreter is available), and chunked runs against whole runs."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from network.chips.deploy import deploy
from network.chips.emulate import Emulator, raster_to_csr, simulate
from network.chips.model import SpikingModel
from network.chips.reference import reference_fixed

HERE = Path(__file__).resolve().parent
LAVA_PYTHON = os.environ.get("SPIKESTREAM_LAVA_PYTHON", "/tmp/lava_env/venv/bin/python")


def _model(seed, sizes=(12, 20, 6), delays=0, bias=0.02):
    rng = np.random.default_rng(seed)
    ws = [rng.normal(0.4, 0.6, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    return SpikingModel.from_layers(list(sizes), ws, bias=bias, delays=delays), rng


@pytest.mark.parametrize("chip", ["loihi", "xylo", "truenorth", "spinnaker", "akida"])
@pytest.mark.parametrize("delays", [0, 3])
def test_kernel_matches_reference(chip, delays):
    model, rng = _model(3, delays=delays if chip != "xylo" else 0)
    raster = rng.random((80, 12)) < 0.3
    q = deploy(model, chip).q
    _, res = simulate(q, raster, trace=True)
    ref = reference_fixed(q, raster)
    assert np.array_equal(res.trace_u[:, q.first:], ref["u"][:, q.first:])
    assert np.array_equal(res.trace_v[:, q.first:], ref["v"][:, q.first:])
    ours = np.zeros_like(ref["raster"])
    ours[res.spike_step, res.spike_neuron] = True
    assert np.array_equal(ours[:, q.first:], ref["raster"][:, q.first:])
    assert ours[:, q.first:].sum() > 20  # the test exercises spiking


def test_refractory_matches_reference():
    model, rng = _model(4)
    for layer in model.layers[1:]:
        layer.refractory_steps[:] = 2
    raster = rng.random((60, 12)) < 0.4
    q = deploy(model, "loihi").q
    _, res = simulate(q, raster, trace=True)
    ref = reference_fixed(q, raster)
    assert np.array_equal(res.trace_v[:, q.first:], ref["v"][:, q.first:])
    assert np.diff(np.sort(res.spike_step[res.spike_neuron == q.first])).min() >= 3


@pytest.mark.parametrize("chip", [None, "loihi", "xylo", "dynapse"])
def test_chunked_run_equals_whole(chip):
    model, rng = _model(5, delays=2 if chip != "xylo" else 0)
    raster = rng.random((90, 12)) < 0.3
    q = deploy(model, chip).q
    _, whole = simulate(q, raster)
    emu = Emulator(q)
    steps, neurons = [], []
    for a, b in ((0, 7), (7, 7), (7, 50), (50, 90)):
        ptr, idx = raster_to_csr(raster[a:b])
        r = emu.run(b - a, ptr, idx)
        steps.append(r.spike_step)
        neurons.append(r.spike_neuron)
    assert np.array_equal(np.concatenate(steps), whole.spike_step)
    assert np.array_equal(np.concatenate(neurons), whole.spike_neuron)


def test_loihi_quantisation_follows_float_model():
    model, rng = _model(6)
    raster = rng.random((100, 12)) < 0.3
    f = deploy(model, None).infer(raster).output_counts
    lo = deploy(model, "loihi").infer(raster).output_counts
    assert f.sum() > 10
    assert np.abs(f - lo).sum() <= 0.1 * f.sum()


def _lava_arrays(q, raster, n_layers):
    arrs = {"raster": raster, "n_layers": n_layers}
    pre = np.repeat(np.arange(q.n), np.diff(q.indptr))
    for i in range(n_layers):
        lo, hi = q.layer_offsets[i + 1], q.layer_offsets[i + 2]
        plo, phi = q.layer_offsets[i], q.layer_offsets[i + 1]
        sel = (q.post >= lo) & (q.post < hi)
        w = np.zeros((hi - lo, phi - plo), np.int64)
        w[q.post[sel] - lo, pre[sel] - plo] = q.weight[sel] >> 6  # act_shift: Lava shifts a_in by 6
        arrs.update({f"w{i}": w, f"du{i}": q.du[lo], f"dv{i}": q.dv[lo], f"vth{i}": q.vth[lo] >> 6,
                     f"bias{i}": q.bias[lo:hi], f"bias_exp{i}": 0, f"weight_exp{i}": 0})
    return arrs


@pytest.mark.skipif(not Path(LAVA_PYTHON).exists(), reason="no lava-nc interpreter (SPIKESTREAM_LAVA_PYTHON)")
@pytest.mark.parametrize("seed", [1, 2])
def test_loihi_bit_exact_against_lava(tmp_path, seed):
    model, rng = _model(seed, sizes=(12, 20, 10, 6), bias=0.02 * seed)
    raster = rng.random((60, 12)) < 0.25
    q = deploy(model, "loihi").q
    _, res = simulate(q, raster, trace=True)
    np.savez(tmp_path / "in.npz", **_lava_arrays(q, raster, 3))
    run = subprocess.run([LAVA_PYTHON, str(HERE / "peer_lava.py"), str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    out = np.load(tmp_path / "out.npz", allow_pickle=False)
    total = 0
    for i in range(3):
        lo, hi = q.layer_offsets[i + 1], q.layer_offsets[i + 2]
        assert np.array_equal(out[f"u{i}"], res.trace_u[:, lo:hi]), f"layer {i} current differs"
        assert np.array_equal(out[f"v{i}"], res.trace_v[:, lo:hi]), f"layer {i} voltage differs"
        ours = np.zeros((raster.shape[0], hi - lo), bool)
        sel = (res.spike_neuron >= lo) & (res.spike_neuron < hi)
        ours[res.spike_step[sel], res.spike_neuron[sel] - lo] = True
        assert np.array_equal(out[f"s{i}"] > 0, ours), f"layer {i} spikes differ"
        total += ours.sum()
    assert total > 30
