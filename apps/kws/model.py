"""The keyword-spotting model: cochlea -> spiking LIF layer -> linear readout over a sliding
window, saved as model.npz (arrays) + model.json (configuration), never pickled.

The spiking layer is a fixed tonotopic projection of the cochlear channels onto LIF
neurons (each neuron listens to a few neighbouring channels with excitation and to a few
random ones with inhibition), so its spikes code spectro-temporal patterns; only the
readout (multinomial logistic regression on log spike counts in `bins` time bins of the
last `window_ms`) is trained.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError, FormatError

NONE = "_none_"  # the readout's class for silence, noise and unknown words
FORMAT_VERSION = 1


@dataclass
class KwsConfig:
    """Everything that fixes the chain's computation (all times in ms)."""

    sample_rate_hz: int = 16000
    cochlea: dict[str, Any] = field(default_factory=lambda: {"preset": "live", "channels": 64})
    neurons: int = 192
    fan_in_exc: int = 6
    fan_in_inh: int = 4
    tau_syn_ms: float = 5.0
    tau_mem_ms: float = 10.0
    dt_ms: int = 1
    hop_ms: int = 20
    bin_ms: int = 100
    window_ms: int = 800
    threshold: float = 0.6  # detection: keyword probability above this ...
    release: float = 0.35  # ... and no new detection until every keyword is below this
    min_gap_ms: int = 400  # and at least this long after the previous one
    seed: int = 0

    @property
    def hops_per_bin(self) -> int:
        return self.bin_ms // self.hop_ms

    @property
    def bins(self) -> int:
        return self.window_ms // self.bin_ms

    def check(self) -> None:
        if self.bin_ms % self.hop_ms or self.window_ms % self.bin_ms or self.hop_ms % self.dt_ms:
            raise ConfigError(f"kws: hop_ms {self.hop_ms} must divide bin_ms {self.bin_ms}, which must divide "
                              f"window_ms {self.window_ms}; dt_ms {self.dt_ms} must divide hop_ms")


@dataclass
class KwsModel:
    """A configuration, the spiking layer's weights and the trained readout."""

    config: KwsConfig
    classes: list[str]  # classes[0] == NONE
    w_in: np.ndarray  # [cochlea channels, neurons]
    threshold: np.ndarray  # [neurons]
    mean: np.ndarray  # feature standardisation
    scale: np.ndarray
    coef: np.ndarray  # [classes, features]
    intercept: np.ndarray  # [classes]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def keywords(self) -> list[str]:
        return self.classes[1:]

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "model.npz", w_in=self.w_in, threshold=self.threshold, mean=self.mean, scale=self.scale,
                 coef=self.coef, intercept=self.intercept)
        meta = {"format_version": FORMAT_VERSION, "kind": "spikestream-kws", "config": asdict(self.config),
                "classes": self.classes, "info": self.info}
        (folder / "model.json").write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> KwsModel:
        folder = Path(folder)
        json_path, npz_path = folder / "model.json", folder / "model.npz"
        if not json_path.is_file() or not npz_path.is_file():
            raise FormatError(f"kws model: {folder} lacks model.json/model.npz; train one with "
                              f"`spikestream kws train --default`")
        try:
            meta = json.loads(json_path.read_text())
        except json.JSONDecodeError as exc:
            raise FormatError(f"kws model: {json_path} is not JSON ({exc})") from None
        if meta.get("kind") != "spikestream-kws" or meta.get("format_version") != FORMAT_VERSION:
            raise FormatError(f"kws model: {json_path}: field 'kind'/'format_version' is "
                              f"{meta.get('kind')!r}/{meta.get('format_version')!r}, expected "
                              f"'spikestream-kws'/{FORMAT_VERSION}")
        config = KwsConfig(**meta["config"])
        with np.load(npz_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("w_in", "threshold", "mean", "scale", "coef", "intercept")}
        model = cls(config=config, classes=list(meta["classes"]), info=meta.get("info", {}), **arrays)
        n_features = config.bins * config.neurons
        if model.coef.shape != (len(model.classes), n_features) or model.w_in.shape[1] != config.neurons:
            raise FormatError(f"kws model: {npz_path}: field 'coef' has shape {model.coef.shape}, expected "
                              f"({len(model.classes)}, {n_features}) for the configuration in model.json")
        return model


def spiking_weights(config: KwsConfig, channels: int) -> np.ndarray:
    """Tonotopic excitatory fan-in plus random inhibitory fan-in, unit-scale weights."""
    rng = np.random.default_rng([config.seed, 7])
    w = np.zeros((channels, config.neurons), np.float64)
    centres = rng.integers(0, channels, config.neurons)
    for j, c in enumerate(centres.tolist()):
        exc = np.clip(c + rng.integers(-3, 4, config.fan_in_exc), 0, channels - 1)
        np.add.at(w[:, j], exc, rng.uniform(0.5, 1.0, config.fan_in_exc))
        inh = rng.choice(channels, config.fan_in_inh, replace=False)
        w[inh, j] -= rng.uniform(0.3, 0.8, config.fan_in_inh)
    return w
