"""benchmarks/decoders.py on small files: every format's writer, our reader and each
installed peer agree on the event count; a format whose reader module is missing is
skipped with a note; a peer that disagrees fails the run; the memory probe reports."""

from __future__ import annotations

import pytest

from benchmarks import _decoder_cases, decoders

FORMATS = {"evt3", "evt2", "dat", "aedat4", "aedat2", "aedat31", "nmnist_bin", "npy", "hdf5"}


def test_every_format_and_peer_agree_on_small_files(capsys):
    result = decoders.run(20_000, repeat=1, memory=False)
    rows = {r["format"]: r for r in result["rows"]}
    assert set(rows) | set(result["skipped"]) == FORMATS
    for fmt, row in rows.items():
        assert row["counts_match"], (fmt, row["counts"])
        assert row["events"] == 20_000 and row["mev_per_s"]["ours (stream)"] > 0
        assert set(row["counts"]) >= {"ours (stream)", "ours (read_all)"}
    pytest.importorskip("expelliarmus")
    pytest.importorskip("dv_processing")
    assert {"expelliarmus"} <= set(rows["evt3"]["counts"]) and rows["evt3"]["target"] == 1.5
    assert "dv-processing" in rows["aedat4"]["counts"] and rows["aedat4"]["written_by"].startswith("dv-processing")
    assert rows["aedat31"]["fastest_peer"] is None and rows["aedat31"]["ratio"] is None
    decoders.print_report(result)
    assert "fastest peer" in capsys.readouterr().out


def test_a_missing_reader_module_is_skipped_with_a_note(monkeypatch, capsys):
    real = _decoder_cases._module
    monkeypatch.setattr(_decoder_cases, "_module",
                        lambda name: None if name == "sources.formats.evt2" else real(name))
    result = decoders.run(5_000, repeat=1, only={"evt2", "npy"}, memory=False)
    assert [r["format"] for r in result["rows"]] == ["npy"]
    assert "sources.formats.evt2 is not importable" in result["skipped"]["evt2"]
    decoders.print_report(result)
    assert "evt2       skipped: sources.formats.evt2 is not importable yet" in capsys.readouterr().out


def test_a_peer_with_another_count_fails_the_run(monkeypatch, capsys):
    real = _decoder_cases.cases

    def with_bad_peer():
        out = real()
        for case in out:
            if case.name == "npy":
                case.peers["off by one"] = lambda path: _decoder_cases._numpy_load(path) - 1
        return out

    monkeypatch.setattr(decoders, "cases", with_bad_peer)
    assert decoders.main(["--events", "3000", "--repeat", "1", "--formats", "npy"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_memory_probe_stays_within_a_few_chunks(tmp_path):
    path = str(tmp_path / "probe.aedat4")
    _decoder_cases._writer("aedat4", "write_aedat4", _decoder_cases.DAVIS)(path, 400_000, 1)
    m = decoders.memory_probe(path, 400_000)
    assert m["chunk_mb"] == pytest.approx(40_000 * 13 / 1e6)
    assert 0 < m["heap_mb"] < 4 * m["chunk_mb"] + 2 and decoders._flat(m)
