"""Mapping: populations split over cores within every limit, or a MappingError naming the limit
and the excess; every profile is sourced."""

import dataclasses

import numpy as np
import pytest

from network.chips.deploy import deploy
from network.chips.mapping import MappingError
from network.chips.model import SpikingModel
from network.chips.profile import Figure
from network.chips.registry import PROFILES, get_profile


def _model(sizes, delays=0, density=1.0, seed=0):
    rng = np.random.default_rng(seed)
    ws = [rng.normal(0.3, 0.5, (a, b)) * (rng.random((a, b)) < density) for a, b in zip(sizes[:-1], sizes[1:])]
    return SpikingModel.from_layers(list(sizes), ws, delays=delays)


def _with(chip, **limits):
    p = get_profile(chip)
    return dataclasses.replace(p, limits={**p.limits, **{k: Figure(v, "", "test") for k, v in limits.items()}})


def test_partitioning_respects_neurons_synapses_and_axons():
    m = _model([300, 2500, 10])
    d = deploy(m, "loihi")
    cores = d.mapping.cores_per_layer
    assert cores["layer1"] == 12  # 2500 neurons x 300 inputs: 65536 synapses per core -> 218 per core
    assert d.mapping.core_synapses.max() <= 65536 and d.mapping.core_neurons.max() <= 1024
    assert cores["layer2"] == 1


@pytest.mark.parametrize("chip, limits, sizes, message", [
    ("loihi", {"neurons_per_core": 4, "cores_per_chip": 2, "max_chips": 1}, [3, 10, 2],
     "number of chips needed (4 cores at 2 per chip) is 2, the chip allows 1 (exceeded by 1"),
    ("loihi", {"synapses_per_core": 40}, [50, 4, 2], "synapses per core for one neuron (0 of 'layer1') is 50, "
                                                     "the chip allows 40 (exceeded by 10"),
    ("truenorth", {}, [300, 10, 2], "fan-in of neuron 0 of 'layer1' is 300, the chip allows 256 (exceeded by 44"),
    ("loihi", {"input_axons_per_core": 10}, [30, 4, 2], "input axons per core for one neuron (0 of 'layer1') is 30, "
                                                        "the chip allows 10 (exceeded by 20"),
    ("xylo", {}, [10, 70, 2], "fan-in of neuron 0 of 'layer2' is 70, the chip allows 63 (exceeded by 7"),
    ("loihi", {"fan_out_per_neuron": 5}, [3, 6, 2], "fan-out of neuron 0 of 'input' is 6, the chip allows 5 (exceeded by 1"),
    ("xylo", {}, [20, 10, 2], "number of input channels is 20, the chip allows 16 (exceeded by 4"),
    ("xylo", {}, [10, 10, 9], "number of output neurons ('layer2' on) is 9, the chip allows 8 (exceeded by 1"),
    ("dynapse", {}, [100, 10, 2], "fan-in of neuron 0 of 'layer1' is 100, the chip allows 64 (exceeded by 36"),
    ("loihi", {"output_axons_per_core": 3}, [3, 4, 2, 2], "output axons"),
])
def test_mapping_errors_name_the_limit(chip, limits, sizes, message):
    with pytest.raises(MappingError) as err:
        deploy(_model(sizes), _with(chip, **limits))
    assert message in str(err.value)


def test_delay_limit():
    with pytest.raises(MappingError, match="longest synaptic delay .* is 20, the chip allows 15"):
        deploy(_model([5, 5, 2], delays=20), "truenorth")
    with pytest.raises(MappingError, match="is 1, the chip allows 0"):
        deploy(_model([5, 5, 2], delays=1), "xylo")


def test_xylo_neuron_limit():
    with pytest.raises(MappingError, match="number of chips needed .* is 2, the chip allows 1"):
        deploy(_model([16, 1001, 4], density=0.02), "xylo")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_figure_has_a_source(name):
    p = get_profile(name)
    for group in ("limits", "formats", "energy", "timing"):
        for key, fig in getattr(p, group).items():
            assert fig.source, f"{name}.{group}.{key} has no source"
            if fig.estimate:
                assert fig.note, f"{name}.{group}.{key} is an estimate without reasoning"
    if p.mode != "ann":
        assert {"sop", "static_w"} <= set(p.energy)
