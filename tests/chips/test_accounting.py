"""Counts on a hand-built network with known activity equal the analytical numbers exactly, and
energy equals counts x per-op figures + (management + static) power x time."""

import dataclasses

import numpy as np
import pytest

from network.chips.deploy import deploy
from network.chips.model import Layer, SpikingModel, dense_connection
from network.chips.profile import Figure
from network.chips.registry import get_profile


def _relay_model():
    """2 inputs -> 3 relay neurons -> 1 output. No memory (a = 0), so each arriving spike makes
    its target fire one step later: input 0 feeds relays 0, 1, 2; input 1 feeds relay 2."""
    def relay(name, n):
        z, one = np.zeros(n), np.ones(n)
        return Layer(name, n, a_exc=z, a_inh=z, a_m=z, gain_exc=one, gain_inh=one, bias=z, v_th=one,
                     v_reset=z, refractory_steps=np.zeros(n, np.int64))
    layers = [Layer("input", 2, is_input=True), relay("hidden", 3), relay("out", 1)]
    w1 = np.array([[2.0, 2.0, 2.0], [0.0, 0.0, 2.0]])
    w2 = np.full((3, 1), 2.0)
    return SpikingModel(layers, [dense_connection("input", "hidden", w1), dense_connection("hidden", "out", w2)],
                        1.0, "out")


def _profile():
    p = get_profile("loihi")
    limits = dict(p.limits, neurons_per_core=Figure(2, "", "test"), cores_per_chip=Figure(2, "", "test"))
    return dataclasses.replace(p, limits=limits, timing={"speedup": Figure(1.0, "", "test")})


def test_counts_equal_analytical_numbers():
    raster = np.zeros((10, 2), bool)
    raster[[0, 5], 0] = True   # input 0 at steps 0 and 5
    raster[2, 1] = True        # input 1 at step 2
    d = deploy(_relay_model(), _profile())
    assert d.mapping.n_cores == 3 and d.mapping.n_chips == 2
    inf = d.infer(raster)
    c = inf.counts
    hidden = sorted(zip(inf.spike_step[inf.spike_neuron < 5].tolist(), inf.spike_neuron[inf.spike_neuron < 5].tolist()))
    assert hidden == [(1, 2), (1, 3), (1, 4), (3, 4), (6, 2), (6, 3), (6, 4)]
    assert inf.spike_step[inf.spike_neuron == 5].tolist() == [2, 4, 7]
    assert (c.steps, c.input_spikes, c.spikes) == (10, 3, 10)
    assert (c.sops, c.sops_input, c.sops_output) == (2 * 3 + 1 * 1 + 7 * 1, 7, 7)
    # active: steps with input arriving or state carried in from the step before
    assert (c.neuron_updates, c.neuron_updates_idle) == (4 + 4 + 6 + 6, 4 * 10 - 20)
    # cores: hidden 0,1 -> core 0, hidden 2 -> core 1 (chip 0), out -> core 2 (chip 1)
    assert (c.spikes_local, c.spikes_routed, c.spikes_chip) == (0, 2 * 2 + 1 + 7, 7)
    assert c.hops == 2 * 1 + 1 * 1 + 3 * 1  # mesh hops within each chip; chip crossings counted apart


def test_energy_is_counts_times_figures_plus_static():
    raster = np.zeros((10, 2), bool)
    raster[[0, 5], 0] = True
    raster[2, 1] = True
    prof = _profile()
    d = deploy(_relay_model(), prof)
    inf = d.infer(raster)
    rep = d.energy_report(inf.counts)
    c, e = inf.counts, prof.joules
    cores, chips, seconds = 3, 2, 10 * 1e-3
    dynamic = (c.sops * e("sop") + c.neuron_updates * e("neuron_update") + c.neuron_updates_idle *
               e("neuron_update_idle") + c.spikes_local * e("spike_local") + c.hops * e("spike_hop") +
               c.spikes_chip * e("spike_chip") + c.steps * cores * e("barrier_core") +
               e("management_w") * chips * seconds)
    static = e("static_w") * chips * seconds
    assert e("barrier_core") > 0 and e("management_w") > 0  # both terms are exercised
    assert rep["breakdown_j"]["barrier_sync"] == pytest.approx(10 * 3 * e("barrier_core"), rel=1e-12)
    assert rep["breakdown_j"]["management"] == pytest.approx(e("management_w") * 2 * 10e-3, rel=1e-12)
    assert rep["dynamic_j"] == pytest.approx(dynamic, rel=1e-12)
    assert rep["static_j"] == pytest.approx(static, rel=1e-12)
    assert rep["energy_j"] == pytest.approx(dynamic + static, rel=1e-12)
    assert rep["latency_s"] == pytest.approx(10e-3)
    n_syn = 4 + 3
    assert rep["reference"]["cpu"]["energy_j"] == pytest.approx(n_syn * (4.6e-12 + 50e-12) + 4 * 10e-12)


def test_loihi_step_time_is_busiest_core_plus_barrier_plus_host_io():
    raster = np.zeros((10, 2), bool)
    raster[0, 0] = True
    p = get_profile("loihi")
    d = deploy(_relay_model(), p)
    inf = d.infer(raster)
    rep = d.energy_report(inf.counts)
    # one core per population: hidden core gets 3 SOPs, 3 x 2 active updates, 3 x 10 - 6 idle
    hidden_work = 3 * 3.5e-9 + 6 * 8.4e-9 + 24 * 5.3e-9
    assert rep["step_s"] == pytest.approx(hidden_work / 10 + 289e-9 + 1 / (296 * 10))
    assert rep["latency_s"] == pytest.approx(10 * rep["step_s"])


def test_xylo_energy_is_cycles_times_figures():
    """Xylo prices Rockpool's cycle model: per input/hidden/output synapse, per hidden and output
    neuron and step, per hidden spike delivered, per input channel and step."""
    rng = np.random.default_rng(0)
    model = SpikingModel.from_layers([6, 10, 2], [rng.normal(0.5, 0.5, (6, 10)), rng.normal(0.5, 0.5, (10, 2))],
                                     soft_reset=True)
    d = deploy(model, "xylo")
    raster = rng.random((40, 6)) < 0.4
    inf = d.infer(raster)
    rep = d.energy_report(inf.counts)
    c, e = inf.counts, get_profile("xylo").joules
    hidden_spikes = int(((inf.spike_neuron >= 6) & (inf.spike_neuron < 16)).sum())
    assert hidden_spikes > 0 and c.spikes_local == hidden_spikes and c.input_channels == 6
    hidden_sops = c.sops - c.sops_input - c.sops_output
    dynamic = (c.sops_input * e("sop_input") + hidden_sops * e("sop") + c.sops_output * e("sop_output")
               + 10 * 40 * e("neuron_update") + 2 * 40 * e("neuron_update_output") + 6 * 40 * e("input_channel")
               + hidden_spikes * e("spike_local"))
    assert rep["dynamic_j"] == pytest.approx(dynamic, rel=1e-12)
    assert e("neuron_update") == pytest.approx(22 * 6.3e-12) and e("spike_local") == pytest.approx(4 * 6.3e-12)
