"""Quantise a SpikingModel to a chip's number formats (see profile.py for the modes).

Each post population gets one scale s (state units per float voltage unit): its threshold,
bias and every incoming weight (as the chip sees it: gain * w) are multiplied by s and rounded
to the chip's formats. s is chosen so the largest incoming weight fills the weight mantissa,
unless the threshold would then overflow its field, in which case the threshold sets s and the
weights lose resolution (reported in `notes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from network.chips.model import SpikingModel
from network.chips.profile import MODE_ANALOG, MODE_BITSHIFT, MODE_LOIHI, MODE_TRUENORTH, ChipProfile
from pipeline.errors import ConfigError

MODE_IDS = {MODE_LOIHI: 0, MODE_BITSHIFT: 1, MODE_TRUENORTH: 2, MODE_ANALOG: 3}


@dataclass
class QuantizedNetwork:
    """Flat arrays the emulators run; integers for fixed-point modes, floats for analog/float."""

    mode: int
    n: int
    first: int                      # neurons [0, first) are inputs
    layer_names: list[str]
    layer_offsets: np.ndarray       # int64 [n_layers + 1]
    out_lo: int                     # first neuron of the output block (output layers come last)
    indptr: np.ndarray              # CSR by global pre neuron
    post: np.ndarray
    weight: np.ndarray              # int64 (fixed) or float64 (analog/float)
    delay: np.ndarray
    receptor: np.ndarray            # 0 exc, 1 inh (float mode only)
    du: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dv: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bias: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    vth: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    soft: np.ndarray = field(default_factory=lambda: np.zeros(0, np.bool_))
    refractory: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ds_offset: int = 0
    decay_shift: int = 12
    state_max: int = 1 << 23
    float_params: dict[str, np.ndarray] = field(default_factory=dict)
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0))  # state units per float unit, per neuron
    weight_exp: dict[str, int] = field(default_factory=dict)         # per connection (Loihi)
    notes: list[str] = field(default_factory=list)

    @property
    def max_delay(self) -> int:
        return int(self.delay.max()) if self.delay.size else 0


def _flatten(model: SpikingModel):
    offs = model.offsets()
    n = model.n_neurons
    inputs = [x for x in model.layers if x.is_input]
    if any(x.is_input for x in model.layers[len(inputs):]):
        raise ConfigError("input populations must come before every neuron population")
    pre_all, post_all, w_all, d_all, r_all, conn_id = [], [], [], [], [], []
    for ci, c in enumerate(model.connections):
        pre = np.repeat(np.arange(len(c.indptr) - 1), np.diff(c.indptr)) + offs[c.pre]
        post_layer = model.layer(c.post)
        if post_layer.is_input:
            raise ConfigError(f"connection {c.pre}->{c.post} targets an input population")
        if c.n_synapses and (c.indices.max() >= post_layer.n or c.indices.min() < 0):
            raise ConfigError(f"connection {c.pre}->{c.post}: post index outside {post_layer.n} neurons")
        gain = post_layer.gain_exc if c.receptor == "exc" else post_layer.gain_inh
        pre_all.append(pre)
        post_all.append(c.indices + offs[c.post])
        w_all.append(c.weights * gain[c.indices])
        d_all.append(np.asarray(c.delays, np.int64))
        r_all.append(np.full(c.n_synapses, 0 if c.receptor == "exc" else 1, np.int64))
        conn_id.append(np.full(c.n_synapses, ci, np.int64))
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    pre, post, w, d, r, cid = (cat(pre_all, np.int64), cat(post_all, np.int64), cat(w_all, np.float64),
                               cat(d_all, np.int64), cat(r_all, np.int64), cat(conn_id, np.int64))
    order = np.argsort(pre, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre, minlength=n))]).astype(np.int64)
    return offs, n, sum(x.n for x in inputs), indptr, post[order], w[order], d[order], r[order], cid[order]


def _per_neuron(model: SpikingModel, n: int, first: int, key: str, default: float) -> np.ndarray:
    out = np.full(n, default, np.float64)
    o = 0
    for layer in model.layers:
        val = getattr(layer, key, None)
        if not layer.is_input and val is not None:
            out[o:o + layer.n] = val
        o += layer.n
    return out


def quantize(model: SpikingModel, profile: ChipProfile | None, *, seed: int = 0) -> QuantizedNetwork:
    """Quantise `model` to `profile` (None: the float model, no quantisation)."""
    offs, n, first, indptr, post, w, d, r, cid = _flatten(model)
    names = [x.name for x in model.layers]
    layer_offsets = np.array([offs[x] for x in names] + [n], np.int64)
    a_exc = _per_neuron(model, n, first, "a_exc", 0.0)
    a_inh = _per_neuron(model, n, first, "a_inh", 0.0)
    a_m = _per_neuron(model, n, first, "a_m", 1.0)
    bias = _per_neuron(model, n, first, "bias", 0.0)
    vth = _per_neuron(model, n, first, "v_th", 1.0)
    v_reset = _per_neuron(model, n, first, "v_reset", 0.0)
    soft = np.zeros(n, np.bool_)
    refr = np.zeros(n, np.int64)
    o = 0
    for layer in model.layers:
        if not layer.is_input:
            soft[o:o + layer.n] = layer.soft_reset
            if layer.refractory_steps is not None:
                refr[o:o + layer.n] = layer.refractory_steps
        o += layer.n
    mode = MODE_ANALOG if profile is None else profile.mode
    notes = list(model.notes)
    out_lo = offs[model.output_layer.name]
    common = dict(n=n, first=first, layer_names=names, layer_offsets=layer_offsets, out_lo=out_lo, indptr=indptr, post=post,
                  delay=d, receptor=r, soft=soft, refractory=refr, notes=notes)
    if mode == MODE_ANALOG:
        if profile is not None:
            w = _quantize_analog_weights(w, post, profile, n)
            mm = profile.fmt("mismatch")
            if mm > 0:
                rng = np.random.default_rng(seed)
                jitter = lambda: np.clip(1 + mm * rng.standard_normal(n), 0.2, 5.0)  # noqa: E731
                vth = vth * jitter()
                tau_scale = jitter()
                a_m = a_m ** (1 / tau_scale)
                a_exc = a_exc ** (1 / tau_scale)
                a_inh = a_inh ** (1 / tau_scale)
                notes.append(f"analog mismatch: {mm:.0%} relative spread on thresholds and time constants (seed {seed})")
        return QuantizedNetwork(mode=3, weight=w, float_params=dict(a_exc=a_exc, a_inh=a_inh, a_m=a_m, bias=bias,
                                vth=vth, v_reset=v_reset), scale=np.ones(n), **common)
    if np.any(np.abs(v_reset[first:]) > 1e-12) and not soft[first:].all():
        notes.append("hard reset to a value other than v_rest is not representable: reset to v_rest (0)")
    if np.any(np.abs(a_inh - a_exc)[first:] > 1e-12) and np.any(r == 1):
        notes.append("one synaptic current per neuron on chip: inhibitory synapses use the excitatory time constant")
    return _quantize_fixed(model, profile, w, post, cid, a_exc, a_m, bias, vth, common)


def _quantize_analog_weights(w: np.ndarray, post: np.ndarray, profile: ChipProfile, n: int) -> np.ndarray:
    levels = int(profile.fmt("weights_per_neuron"))
    if levels:
        return _levels_per_neuron(w, post, n, levels)
    bits = int(profile.fmt("weight_bits", 8))
    out = w.copy()
    kmax = 2 ** (bits - 1) - 1 if bits > 1 else 1
    for j in np.unique(post):
        sel = post == j
        m = np.abs(w[sel]).max()
        if m > 0:
            out[sel] = np.round(w[sel] / m * kmax) * m / kmax
    return out


def _levels_per_neuron(w: np.ndarray, post: np.ndarray, n: int, levels: int) -> np.ndarray:
    """Each neuron's weights snapped to `levels` signed values {+-m/3, +-m} (m: its largest |w|);
    weights below m/6 are dropped (no synapse)."""
    out = np.zeros_like(w)
    m = np.zeros(n)
    np.maximum.at(m, post, np.abs(w))
    mj = m[post]
    grid = np.array([1 / 3, 1.0]) if levels >= 4 else np.array([1.0])
    mag = np.abs(w) / np.where(mj > 0, mj, 1)
    snapped = grid[np.argmin(np.abs(mag[:, None] - grid[None, :]), axis=1)]
    keep = mag >= grid[0] / 2
    out[keep] = (np.sign(w) * snapped * mj)[keep]
    return out


def _quantize_fixed(model, profile, w, post, cid, a_exc, a_m, bias, vth, common) -> QuantizedNetwork:
    mode = profile.mode
    n = common["n"]
    notes = common["notes"]
    state_bits = int(profile.fmt("state_bits", 24))
    state_max = 1 << (state_bits - 1)
    wbits = int(profile.fmt("weight_bits", 8))
    vth_shift = int(profile.fmt("vth_shift", 0))
    act_shift = int(profile.fmt("act_shift", 0))
    thr_bits = int(profile.fmt("threshold_bits", state_bits - 1))
    decay_bits = int(profile.fmt("decay_bits", 12))
    ds_offset = int(profile.fmt("ds_offset", 0))
    loihi_mixed_lsb = profile.name in ("loihi", "loihi2")
    vth_max = min((1 << thr_bits) - 1, (state_max >> vth_shift) - 1)
    scale = np.ones(n)
    qw = np.zeros(w.shape[0], np.int64)
    du = np.zeros(n, np.int64)
    dv = np.zeros(n, np.int64)
    qb = np.zeros(n, np.int64)
    qv = np.zeros(n, np.int64)
    wexp: dict[str, int] = {}
    no_leak = profile.fmt("no_leak") > 0
    for li, layer in enumerate(model.layers):
        if layer.is_input:
            continue
        lo, hi = common["layer_offsets"][li], common["layer_offsets"][li + 1]
        sel = (post >= lo) & (post < hi)
        ws = w[sel]
        if mode == MODE_TRUENORTH or no_leak:
            # no synaptic state: a spike delivers its whole charge sum_t gain * a_syn^t at once
            ws = ws / np.maximum(1.0 - a_exc[post[sel]], 1e-9)
        if mode == MODE_BITSHIFT:
            # Xylo decays the synaptic current after adding the step's input (xylosim.v2), so an
            # arriving weight is seen as w * (1 - 2^-dash_syn): scale it up to keep the float
            # model's charge (dash_syn >= 1, else the current would be cleared before use)
            dsyn = np.maximum(_dash(a_exc[post[sel]], decay_bits), 1)
            ws = ws / (1.0 - 2.0 ** -dsyn)
        wmax = float(np.abs(ws).max()) if ws.size else 1.0
        th = float(np.max(vth[lo:hi]))
        mixed = ws.size and ws.min() < 0 < ws.max()
        if mode == MODE_TRUENORTH:
            kmax, unit = 2 ** (wbits - 1) - 1, 1
        elif mixed:
            kmax, unit = 2 ** (wbits - 1) - 1, (2 if loihi_mixed_lsb else 1)
        else:
            kmax, unit = (2 ** wbits - 1 if loihi_mixed_lsb else 2 ** (wbits - 1) - 1), 1
        # state units per float unit, so the largest weight is kmax*unit mantissa steps
        shift = act_shift
        s = kmax * unit * (1 << shift) / wmax if wmax > 0 else 1.0
        if mode == MODE_BITSHIFT:  # per-layer weight_shift: grow s while the threshold fits
            wsh = 0
            while wsh < int(profile.fmt("weight_shift_max", 7)) and th * s * 2 <= vth_max:
                s *= 2
                wsh += 1
            shift = wsh
        if th * s / (1 << vth_shift) > vth_max:
            s_new = vth_max * (1 << vth_shift) / th
            notes.append(f"{layer.name}: threshold/weight ratio {th / wmax:.3g} exceeds the {thr_bits}-bit "
                         f"threshold field; weights use {s_new / s:.1%} of their range")
            s = s_new
        scale[lo:hi] = s
        step = (1 << shift) * unit
        if mode == MODE_TRUENORTH:
            snapped = _levels_per_neuron(ws, post[sel], n, int(profile.fmt("weights_per_neuron", 4)))
            k = np.round(snapped * s)
            qw[sel] = np.clip(k, -kmax, kmax).astype(np.int64)
        else:
            k = np.clip(np.round(ws * s / step), -kmax if mixed else (0 if ws.min(initial=0) >= 0 else -kmax),
                        kmax if (mixed or ws.max(initial=0) > 0) else 0)
            qw[sel] = (k * step).astype(np.int64)
        for c in set(cid[sel].tolist()):
            wexp[f"{model.connections[c].pre}->{model.connections[c].post}"] = shift - act_shift
        vm = np.round(vth[lo:hi] * s / (1 << vth_shift)).astype(np.int64)
        qv[lo:hi] = np.clip(vm, 1, vth_max) << vth_shift
        b = np.round(bias[lo:hi] * s).astype(np.int64)
        if mode == MODE_LOIHI:
            b = _loihi_bias(b, int(profile.fmt("bias_bits", 13)))
        qb[lo:hi] = b
        unity = 1 << decay_bits
        if mode == MODE_LOIHI:
            if no_leak:
                du[lo:hi] = unity - ds_offset
                dv[lo:hi] = 0
            else:
                du[lo:hi] = np.clip(np.round(unity * (1 - a_exc[lo:hi])) - ds_offset, 0, unity - ds_offset)
                dv[lo:hi] = np.clip(np.round(unity * (1 - a_m[lo:hi])), 0, unity - 1)
        elif mode == MODE_BITSHIFT:
            du[lo:hi] = np.maximum(_dash(a_exc[lo:hi], decay_bits), 1)
            dv[lo:hi] = _dash(a_m[lo:hi], decay_bits)
        else:  # TrueNorth linear leak: the exponential leak's loss at half threshold, per tick
            qb[lo:hi] = -np.round((1 - a_m[lo:hi]) * qv[lo:hi] / 2).astype(np.int64)
    if mode == MODE_TRUENORTH:
        notes.append("TrueNorth: synaptic current folded into the weight, exponential leak replaced by a linear "
                     "leak of (1 - a_m) * threshold / 2 per tick, weights snapped to 4 levels per neuron")
    if mode == MODE_BITSHIFT:
        notes.append("Xylo: decays rounded to bit shifts (a = 1 - 2^-dash, dash_syn >= 1), weights scaled by "
                     "1 / (1 - 2^-dash_syn) for the decay applied in the arrival step; one spike per neuron per step")
    return QuantizedNetwork(mode=MODE_IDS[mode], weight=qw, du=du, dv=dv, bias=qb, vth=qv, ds_offset=ds_offset,
                            decay_shift=decay_bits, state_max=state_max, scale=scale, weight_exp=wexp, **common)


def _dash(a: np.ndarray, bits: int) -> np.ndarray:
    """Bit-shift decay d with 1 - 2^-d closest to a (d = 0 clears the state each step)."""
    loss = np.clip(1.0 - a, 2.0 ** -(2 ** bits - 1), 1.0)
    return np.clip(np.round(-np.log2(loss)), 0, 2 ** bits - 1).astype(np.int64)


def _loihi_bias(b: np.ndarray, bits: int) -> np.ndarray:
    """Round a bias to mantissa (s13) << exponent (u3), as Loihi stores it."""
    out = b.copy()
    lim = (1 << (bits - 1)) - 1
    for i, x in enumerate(b):
        e = 0
        while abs(x) >> e > lim and e < 7:
            e += 1
        m = int(np.clip(np.round(x / (1 << e)), -lim - 1, lim))
        out[i] = m << e
    return out
