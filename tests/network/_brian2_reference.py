"""Run Brian2 on the cases of a JSON file and write spikes and traces to an npz.

Run by tests/network/test_vs_brian2.py in a Python where Brian2 imports (Brian2 2.9 needs
numpy < 2, so usually its own virtual environment):  python _brian2_reference.py in.json out.npz
"""

import json
import sys

import numpy as np
from brian2 import (
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    defaultclock,
    ms,
    prefs,
)

prefs.codegen.target = "numpy"

LINEAR = """
dv/dt = (-(v - v_rest) + bias + I_exc + I_inh) / tau_m_ms / ms : 1 {unless}
dI_exc/dt = -I_exc / tau_exc_ms / ms : 1
dI_inh/dt = -I_inh / tau_inh_ms / ms : 1
dtheta/dt = -theta / tau_adapt_ms / ms : 1
"""
IF = """
dv/dt = (bias + I_exc + I_inh) / tau_m_ms / ms : 1 (unless refractory)
dI_exc/dt = -I_exc / tau_exc_ms / ms : 1
dI_inh/dt = -I_inh / tau_inh_ms / ms : 1
dtheta/dt = -theta / tau_adapt_ms / ms : 1
"""
IZHIKEVICH = """
dv/dt = (0.04 * v**2 + 5 * v + 140 - u + bias + I_exc + I_inh) / ms : 1
du/dt = a * (b * v - u) / ms : 1
dI_exc/dt = -I_exc / tau_exc_ms / ms : 1
dI_inh/dt = -I_inh / tau_inh_ms / ms : 1
"""
HODGKIN_HUXLEY = """
dv/dt = (g_l * (e_l - v) - g_na * m**3 * h * (v - e_na) - g_k * n**4 * (v - e_k) + bias + I_exc + I_inh) / c_m / ms : 1
dm/dt = (0.32 * 4 / exprel((13 - v + v_t) / 4) * (1 - m) - 0.28 * 5 / exprel((v - v_t - 40) / 5) * m) / ms : 1
dn/dt = (0.032 * 5 / exprel((15 - v + v_t) / 5) * (1 - n) - 0.5 * exp((10 - v + v_t) / 40) * n) / ms : 1
dh/dt = (0.128 * exp((17 - v + v_t) / 18) * (1 - h) - 4 / (1 + exp((40 - v + v_t) / 5)) * h) / ms : 1
dI_exc/dt = -I_exc / tau_exc_ms / ms : 1
dI_inh/dt = -I_inh / tau_inh_ms / ms : 1
"""


TAUS = ("tau_m_ms", "tau_exc_ms", "tau_inh_ms", "tau_adapt_ms")


def group(spec):
    params = dict(spec["params"])
    model = spec["model"]
    if model in ("LIF", "ALIF", "IF"):
        # Brian2's exact solver needs numeric time constants (symbolic ones give a piecewise
        # solution it rejects), so they are shared by the group and written into the equations
        params.setdefault("tau_adapt_ms", [1.0])
        taus = {k: float(params.pop(k)[0]) for k in TAUS}
        params.pop("beta", None) if model != "ALIF" else None
    decl = "".join(f"{k} : 1 (constant)\n" for k in params if k not in ("v_init",))
    if model in ("LIF", "ALIF"):
        eqs = _numeric(LINEAR.format(unless="(unless refractory)"), taus) + decl + ("" if model == "ALIF" else "beta : 1 (constant)\n")
        reset = "v -= v_th - v_reset" if spec.get("reset") == "soft" else "v = v_reset"
        g = NeuronGroup(spec["n"], eqs, threshold="v > v_th + theta", reset=reset + "; theta += beta",
                        refractory="refractory_ms * ms", method="exact")
    elif model == "IF":
        eqs = _numeric(IF, taus) + decl + "beta : 1 (constant)\n"
        g = NeuronGroup(spec["n"], eqs, threshold="v > v_th + theta", reset="v = v_reset; theta += beta",
                        refractory="refractory_ms * ms", method="exact")
    elif model == "IZH":
        g = NeuronGroup(spec["n"], IZHIKEVICH + decl, threshold="v >= v_peak", reset="v = c; u += d", method="euler")
    else:
        g = NeuronGroup(spec["n"], HODGKIN_HUXLEY + decl, threshold="v > v_th", refractory="v > v_th",
                        method="exponential_euler")
    for k, v in params.items():
        if k != "v_init":
            setattr(g, k, np.asarray(v, float))
    if model in ("LIF", "ALIF"):
        g.v = np.asarray(params["v_rest"], float)
        if model == "LIF":
            g.beta = 0.0
    elif model == "IF":
        g.v = np.asarray(params["v_rest"], float)
        g.beta = 0.0
    elif model == "IZH":
        g.v = np.asarray(params["v_init"], float)
        g.u = np.asarray(params["b"], float) * np.asarray(params["v_init"], float)
    else:
        g.v = np.asarray(params["v_init"], float)
    return g


def _numeric(eqs, taus):
    for k, v in taus.items():
        eqs = eqs.replace(k, repr(v))
    return eqs


def run_case(case):
    dt = case["dt_ms"]
    defaultclock.dt = dt * ms
    groups = {}
    inp = case["input"]
    groups["input"] = SpikeGeneratorGroup(inp["n"], np.asarray(inp["neurons"], int),
                                          np.asarray(inp["steps"], float) * dt * ms)
    for spec in case["groups"]:
        groups[spec["name"]] = group(spec)
    synapses = []
    for pj in case["projections"]:
        target = "I_exc" if pj["receptor"] == "exc" else "I_inh"
        s = Synapses(groups[pj["pre"]], groups[pj["post"]], "w : 1", on_pre=f"{target} += w")
        s.connect(i=np.asarray(pj["i"], int), j=np.asarray(pj["j"], int))
        s.w = np.asarray(pj["w"], float)
        s.delay = np.asarray(pj["delay"], float) * dt * ms
        synapses.append(s)
    monitors = {}
    for spec in case["groups"]:
        g = groups[spec["name"]]
        monitors[spec["name"]] = (SpikeMonitor(g), StateMonitor(g, "v", record=True))
    net = Network(*groups.values(), *synapses, *[m for pair in monitors.values() for m in pair])
    net.run(case["steps"] * dt * ms)
    out = {}
    for name, (sm, vm) in monitors.items():
        out[f"{case['id']}/{name}/spike_neurons"] = np.asarray(sm.i[:], np.int64)
        out[f"{case['id']}/{name}/spike_steps"] = np.round(np.asarray(sm.t / ms) / dt).astype(np.int64)
        out[f"{case['id']}/{name}/v"] = np.asarray(vm.v[:], np.float64).T  # [steps, n]
    return out


def main():
    cases = json.load(open(sys.argv[1]))
    out = {}
    for case in cases:
        out.update(run_case(case))
    np.savez(sys.argv[2], **out)


if __name__ == "__main__":
    main()
