"""Scaling of the engine: a recurrent LIF network (80% exc / 20% inh, fixed fan-out 100,
delays 0-10 steps, bias-driven at ~10-20 Hz) from 1k to 100k neurons: wall time per
simulated second against neurons and synaptic events, and memory per synapse: what the
engine keeps (its arrays over the synapse count) and the peak while building and running
(tracemalloc, after a warm-up so that imports and compiled code are not counted); NEST
(iaf_psc_exp, 1 thread) on the same model at the sizes it finishes quickly, with the ratio.

    python -m benchmarks.scaling [--quick] [--json] [--no-peer] [--repeat N]

--repeat N runs the simulated stretch N times (one network per size) and keeps the
fastest wall and the fastest processor time: on a machine shared with other work a single
run can come out 2x slow at 30k-100k neurons, where the step waits on memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc

import numpy as np

FANOUT = 100
DT_US = 100
PARAMS = dict(tau_m_ms=20.0, tau_exc_ms=5.0, tau_inh_ms=10.0, v_rest=0.0, v_reset=0.0, v_th=1.0,
              refractory_ms=2.0, bias=1.1)
W_EXC, W_INH = 0.02, -0.08


def build(n: int, seed: int = 0):
    from network.connectivity import fixed_fanout
    from network.network import Network
    from network.populations import LIFPopulation

    n_exc = n * 4 // 5
    net = Network(dt_us=DT_US, seed=seed, learning=False)
    rng = np.random.default_rng(seed)
    for name, size in (("exc", n_exc), ("inh", n - n_exc)):
        pop = net.add(LIFPopulation(size, name=name, **PARAMS), output=True)
        pop.state[0] = rng.random(size)
    # fan-out 100 split across the two targets in proportion to their sizes
    for k, (pre, n_pre, w, rec) in enumerate((("exc", n_exc, W_EXC, "exc"), ("inh", n - n_exc, W_INH, "inh"))):
        for m, (post, n_post) in enumerate((("exc", n_exc), ("inh", n - n_exc))):
            net.connect(fixed_fanout(pre, post, n_pre, n_post, FANOUT * n_post // n, weight=w, receptor=rec,
                                     delay=(0, 10), seed=seed * 7 + 2 * k + m + 1))
    net.build()
    return net


def run_ours(n: int, duration_ms: float, repeat: int = 1) -> dict:
    tracemalloc.start()
    t0 = time.perf_counter()
    net = build(n)
    t1 = time.perf_counter()
    net.advance(100)  # warm-up: 10 ms (kernel load, transients)
    runs = []
    for r in range(repeat):
        events0 = net.synaptic_events
        t2, c2 = time.perf_counter(), time.process_time()
        out = net.advance(int(duration_ms * 1000 // DT_US))
        t3, c3 = time.perf_counter(), time.process_time()
        runs.append((t3 - t2, c3 - c2, max(net.synaptic_events - events0, 1)))
        if r == 0:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    # the fastest of each measure (see the module docstring)
    wall_s, cpu_s = min(w for w, _, _ in runs), min(c for _, c, _ in runs)
    ns_event, cpu_ns_event = min(w / e for w, _, e in runs) * 1e9, min(c / e for _, c, e in runs) * 1e9
    stored = _stored_bytes(net)
    seconds = duration_ms / 1000
    spikes = sum(s.shape[0] for s, _ in out.values())
    events = runs[-1][2]
    return {"neurons": n, "synapses": net.n_synapses, "build_s": t1 - t0, "wall_s_per_sim_s": wall_s / seconds,
            "rate_hz": spikes / n / seconds, "synaptic_events_per_sim_s": events / seconds,
            "ns_per_neuron_step": wall_s / (n * duration_ms * 1000 / DT_US) * 1e9,
            "ns_per_synaptic_event": ns_event,
            "cpu_s_per_sim_s": cpu_s / seconds, "cpu_ns_per_synaptic_event": cpu_ns_event,
            "stored_bytes_per_synapse": stored / net.n_synapses, "peak_bytes_per_synapse": peak / net.n_synapses,
            "delayed_input": "queue" if len(net._flat.get("q_count", ())) else "ring"}


def _stored_bytes(net) -> int:
    """Bytes of every array the built network and its projections hold (each buffer once)."""
    seen: dict[int, int] = {}
    arrays = list(net._flat.values())
    for proj in net.projections:
        arrays += [proj.indptr, proj.indices, proj.weights, proj.delays, proj.post_indptr, proj.post_synapses,
                   proj.eligibility, proj.pre_traces, proj.post_traces]
    for value in arrays:
        if isinstance(value, np.ndarray):
            while isinstance(value.base, np.ndarray):  # a view: count the array it views
                value = value.base
            seen[id(value)] = value.nbytes
    return sum(seen.values())


def run_nest(n: int, duration_ms: float) -> dict:
    import nest

    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT_US / 1000, "local_num_threads": 1, "rng_seed": 1})
    c_m, tau_m = 250.0, PARAMS["tau_m_ms"]
    pop = nest.Create("iaf_psc_exp", n, params={
        "C_m": c_m, "tau_m": tau_m, "E_L": 0.0, "V_th": 1.0, "V_reset": 0.0, "t_ref": 2.0, "tau_syn_ex": 5.0,
        "tau_syn_in": 10.0, "I_e": PARAMS["bias"] * c_m / tau_m})
    pop.V_m = nest.random.uniform(0.0, 1.0)
    n_exc = n * 4 // 5
    delay = nest.random.uniform_int(11)  # 0..10 extra steps like ours (NEST's minimum delay is one step)
    for pre, w in ((pop[:n_exc], W_EXC), (pop[n_exc:], W_INH)):
        nest.Connect(pre, pop, {"rule": "fixed_outdegree", "outdegree": FANOUT, "allow_autapses": False,
                                "allow_multapses": False},
                     {"weight": w * c_m / tau_m, "delay": 0.1 + 0.1 * delay})
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    nest.Simulate(10.0)
    t0, c0 = time.perf_counter(), time.process_time()
    n0 = rec.n_events
    nest.Simulate(duration_ms)
    wall = (time.perf_counter() - t0) / (duration_ms / 1000)
    return {"wall_s_per_sim_s": wall, "cpu_s_per_sim_s": (time.process_time() - c0) / (duration_ms / 1000),
            "rate_hz": (rec.n_events - n0) / n / (duration_ms / 1000)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k neurons, 0.2 s")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-peer", action="store_true", help="skip NEST")
    parser.add_argument("--peer-max", type=int, default=10_000, help="largest size also run on NEST")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the fastest is shown")
    parser.add_argument("--sizes", help="comma-separated neuron counts (default 1k,3k,10k,30k,100k; e.g. add "
                                        "300000 to see the growth past the last-level cache)")
    args = parser.parse_args(argv)
    sizes = [1_000, 10_000] if args.quick else [1_000, 3_000, 10_000, 30_000, 100_000]
    if args.sizes:
        sizes = [int(n) for n in args.sizes.split(",")]
    duration_ms = 200.0 if args.quick else 1000.0
    rows = []
    run_ours(sizes[0], 10.0)  # warm-up: imports and compiled kernels out of the memory figures
    for n in sizes:
        row = run_ours(n, duration_ms, max(1, args.repeat))
        if not args.no_peer and n <= args.peer_max:
            try:
                peer = run_nest(n, duration_ms)
                row["nest_wall_s_per_sim_s"] = peer["wall_s_per_sim_s"]
                row["nest_rate_hz"] = peer["rate_hz"]
                row["nest_over_ours"] = peer["wall_s_per_sim_s"] / row["wall_s_per_sim_s"]
                row["nest_cpu_over_ours"] = peer["cpu_s_per_sim_s"] / row["cpu_s_per_sim_s"]
            except ImportError:
                pass
        rows.append(row)
    base = rows[0]
    for row in rows:
        row["time_ratio_vs_1k"] = row["wall_s_per_sim_s"] / base["wall_s_per_sim_s"]
        row["neuron_ratio_vs_1k"] = row["neurons"] / base["neurons"]
    slope = _growth_exponent(rows)
    l3 = _cache_bytes(3)
    if args.json:
        print(json.dumps({"benchmark": "scaling", "fanout": FANOUT, "dt_us": DT_US, "simulated_s": duration_ms / 1000,
                          "rows": rows, "growth_exponent": slope, "l3_bytes": l3}))
        return 0
    print(f"scaling: LIF, fan-out {FANOUT}, dt {DT_US} µs, {duration_ms / 1000:g} s simulated")
    print("(cpu: processor time, the steadier figure on a machine shared with other work)")
    print(f"{'neurons':>8}{'synapses':>11}{'rate Hz':>9}{'wall s/sim s':>14}{'x time':>8}{'syn ev/s':>11}"
          f"{'ns/syn ev':>10}{'cpu ns/ev':>10}{'ns/neur step':>13}{'B/syn kept':>11}{'B/syn peak':>11}{'delayed':>8}"
          f"{'NEST s/sim s':>14}{'NEST/ours':>10}{'(cpu)':>7}")
    for r in rows:
        nest_s = (f"{r['nest_wall_s_per_sim_s']:>14.3f}{r['nest_over_ours']:>10.1f}{r['nest_cpu_over_ours']:>7.1f}"
                  if "nest_over_ours" in r else "")
        print(f"{r['neurons']:>8}{r['synapses']:>11}{r['rate_hz']:>9.1f}{r['wall_s_per_sim_s']:>14.4f}"
              f"{r['time_ratio_vs_1k']:>8.1f}{r['synaptic_events_per_sim_s']:>11.3g}{r['ns_per_synaptic_event']:>10.2f}"
              f"{r['cpu_ns_per_synaptic_event']:>10.2f}{r['ns_per_neuron_step']:>13.2f}"
              f"{r['stored_bytes_per_synapse']:>11.1f}{r['peak_bytes_per_synapse']:>11.1f}{r['delayed_input']:>8}{nest_s}")
    if slope is not None:
        print(f"time per simulated second grows as neurons^{slope:.2f} (least-squares fit on log-log; 1.00 is linear)")
    if l3:
        kept = ", ".join(f"{r['neurons'] // 1000}k {r['stored_bytes_per_synapse'] * r['synapses'] / 2**20:.0f} MiB"
                         for r in rows)
        print(f"network arrays ({kept}) against a last-level cache of {l3 / 2**20:.0f} MiB: the cost per synaptic "
              "event rises where a spike's row and its targets must come from main memory instead")
    return 0


def _growth_exponent(rows: list[dict]) -> float | None:
    """b in wall ~ neurons^b, fitted over the rows (None for fewer than two sizes)."""
    if len(rows) < 2:
        return None
    x = np.log([r["neurons"] for r in rows])
    y = np.log([r["wall_s_per_sim_s"] for r in rows])
    return float(np.polyfit(x, y, 1)[0])


def _cache_bytes(level: int) -> int | None:
    """Size of this CPU's cache of `level` (Linux sysfs), or None where it is not reported."""
    from pathlib import Path

    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if int((index / "level").read_text()) == level:
                text = (index / "size").read_text().strip()
                units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
                return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
        except (OSError, ValueError):
            continue
    return None


if __name__ == "__main__":
    sys.exit(main())
