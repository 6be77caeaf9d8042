"""`spikestream deploy MODEL --chip all --json --png` on a saved engine network."""

import json
from pathlib import Path

import pytest

from network.chips.stage import ChipStage
from network.network import Network
from pipeline.cli import main


def test_deploy_all_json_and_png(tmp_path, capsys):
    net = Network.from_spec(ChipStage.contract_example().params["spec"])
    net.save(tmp_path / "m.npz")
    rc = main(["deploy", str(tmp_path / "m.npz"), "--chip", "all", "--steps", "40", "--json",
               "--png", str(tmp_path / "e.png")])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["chip"]: r for r in out["chips"]}
    assert len(rows) == 10
    assert not rows["xylo"]["fits"] and "input channels is 32, the chip allows 16" in rows["xylo"]["error"]
    lo = rows["loihi"]
    assert lo["fits"] and abs(lo["energy_j"] - sum(lo["breakdown_j"].values())) < 1e-18
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_deploy_accuracy_command_json(capsys):
    if not (Path(__file__).resolve().parents[2].parent / "shared/data/fsdd/recordings").is_dir():
        pytest.skip("FSDD recordings not present")
    assert main(["deploy", "--accuracy", "--chip", "loihi", "--per-class", "12", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["results"]) == {"float", "loihi"}
    assert 0.0 <= out["results"]["loihi"]["accuracy"] <= 1.0
