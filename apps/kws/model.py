"""The keyword-spotting model: cochlea -> spiking LIF layer -> word endpointing -> readout,
saved as model.npz (arrays) + model.json (configuration), never pickled.

The spiking layer is a fixed tonotopic projection of the cochlear channels onto LIF
neurons (each neuron listens to a few neighbouring channels with excitation and to a few
random ones with inhibition), so its spikes code spectro-temporal patterns. An energy
endpointer cuts the stream into words; each word's spikes, pooled in `bins` time bins
that split the word's own span (so a word spoken fast or slow fills the same bins), go to
the trained readout: a perceptron with one hidden ReLU layer (or, with `hidden` = 0,
multinomial logistic regression) over log spike rates.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError, FormatError

NONE = "_none_"  # the readout's class for noise, clicks and fragments of words
FORMAT_VERSION = 2
ARRAYS = ("w_in", "threshold", "mean", "scale", "w_hidden", "b_hidden", "w_out", "b_out")


@dataclass
class KwsConfig:
    """Everything that fixes the chain's computation (times in ms, levels in dB)."""

    sample_rate_hz: int = 16000
    # 64 channels up to 7.5 kHz: the frication of /f/ and /s/ (off, stop, yes) lies above 4 kHz
    cochlea: dict[str, Any] = field(default_factory=lambda: {"preset": "live", "channels": 64, "f_hi_hz": 7500.0})
    neurons: int = 192
    fan_in_exc: int = 6
    fan_in_spread: int = 3  # excitatory inputs come from channels within this many of the neuron's centre
    fan_in_inh: int = 4
    tau_syn_ms: float = 5.0
    tau_mem_ms: float = 10.0
    dt_ms: int = 1
    hop_ms: int = 10  # endpointing and decisions fall on hops of this length
    bins: int = 8  # time bins over each word's span
    pad_ms: int = 20  # spikes this long before the word's first and after its last loud hop count too
    level_hp_hz: float = 150.0  # the endpointer's level meter ignores what lies below this
    speech_db: float = 12.0  # a hop this far above the noise floor is speech
    hangover_ms: int = 80  # a word ends after this long without a loud hop (bridges stop closures)
    min_word_ms: int = 80  # shorter loud stretches are clicks
    max_word_ms: int = 1500  # longer ones are not a single word
    floor_rise_ms: float = 8000.0  # noise floor time constants: slow to rise (speech must not lift it) ...
    floor_fall_ms: float = 100.0  # ... quick to fall
    hidden: int = 128  # readout hidden units (0: logistic regression)
    threshold: float = 0.5  # detection: the top keyword's probability must reach this
    seed: int = 0

    @property
    def hop_steps(self) -> int:
        return self.hop_ms // self.dt_ms

    @property
    def features(self) -> int:
        """Readout inputs: log rates per (bin, neuron), then the word's log duration."""
        return self.bins * self.neurons + 1

    def hops(self, ms: float) -> int:
        return int(round(ms / self.hop_ms))

    def check(self) -> None:
        if self.hop_ms % self.dt_ms or self.hop_ms <= 0:
            raise ConfigError(f"kws: dt_ms {self.dt_ms} must divide hop_ms {self.hop_ms}")
        if self.bins < 1 or self.neurons < 1 or self.hidden < 0:
            raise ConfigError(f"kws: bins {self.bins}, neurons {self.neurons} must be >= 1 and hidden "
                              f"{self.hidden} >= 0")
        if not 0 < self.min_word_ms < self.max_word_ms:
            raise ConfigError(f"kws: need 0 < min_word_ms {self.min_word_ms} < max_word_ms {self.max_word_ms}")


@dataclass
class KwsModel:
    """A configuration, the spiking layer's weights and the trained readout.

    classes[0] is NONE; `keywords` are the classes a detection may name, the other classes
    (unknown words the readout learnt apart) count as "no keyword"."""

    config: KwsConfig
    classes: list[str]
    keywords: list[str]
    w_in: np.ndarray  # [cochlea channels, neurons]
    threshold: np.ndarray  # [neurons]
    mean: np.ndarray  # [features] standardisation
    scale: np.ndarray
    w_hidden: np.ndarray  # [features, hidden] ([features, 0] without a hidden layer)
    b_hidden: np.ndarray  # [hidden]
    w_out: np.ndarray  # [hidden or features, classes]
    b_out: np.ndarray  # [classes]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def keyword_index(self) -> np.ndarray:
        return np.array([self.classes.index(k) for k in self.keywords], np.int64)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities [rows, classes] of feature rows [rows, features]."""
        z = (features - self.mean) / self.scale
        if self.w_hidden.shape[1]:
            z = np.maximum(z @ self.w_hidden + self.b_hidden, 0.0)
        z = z @ self.w_out + self.b_out
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "model.npz", **{k: getattr(self, k) for k in ARRAYS})
        meta = {"format_version": FORMAT_VERSION, "kind": "spikestream-kws", "config": asdict(self.config),
                "classes": self.classes, "keywords": self.keywords, "info": self.info}
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
                              f"'spikestream-kws'/{FORMAT_VERSION}; retrain with `spikestream kws train`")
        try:
            config = KwsConfig(**meta["config"])
        except TypeError as exc:
            raise FormatError(f"kws model: {json_path}: field 'config': {exc}") from None
        with np.load(npz_path, allow_pickle=False) as z:
            missing = [k for k in ARRAYS if k not in z.files]
            if missing:
                raise FormatError(f"kws model: {npz_path} lacks the arrays {missing}")
            arrays = {k: z[k] for k in ARRAYS}
        model = cls(config=config, classes=list(meta["classes"]), keywords=list(meta.get("keywords", [])),
                    info=meta.get("info", {}), **arrays)
        model._check(npz_path)
        return model

    def _check(self, where: Path) -> None:
        cfg = self.config
        hidden = self.w_hidden.shape[1] if self.w_hidden.ndim == 2 else -1
        inputs = hidden if hidden > 0 else cfg.features
        expected = {"w_in": (self.w_in.shape[0], cfg.neurons), "threshold": (cfg.neurons,),
                    "mean": (cfg.features,), "scale": (cfg.features,), "w_hidden": (cfg.features, hidden),
                    "b_hidden": (max(hidden, 0),), "w_out": (inputs, len(self.classes)),
                    "b_out": (len(self.classes),)}
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise FormatError(f"kws model: {where}: field {name!r} has shape {getattr(self, name).shape}, "
                                  f"expected {shape} for the configuration in model.json")
        unknown = [k for k in self.keywords if k not in self.classes]
        if not self.classes or self.classes[0] != NONE or unknown:
            raise FormatError(f"kws model: {where}: classes must start with {NONE!r} and hold every keyword "
                              f"(missing: {unknown})")


def spiking_weights(config: KwsConfig, channels: int) -> np.ndarray:
    """Tonotopic excitatory fan-in plus random inhibitory fan-in, unit-scale weights
    [channels, neurons]."""
    rng = np.random.default_rng([config.seed, 7])
    w = np.zeros((channels, config.neurons), np.float64)
    centres = rng.integers(0, channels, config.neurons)
    spread = config.fan_in_spread
    for j, c in enumerate(centres.tolist()):
        exc = np.clip(c + rng.integers(-spread, spread + 1, config.fan_in_exc), 0, channels - 1)
        np.add.at(w[:, j], exc, rng.uniform(0.5, 1.0, config.fan_in_exc))
        inh = rng.choice(channels, config.fan_in_inh, replace=False)
        w[inh, j] -= rng.uniform(0.3, 0.8, config.fan_in_inh)
    return w
