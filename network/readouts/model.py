"""Readout pipelines and their saved form.

`make_readout(feature, ...)` builds the usual readout: a spike-feature transformer, a
StandardScaler and a linear classifier (LogisticRegression unless given), a scikit-learn
Pipeline that fits on per-sample event arrays (see features.py for X).

`ReadoutModel.from_estimator(fitted)` reduces a fitted readout to plain arrays + a JSON
spec (feature, standardisation, coefficients, classes) that scores features without
scikit-learn; `save(path)` writes one .npz (arrays + the JSON as a string array) that
`load_readout` reads back with allow_pickle=False. The readout stages run these models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from network.readouts.features import FEATURE_NAMES, FEATURE_TYPES, feature_from_spec
from network.readouts.label_assignment import LabelAssignmentReadout, class_scores, softmax
from network.readouts.max_membrane import MaxMembraneReadout
from pipeline.errors import ConfigError, FormatError

FORMAT = "spikestream-readout"
KINDS = ("linear", "assignment", "max_membrane")


def make_readout(feature: str = "counts", classifier: Any = None, **feature_params: Any) -> Pipeline:
    """Pipeline(features -> StandardScaler -> classifier) on per-sample event arrays.

    feature: "counts", "first_spike" or "traces" (parameters of SpikeCounts,
    FirstSpikeTimes, FilteredTraces as keywords); classifier: any scikit-learn classifier
    (default LogisticRegression(max_iter=2000)).
    """
    if feature not in FEATURE_TYPES:
        raise ConfigError(f"make_readout: feature must be one of {sorted(FEATURE_TYPES)}, got {feature!r}")
    clf = LogisticRegression(max_iter=2000) if classifier is None else classifier
    return Pipeline([("features", FEATURE_TYPES[feature](**feature_params)), ("scale", StandardScaler()),
                     ("classifier", clf)])


@dataclass
class ReadoutModel:
    """A fitted readout as arrays: scores = f(standardised features), probabilities by softmax."""

    kind: str
    feature: dict[str, Any]
    classes: list
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    temperature: float = 1.0
    n_bins: int = 1

    @classmethod
    def from_estimator(cls, estimator: Any, feature: dict[str, Any] | None = None) -> ReadoutModel:
        """From a fitted Pipeline([features, (StandardScaler), classifier]) or a bare classifier
        (then `feature` gives the feature spec, e.g. {"type": "counts", "n_neurons": 100})."""
        steps = list(estimator.named_steps.values()) if isinstance(estimator, Pipeline) else [estimator]
        if type(steps[0]) in FEATURE_NAMES:
            feature = steps.pop(0).spec()
        if feature is None:
            raise ConfigError("ReadoutModel: the estimator has no feature step; pass feature={'type': ...}")
        arrays: dict[str, np.ndarray] = {}
        if len(steps) == 2 and isinstance(steps[0], StandardScaler):
            scaler = steps.pop(0)
            arrays["mean"] = np.asarray(scaler.mean_, np.float64) if scaler.with_mean else None
            arrays["scale"] = np.asarray(scaler.scale_, np.float64) if scaler.with_std else None
            arrays = {k: v for k, v in arrays.items() if v is not None}
        if len(steps) != 1:
            raise ConfigError(f"ReadoutModel: expected [features, (StandardScaler), classifier], got {steps}")
        clf = steps[0]
        classes = np.asarray(clf.classes_).tolist()
        if isinstance(clf, LabelAssignmentReadout):
            arrays["assignments"] = clf.assignments_.astype(np.int64)
            return cls("assignment", feature, classes, arrays, temperature=float(clf.temperature))
        if isinstance(clf, MaxMembraneReadout):
            arrays.update(mean2=clf.mean_, scale2=clf.scale_, coef=clf.coef_, intercept=clf.intercept_)
            return cls("max_membrane", feature, classes, arrays, n_bins=int(clf.n_bins))
        if not hasattr(clf, "coef_"):
            raise ConfigError(f"ReadoutModel: {type(clf).__name__} is not linear (no coef_)")
        coef = np.asarray(clf.coef_, np.float64).reshape(-1, np.asarray(clf.coef_).shape[-1])
        intercept = np.broadcast_to(np.asarray(clf.intercept_, np.float64), (coef.shape[0],)).copy()
        if coef.shape[0] == 1 and len(classes) == 2:  # binary: one score for classes[1]
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.array([0.0, intercept[0]])
        arrays.update(coef=coef, intercept=intercept)
        return cls("linear", feature, classes, arrays)

    def features(self, samples: list[np.ndarray]) -> np.ndarray:
        return feature_from_spec(self.feature).transform(samples)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Class scores [n, n_classes] from raw features [n, n_features]."""
        z = np.asarray(features, np.float64)
        if "mean" in self.arrays:
            z = z - self.arrays["mean"]
        if "scale" in self.arrays:
            z = z / self.arrays["scale"]
        if self.kind == "assignment":
            return class_scores(z, self.arrays["assignments"], len(self.classes)) / self.temperature
        if self.kind == "max_membrane":
            z = ((z - self.arrays["mean2"]) / self.arrays["scale2"]).reshape(z.shape[0], self.n_bins, -1)
            return (z @ self.arrays["coef"].T + self.arrays["intercept"]).max(axis=1)
        return z @ self.arrays["coef"].T + self.arrays["intercept"]

    def predict_proba(self, samples: list[np.ndarray]) -> np.ndarray:
        return softmax(self.scores(self.features(samples)))

    def predict(self, samples: list[np.ndarray]) -> np.ndarray:
        return np.asarray(self.classes)[np.argmax(self.scores(self.features(samples)), axis=1)]

    def to_spec(self) -> dict[str, Any]:
        """JSON-able dict (arrays as lists): what a pipeline TOML can hold inline as `model`."""
        return {"format": FORMAT, "version": 1, "kind": self.kind, "feature": self.feature, "classes": self.classes,
                "temperature": self.temperature, "n_bins": self.n_bins,
                "arrays": {k: v.tolist() for k, v in self.arrays.items()}}

    @classmethod
    def from_spec(cls, spec: dict[str, Any], where: str = "readout model") -> ReadoutModel:
        if spec.get("format") != FORMAT or spec.get("kind") not in KINDS:
            raise FormatError(f"{where}: not a {FORMAT} spec (format {spec.get('format')!r}, kind {spec.get('kind')!r})")
        arrays = {k: np.asarray(v, np.int64 if k == "assignments" else np.float64)
                  for k, v in spec.get("arrays", {}).items()}
        model = cls(spec["kind"], dict(spec["feature"]), list(spec["classes"]), arrays,
                    float(spec.get("temperature", 1.0)), int(spec.get("n_bins", 1)))
        feature_from_spec(model.feature)  # validates
        return model

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        meta = {k: v for k, v in self.to_spec().items() if k != "arrays"}
        np.savez(path, __spec__=np.array(json.dumps(meta)), **self.arrays)
        return path if path.suffix == ".npz" else path.with_suffix(path.suffix + ".npz")


def load_readout(source: str | Path | dict[str, Any]) -> ReadoutModel:
    """A ReadoutModel from a saved .npz path or an inline spec dict (never unpickles)."""
    if isinstance(source, dict):
        return ReadoutModel.from_spec(source)
    path = Path(source)
    try:
        with np.load(path, allow_pickle=False) as data:
            spec = json.loads(str(data["__spec__"]))
            spec["arrays"] = {k: data[k] for k in data.files if k != "__spec__"}
    except (OSError, KeyError, ValueError) as exc:
        raise FormatError(f"readout model {path}: cannot read ({exc})") from exc
    return ReadoutModel.from_spec(spec, where=f"readout model {path}")
