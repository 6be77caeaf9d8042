"""The `chip` stage runs an engine Network on the chip and agrees with deploy().infer."""

import numpy as np

from network.chips.deploy import deploy
from network.chips.model import SpikingModel
from network.chips.stage import ChipStage
from network.network import Network
from pipeline.testing import run_stage


def test_chip_stage_matches_direct_emulation_and_reports_energy():
    example = ChipStage.contract_example()
    stage = ChipStage(**example.params)
    out = run_stage(stage, example.inputs)
    events = np.concatenate([c.events for c in out])
    net = Network.from_spec(example.params["spec"])
    d = deploy(net, "loihi")
    # the same input through deploy().infer
    ev = np.concatenate([c.events for c in example.inputs])
    steps, neurons = net.input_spikes(ev, 0)
    raster = np.zeros((40, d.q.first), np.int64)
    np.add.at(raster, (steps, neurons), 1)
    inf = d.infer(raster)
    assert events.shape[0] == int(inf.output_counts.sum()) > 0
    assert np.array_equal(np.bincount(events["x"], minlength=4), inf.output_counts)
    res = stage.result()
    assert res["report"]["counts"]["sops"] == inf.counts.sops
    assert res["energy_j"] > res["report"]["dynamic_j"] > 0


def test_from_network_puts_inputs_first_and_outputs_last():
    spec = ChipStage.contract_example().params["spec"]
    model = SpikingModel.from_network(Network.from_spec(spec))
    assert [x.name for x in model.layers] == ["in", "hidden", "out"]
    assert model.output == "out" and model.layers[0].is_input
