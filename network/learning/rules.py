"""Learning-rule configurations: parameters in, the kernel's (rule_id, params array) out.

A rule object only holds parameters (stored verbatim, JSON-able through to_dict/from_dict);
`kernel_params()` packs them into the float64 layout the rule's Numba kernel reads (see
_common.py for the shared header and each _<rule>.py for the rest). The engine keeps
`rule.rule_id` and `rule.kernel_params()` on a plastic projection and calls
`apply_plasticity` with them once per step; setting `learning=False` (or calling
`kernel_params(learning=False)`) keeps traces running but changes no weight.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from network.learning import _bcm, _resume, _rstdp, _stdp, _triplet
from network.learning._common import H_LR, H_NORM, H_W_MAX, H_W_MIN, HEADER
from network.learning._kernels import (
    RULE_BCM,
    RULE_NORMALIZE,
    RULE_RESUME,
    RULE_RSTDP,
    RULE_STDP,
    RULE_TRIPLET,
)
from pipeline.errors import ConfigError


@dataclass
class Rule:
    """Common fields: weight bounds, homeostatic normalisation target, learning switch."""

    rule_id: ClassVar[int] = 0
    name: ClassVar[str] = ""
    n_params: ClassVar[int] = HEADER
    #: (field, kernel index) pairs for the rule-specific part of the params array
    layout: ClassVar[tuple[tuple[str, int], ...]] = ()

    w_min: float = 0.0
    w_max: float = 1.0
    normalize_to: float = 0.0
    learning: bool = True

    def check(self) -> None:
        where = f"{self.name} rule"
        if not self.w_max >= self.w_min:
            raise ConfigError(f"{where}: w_max ({self.w_max}) must be >= w_min ({self.w_min})")
        if self.normalize_to < 0:
            raise ConfigError(f"{where}: normalize_to must be >= 0 (0 = off), got {self.normalize_to}")
        for f in dataclasses.fields(self):
            if f.name.endswith("_ms") and not float(getattr(self, f.name)) > 0:
                raise ConfigError(f"{where}: {f.name} must be > 0 ms, got {getattr(self, f.name)!r}")

    def kernel_params(self, learning: bool | None = None) -> np.ndarray:
        """The float64 params array for apply_plasticity (validated)."""
        self.check()
        on = self.learning if learning is None else learning
        params = np.zeros(self.n_params, np.float64)
        params[H_W_MIN] = self.w_min
        params[H_W_MAX] = self.w_max
        params[H_NORM] = self.normalize_to
        params[H_LR] = 1.0 if on else 0.0
        for field_name, index in self.layout:
            params[index] = float(getattr(self, field_name))
        return params

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.name, **dataclasses.asdict(self)}


@dataclass
class STDP(Rule):
    """Pair STDP: a_plus*exp(-Δt/tau_plus) for Δt = t_post - t_pre >= 0, -a_minus*exp(Δt/tau_minus)
    below; mu = 0 additive (hard bounds) .. 1 multiplicative (soft bounds); nearest-spike or
    all-to-all pairing."""

    rule_id: ClassVar[int] = RULE_STDP
    name: ClassVar[str] = "stdp"
    n_params: ClassVar[int] = _stdp.N_PARAMS
    layout: ClassVar = (("a_plus", _stdp.A_PLUS), ("a_minus", _stdp.A_MINUS), ("tau_plus_ms", _stdp.TAU_PLUS),
                        ("tau_minus_ms", _stdp.TAU_MINUS), ("mu", _stdp.MU), ("nearest", _stdp.NEAREST))
    a_plus: float = 0.01
    a_minus: float = 0.0105
    tau_plus_ms: float = 20.0
    tau_minus_ms: float = 20.0
    mu: float = 0.0
    nearest: bool = False


@dataclass
class TripletSTDP(Rule):
    """Triplet STDP, Pfister & Gerstner 2006; defaults: visual cortex, all-to-all minimal model
    (their Table 4: A2+ = 5e-10, A3+ = 6.2e-3, A2- = 7e-3, A3- = 2.3e-4, tau_x = 101 ms, tau_y = 125 ms)."""

    rule_id: ClassVar[int] = RULE_TRIPLET
    name: ClassVar[str] = "triplet"
    n_params: ClassVar[int] = _triplet.N_PARAMS
    layout: ClassVar = (("a2_plus", _triplet.A2_PLUS), ("a3_plus", _triplet.A3_PLUS),
                        ("a2_minus", _triplet.A2_MINUS), ("a3_minus", _triplet.A3_MINUS),
                        ("tau_plus_ms", _triplet.TAU_PLUS), ("tau_minus_ms", _triplet.TAU_MINUS),
                        ("tau_x_ms", _triplet.TAU_X), ("tau_y_ms", _triplet.TAU_Y), ("nearest", _triplet.NEAREST))
    a2_plus: float = 5e-10
    a3_plus: float = 6.2e-3
    a2_minus: float = 7e-3
    a3_minus: float = 2.3e-4
    tau_plus_ms: float = 16.8
    tau_minus_ms: float = 33.7
    tau_x_ms: float = 101.0
    tau_y_ms: float = 125.0
    nearest: bool = False


@dataclass
class RewardSTDP(Rule):
    """R-STDP: pair STDP into a per-synapse eligibility trace, weights move by
    learning_rate * reward * eligibility (the engine passes the reward as the modulator)."""

    rule_id: ClassVar[int] = RULE_RSTDP
    name: ClassVar[str] = "rstdp"
    n_params: ClassVar[int] = _rstdp.N_PARAMS
    layout: ClassVar = (("a_plus", _rstdp.A_PLUS), ("a_minus", _rstdp.A_MINUS), ("tau_plus_ms", _rstdp.TAU_PLUS),
                        ("tau_minus_ms", _rstdp.TAU_MINUS), ("tau_eligibility_ms", _rstdp.TAU_ELIGIBILITY),
                        ("learning_rate", _rstdp.LEARNING_RATE))
    a_plus: float = 1.0
    a_minus: float = 1.0
    tau_plus_ms: float = 20.0
    tau_minus_ms: float = 20.0
    tau_eligibility_ms: float = 500.0
    learning_rate: float = 0.01


@dataclass
class ReSuMe(Rule):
    """ReSuMe (Ponulak 2005): teacher spikes potentiate, output spikes depress, by
    learning_rate * (a + a_window * presynaptic trace(tau_ms))."""

    rule_id: ClassVar[int] = RULE_RESUME
    name: ClassVar[str] = "resume"
    n_params: ClassVar[int] = _resume.N_PARAMS
    layout: ClassVar = (("a", _resume.A_NONHEBBIAN), ("a_window", _resume.A_WINDOW), ("tau_ms", _resume.TAU),
                        ("learning_rate", _resume.LEARNING_RATE))
    w_min: float = -1.0
    a: float = 0.05
    a_window: float = 1.0
    tau_ms: float = 5.0
    learning_rate: float = 0.01


@dataclass
class BCM(Rule):
    """Spike-based BCM with a sliding threshold θ = ȳ² / target_rate_hz."""

    rule_id: ClassVar[int] = RULE_BCM
    name: ClassVar[str] = "bcm"
    n_params: ClassVar[int] = _bcm.N_PARAMS
    layout: ClassVar = (("learning_rate", _bcm.LEARNING_RATE), ("tau_pre_ms", _bcm.TAU_PRE),
                        ("tau_post_ms", _bcm.TAU_POST), ("tau_theta_ms", _bcm.TAU_THETA),
                        ("target_rate_hz", _bcm.TARGET_RATE))
    learning_rate: float = 1e-6
    tau_pre_ms: float = 50.0
    tau_post_ms: float = 50.0
    tau_theta_ms: float = 5000.0
    target_rate_hz: float = 10.0

    def check(self) -> None:
        super().check()
        if not self.target_rate_hz > 0:
            raise ConfigError(f"bcm rule: target_rate_hz must be > 0, got {self.target_rate_hz}")


@dataclass
class WeightNormalization(Rule):
    """Homeostasis only: after each postsynaptic spike its incoming weights sum to normalize_to."""

    rule_id: ClassVar[int] = RULE_NORMALIZE
    name: ClassVar[str] = "normalize"
    normalize_to: float = 1.0


RULES: dict[str, type[Rule]] = {cls.name: cls for cls in (STDP, TripletSTDP, RewardSTDP, ReSuMe, BCM,
                                                           WeightNormalization)}


def make_rule(spec: str | dict[str, Any] | Rule) -> Rule:
    """A rule from its name, a dict {"rule": name, **params} (TOML/JSON) or a Rule."""
    if isinstance(spec, Rule):
        return spec
    if isinstance(spec, str):
        spec = {"rule": spec}
    if not isinstance(spec, dict) or "rule" not in spec:
        raise ConfigError(f"learning rule must be a name or a table with a 'rule' key, got {spec!r}")
    params = dict(spec)
    name = params.pop("rule")
    if name not in RULES:
        raise ConfigError(f"unknown learning rule {name!r}; known rules: {', '.join(sorted(RULES))}")
    cls = RULES[name]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"learning rule {name!r}: unknown parameter(s) {unknown}; known: {sorted(known)}")
    rule = cls(**params)
    rule.check()
    return rule
