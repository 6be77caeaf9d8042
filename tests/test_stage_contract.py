"""Every registered stage passes the same contract (chunking invariance, flush, empty
chunk, wrong input -> ValueError); sources tile time and ignore their chunk size."""

import pytest

from pipeline.registry import registered_stages
from pipeline.stage import Source
from pipeline.testing import assert_same_payload, assert_tiles, check_stage, run_source

STAGES = registered_stages()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_contract(name):
    cls = STAGES[name]
    example = cls.contract_example()
    if issubclass(cls, Source):
        reference = run_source(cls(**example.params))
        assert reference, f"{name}: source produced no chunks"
        assert_tiles(reference, name)
        for variant in example.variants:
            out = run_source(cls(**variant))
            assert_tiles(out, f"{name} {variant}")
            assert_same_payload(reference, out, f"{name} {variant} vs {example.params}")
    else:
        assert example.inputs, f"{name}: contract example has no input"
        check_stage(lambda: cls(**example.params), example.inputs)


def test_registry_is_not_empty():
    assert len(STAGES) >= 1
