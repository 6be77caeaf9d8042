"""What a replay runs: the data set's splits and the pipeline graph of one shard.

A shard is a list of sample positions in a split listing; its pipeline is the ordinary
graph (the same dict a TOML file gives): replay source -> cochlea (audio) -> optional
LIF layer -> per-sample spike-count features. Every shard starts a fresh pipeline, and
shards are cut the same way whatever runs them, so results do not depend on the number
of workers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

DATASETS = ("fsdd", "speech_commands", "keywords", "shd", "ssc")
MODELS = ("counts", "lif")
READOUTS = ("logistic", "online")
TEST_SPLIT = {"fsdd": "test", "speech_commands": "test", "keywords": "test", "shd": "test", "ssc": "test"}


@dataclass
class ReplayConfig:
    """Everything that decides a replay's result (hashed to key resumable shard files).

    dataset/path: which data set and where (keywords: the cache folder it is generated
    into); model: "counts" (cochlear spikes counted per time bin and channel group) or
    "lif" (a random feed-forward LIF layer between cochlea and counts); channels: cochlea
    channels; threshold, agc_floor: cochlea unit threshold and AGC floor (a floor keeps
    the AGC from lifting background noise in pauses into spikes); bins, groups: feature time bins and
    channel groups (0 = per channel); normalize: counts per sample scaled to a fixed
    total; align: where the bins sit ("span", "activity", "quantile"); c: inverse regularisation of the logistic-regression readout;
    readout: "logistic" (batch multinomial logistic regression) or "online" (a softmax layer
    learned one sample at a time with the delta rule, network.readouts.OnlineSoftmaxReadout);
    hidden: LIF layer size; shard_size: samples per task; limit: first N samples of each
    split (0 = all); task/split_kind/test_speaker: data-set options; seed.
    """

    dataset: str
    path: str
    model: str = "counts"
    channels: int = 64
    threshold: float = 0.2
    agc_floor: float = 0.1
    bins: int = 4
    groups: int = 0
    normalize: bool = True
    align: str = "quantile"
    c: float = 0.1
    readout: str = "logistic"
    hidden: int = 256
    shard_size: int = 64
    limit: int = 0
    task: str = "words"
    split_kind: str = "standard"
    test_speaker: str = "theo"
    seed: int = 0
    chunk_us: int = 100_000
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.dataset not in DATASETS:
            raise ConfigError(f"replay: dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.model not in MODELS:
            raise ConfigError(f"replay: model must be one of {MODELS}, got {self.model!r}")
        if self.readout not in READOUTS:
            raise ConfigError(f"replay: readout must be one of {READOUTS}, got {self.readout!r}")
        for name in ("channels", "bins", "shard_size", "hidden", "chunk_us"):
            if int(getattr(self, name)) <= 0:
                raise ConfigError(f"replay: {name} must be > 0, got {getattr(self, name)!r}")

    def digest(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def hsd_file(folder: str | Path, dataset: str, split: str) -> Path:
    """shd_train.h5 (or .h5.gz) and friends in `folder`, or `folder` itself if a file."""
    folder = Path(folder)
    if folder.is_file():
        return folder
    for name in (f"{dataset}_{split}.h5", f"{dataset}_{split}.h5.gz"):
        if (folder / name).is_file():
            return folder / name
    raise ConfigError(f"replay: no {dataset}_{split}.h5 or {dataset}_{split}.h5.gz in {folder}")


def source_table(cfg: ReplayConfig, split: str, root: str) -> dict[str, Any]:
    """The source stage's table (type + parameters) for one split."""
    common = {"chunk_us": cfg.chunk_us, "seed": cfg.seed}
    if cfg.dataset == "fsdd":
        return {"type": "fsdd_replay", "root": root, "split": split, "split_kind": cfg.split_kind,
                "test_speaker": cfg.test_speaker, **common}
    if cfg.dataset in ("speech_commands", "keywords"):
        return {"type": "speech_commands_replay", "root": root, "split": split, "task": cfg.task, **common}
    return {"type": "shd_replay", "path": str(hsd_file(root, cfg.dataset, split)), **common}


def build_source(table: dict[str, Any]):
    from pipeline.registry import stage_class

    params = {k: v for k, v in table.items() if k != "type"}
    return stage_class(table["type"])(**params)


def shard_graph(cfg: ReplayConfig, split: str, root: str, indices: list[int], shard: int,
                speed: float = 0.0) -> dict[str, Any]:
    """The pipeline (as a TOML-shaped dict) that replays one shard of a split."""
    stages: dict[str, Any] = {"source": {**source_table(cfg, split, root), "indices": list(indices)}}
    if speed:
        stages["source"]["speed"] = float(speed)
    upstream = "source"
    if cfg.dataset not in ("shd", "ssc"):
        stages["cochlea"] = {"type": "cochlea", "input": "source", "preset": "live", "channels": cfg.channels,
                             "threshold": cfg.threshold, "agc_floor": cfg.agc_floor}
        upstream = "cochlea"
    if cfg.model == "lif":
        stages["hidden"] = {"type": "lif_population", "input": upstream, **lif_params(cfg)}
        upstream = "hidden"
    stages["features"] = {"type": "sample_features", "input": upstream, "bins": cfg.bins, "groups": cfg.groups,
                          "normalize": cfg.normalize, "align": cfg.align, "keep": True}
    return {"pipeline": {"name": f"replay-{cfg.dataset}-{split}-{shard:05d}"}, "stages": stages}


def lif_params(cfg: ReplayConfig) -> dict[str, Any]:
    """A random feed-forward LIF layer (network's lif_population stage) over the input channels."""
    n_inputs = cfg.channels if cfg.dataset not in ("shd", "ssc") else 700
    return {"n_inputs": n_inputs, "n_neurons": cfg.hidden, "seed": cfg.seed, "weight_scale": 40.0 / n_inputs, "tau_m_ms": 10.0,
            **cfg.extra.get("lif", {})}
