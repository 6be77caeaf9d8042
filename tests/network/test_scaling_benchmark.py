"""The scaling benchmark's summary figures: the growth exponent it prints, and one small
real run whose rows hold what the table reports."""

from __future__ import annotations

import pytest

from benchmarks.scaling import _growth_exponent, run_ours


@pytest.mark.parametrize("power", [0.8, 1.0, 1.5])
def test_growth_exponent_recovers_a_power_law(power):
    rows = [{"neurons": n, "wall_s_per_sim_s": 2e-6 * n**power} for n in (1_000, 3_000, 10_000, 100_000)]
    assert _growth_exponent(rows) == pytest.approx(power, abs=1e-9)
    assert _growth_exponent(rows[:1]) is None


def test_small_run_reports_synapses_rate_and_memory():
    row = run_ours(1_000, 50.0)
    assert row["synapses"] == 100 * 1_000  # fixed fan-out 100
    assert 5.0 < row["rate_hz"] < 30.0  # bias-driven at ~10-20 Hz
    assert row["synaptic_events_per_sim_s"] > 0
    # int32 index + float64 weight + int16 delay per synapse, plus the row pointers
    assert 14.0 <= row["stored_bytes_per_synapse"] < 20.0
