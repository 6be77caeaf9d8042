"""Engine behaviour: exact IF closed form, delays, chunking invariance of the stage,
save/load, monitors, builders and output addressing."""

from pathlib import Path

import numpy as np
import pytest

from network.connectivity import all_to_all, conv2d, fixed_fanout, fixed_probability, lateral_inhibition, one_to_one
from network.network import Network, output_grid
from network.populations import IFPopulation, InputPopulation, LIFPopulation
from network.projections import Projection
from network.stage import LIFPopulationStage, NetworkStage
from pipeline.chunks import EventChunk, Geometry
from pipeline.errors import ChunkError, ConfigError, FormatError
from pipeline.events import make_events
from pipeline.testing import payload, run_stage


def test_if_matches_closed_form():
    net = Network(dt_us=100)
    net.add(InputPopulation(1), input=True)
    net.add(IFPopulation(1, name="if", tau_m_ms=10.0, tau_exc_ms=4.0, v_th=100.0), output=True)
    net.connect(one_to_one("input", "if", 1, weight=2.0))
    mon = net.monitor_state("if", "v")
    net.run(make_events([0], [0]), 5000)
    k = np.arange(50)
    # the spike of step 0 enters the current at the start of step 1
    expected = np.where(k >= 1, 2.0 * 4.0 / 10.0 * (1 - np.exp(-(k - 1) * 0.1 / 4.0)), 0.0)
    np.testing.assert_allclose(mon.values[:, 0], expected, rtol=1e-12, atol=1e-14)


def test_per_synapse_delays_land_on_the_right_step():
    delays = np.array([0, 1, 7, 30])
    net = Network(dt_us=100)
    net.add(InputPopulation(1), input=True)
    net.add(LIFPopulation(4, name="out", v_th=1e9), output=True)
    net.connect(Projection("input", "out", np.array([0, 4]), np.arange(4), np.ones(4), delays))
    mon = net.monitor_state("out", "I_exc")
    net.run(make_events([500], [0]), 10_000)  # spike at step 5
    onset = np.argmax(mon.values > 0, axis=0)
    np.testing.assert_array_equal(onset, 5 + 1 + delays)


def test_uniform_delay_shifts_output_spikes_exactly():
    rng = np.random.default_rng(0)
    ev = make_events(np.sort(rng.integers(0, 200_000, 400)), rng.integers(0, 8, 400))
    outs = []
    for delay in (0, 13):
        net = Network(dt_us=100)
        net.add(InputPopulation(8), input=True)
        net.add(LIFPopulation(5, name="out", refractory_ms=1.0), output=True)
        net.connect(all_to_all("input", "out", 8, 5, weight=0.4, weight_std=0.1, delay=delay, seed=3))
        outs.append(net.run(ev, 300_000)["out"])
    assert outs[0].shape[0] > 20
    late = outs[0][outs[0]["t"] < 300_000 - 1300]
    np.testing.assert_array_equal(outs[1]["t"], late["t"] + 1300)
    np.testing.assert_array_equal(outs[1]["x"], late["x"])


def _stream(rng, cuts, width=16):
    t = np.sort(rng.integers(0, cuts[-1], 3000))
    ev = make_events(t, rng.integers(0, width, t.size))
    return ev, [EventChunk(t_start=int(a), t_end=int(b), events=ev[(t >= a) & (t < b)], geometry=Geometry(width, 1))
                for a, b in zip(cuts[:-1], cuts[1:])]


def test_stage_equals_offline_run_and_flush_completes_the_last_step():
    rng = np.random.default_rng(1)
    ev, chunks = _stream(rng, [0, 1234, 1500, 40_001, 77_777, 100_500])
    params = dict(n_inputs=16, n_neurons=12, weight_scale=0.5, dt_us=1000, seed=4)
    out = run_stage(LIFPopulationStage(**params), chunks)
    spans = [(c.t_start, c.t_end) for c in out]
    assert spans[0][0] == 0 and spans[-1][1] == 100_500  # flush completed the partial step 100
    assert all(a[1] == b[0] for a, b in zip(spans[:-1], spans[1:]))
    got = payload(out)["events.events"]
    assert got.shape[0] > 50
    offline = LIFPopulationStage(**params).network
    ref = offline.run(ev, 101_000)["lif"]
    np.testing.assert_array_equal(got, ref)
    # other chunkings give the same output
    _, chunks2 = _stream(np.random.default_rng(1), [0, 999, 1000, 1001, 50_000, 100_500])
    np.testing.assert_array_equal(payload(run_stage(LIFPopulationStage(**params), chunks2))["events.events"], got)


def test_save_load_resumes_identically(tmp_path):
    rng = np.random.default_rng(2)
    ev = make_events(np.sort(rng.integers(0, 100_000, 1500)), rng.integers(0, 10, 1500))
    first, second = ev[ev["t"] < 50_000], ev[ev["t"] >= 50_000]

    def build():
        net = Network(dt_us=100, seed=5)
        net.add(InputPopulation(10), input=True)
        net.add(LIFPopulation(20, name="h", tau_m_ms=np.linspace(10, 30, 20), refractory_ms=2.0, reset="soft"))
        net.add(LIFPopulation(3, name="o"), output=True)
        net.connect(fixed_probability("input", "h", 10, 20, 0.5, weight=0.5, delay=(0, 20), seed=1))
        net.connect(fixed_probability("h", "o", 20, 3, 0.7, weight=0.4, delay=4, seed=2))
        net.connect(lateral_inhibition("o", 3, weight=-0.3))
        return net

    whole = build()
    a = whole.run(first, 50_000)["o"]
    b = whole.run(second, 50_000)["o"]
    net = build()
    net.run(first, 50_000)
    net.save(tmp_path / "m.npz", include_state=True)
    loaded = Network.load(tmp_path / "m.npz")
    assert loaded.step == 500 and list(loaded.populations) == ["input", "h", "o"]
    np.testing.assert_array_equal(loaded.run(second, 50_000)["o"], b)
    assert a.shape[0] + b.shape[0] > 10
    # a model without state starts from rest and matches a fresh build
    build().save(tmp_path / "fresh.npz")
    np.testing.assert_array_equal(Network.load(tmp_path / "fresh.npz").run(first, 50_000)["o"], a)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(FormatError, match="bad.npz"):
        Network.load(tmp_path / "bad.npz")


def test_network_stage_from_saved_model(tmp_path):
    stage = NetworkStage.contract_example()
    spec = stage.params["spec"]
    net = Network.from_spec(spec)
    net.save(tmp_path / "net.npz")
    chunks = stage.inputs
    out_spec = payload(run_stage(NetworkStage(spec=spec), chunks))["events.events"]
    out_file = payload(run_stage(NetworkStage(model=str(tmp_path / "net.npz")), chunks))["events.events"]
    assert out_spec.shape[0] > 10
    np.testing.assert_array_equal(out_spec, out_file)
    with pytest.raises(ConfigError):
        NetworkStage().process(chunks[0])


def test_input_outside_geometry_is_rejected():
    stage = LIFPopulationStage(n_inputs=4)
    with pytest.raises(ChunkError, match="outside"):
        stage.process(EventChunk(t_start=0, t_end=100, events=make_events([5], [9])))


def test_monitors_are_bounded_and_plot(tmp_path):
    from network.monitors import plot_raster

    net = Network(dt_us=1000)
    net.add(InputPopulation(4), input=True)
    net.add(LIFPopulation(6, name="o", bias=1.5, tau_m_ms=5.0), output=True)
    spikes = net.monitor_spikes("o", max_spikes=50)
    volts = net.monitor_state("o", "v", neurons=[0, 2], every=3, max_rows=40)
    net.run(None, 1_000_000)
    assert spikes.steps.shape[0] == 50 and spikes.dropped > 0
    assert volts.values.shape == (40, 2) and np.all(np.diff(volts.steps) == 3) and volts.steps[-1] >= 990 - 3
    path = plot_raster([spikes], tmp_path / "r.png", 1000, voltage=volts)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_synaptic_work_counts_only_spiking_rows():
    net = Network(dt_us=100)
    net.add(InputPopulation(50), input=True)
    net.add(LIFPopulation(200, name="o", v_th=1e9))
    proj = net.connect(fixed_fanout("input", "o", 50, 200, 17, seed=2))
    assert np.all(np.diff(proj.indptr) == 17)
    assert all(np.unique(proj.indices[a:b]).size == 17 for a, b in zip(proj.indptr[:-1], proj.indptr[1:]))
    net.run(make_events([0, 100, 150, 900], [1, 2, 2, 3]), 1000)
    assert net.synaptic_events == 4 * 17


def test_conv2d_matches_direct_correlation():
    rng = np.random.default_rng(3)
    kernels = rng.normal(size=(2, 2, 3, 3))
    proj, out_shape = conv2d("in", "c", (2, 6, 7), kernels, stride=2, padding=1)
    assert out_shape == (2, 3, 4)
    dense = proj.to_dense(int(np.prod(out_shape)))
    x = rng.normal(size=(2, 6, 7))
    got = (x.ravel() @ dense).reshape(out_shape)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    want = np.zeros(out_shape)
    for o in range(2):
        for i in range(3):
            for j in range(4):
                want[o, i, j] = np.sum(padded[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * kernels[o])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_lateral_inhibition_groups():
    proj = lateral_inhibition("o", 6, weight=-2.0, groups=2)
    dense = proj.to_dense(6)
    want = -2.0 * (np.kron(np.eye(2), np.ones((3, 3))) - np.eye(6))
    np.testing.assert_array_equal(dense, want)
    assert proj.receptor == "inh"


def test_large_population_addresses_events_over_its_grid():
    pop = LIFPopulation(70_000, name="big", shape=(280, 250))
    assert output_grid(pop) == (250, 280)
    net = Network()
    net.add(pop, output=True)
    ev = net.spike_events("big", np.array([0, 1]), np.array([69_999, 251]))
    assert (int(ev["x"][0]), int(ev["y"][0])) == (249, 279) and (int(ev["x"][1]), int(ev["y"][1])) == (1, 1)


def test_reproducible_with_seed():
    a = fixed_probability("a", "b", 100, 100, 0.1, weight_std=0.2, delay=(1, 5), seed=9)
    b = fixed_probability("a", "b", 100, 100, 0.1, weight_std=0.2, delay=(1, 5), seed=9)
    c = fixed_probability("a", "b", 100, 100, 0.1, weight_std=0.2, delay=(1, 5), seed=10)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.weights, b.weights)
    assert not np.array_equal(a.indices, c.indices)
    assert 800 < a.n_synapses < 1200


def test_model_io_has_no_pickle(tmp_path):
    net = Network.from_spec(NetworkStage.contract_example().params["spec"])
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
    assert Path(tmp_path / "m.npz").stat().st_size > 0
