"""Run a QuantizedNetwork step by step (Numba kernels), keeping state between calls so a stream
can be fed in pieces; counts spikes and neuron updates for the energy accounting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from network.chips.quantize import QuantizedNetwork
from pipeline.errors import ChunkError

NEVER = -(10 ** 12)


@dataclass
class StepResult:
    spike_step: np.ndarray    # int64, absolute step of each non-input spike
    spike_neuron: np.ndarray  # int64, global neuron index
    trace_u: np.ndarray       # [steps, n] when traced, else empty
    trace_v: np.ndarray


class Emulator:
    """Stateful emulation of one deployed network; `run` advances by a block of steps."""

    def __init__(self, q: QuantizedNetwork) -> None:
        self.q = q
        self.reset()

    def reset(self) -> None:
        q = self.q
        self.step = 0
        self.depth = q.max_delay + 2
        self.last = np.full(q.n, NEVER, np.int64)
        self.counts = np.zeros(q.n, np.int64)     # spikes per neuron (inputs included)
        self.active = np.zeros(q.n, np.int64)     # neuron updates with non-zero state or input
        self.steps_run = 0
        if q.mode == 3:
            self.ring = np.zeros((self.depth, 2, q.n), np.float64)
            self.i_exc = np.zeros(q.n)
            self.i_inh = np.zeros(q.n)
            self.v = np.zeros(q.n)
            self.u = self.i_exc
        else:
            self.ring = np.zeros((self.depth, q.n), np.int64)
            self.u = np.zeros(q.n, np.int64)
            self.v = np.zeros(q.n, np.int64)

    def reset_state(self) -> None:
        """Clear membrane state and in-flight spikes (per-sample reset), keeping the counters."""
        self.ring[:] = 0
        self.u[:] = 0
        self.v[:] = 0
        if self.q.mode == 3:
            self.i_inh[:] = 0
        self.last[:] = NEVER

    def run(self, n_steps: int, in_ptr: np.ndarray, in_neuron: np.ndarray, trace: bool = False) -> StepResult:
        """Advance n_steps; input spikes of step k (relative) are in_neuron[in_ptr[k]:in_ptr[k+1]]."""
        q = self.q
        in_ptr = np.ascontiguousarray(in_ptr, np.int64)
        in_neuron = np.ascontiguousarray(in_neuron, np.int64)
        if in_ptr.shape != (n_steps + 1,) or (in_neuron.size and (in_neuron.min() < 0 or in_neuron.max() >= q.first)):
            raise ChunkError(f"input spikes must address the {q.first} input neurons over {n_steps} steps")
        cap = int(n_steps * (q.n - q.first)) if n_steps else 0
        cap = min(cap, 1 << 26)
        rec_step = np.zeros(cap, np.int64)
        rec_neuron = np.zeros(cap, np.int64)
        tshape = (n_steps, q.n) if trace else (0, 0)
        tu = np.zeros(tshape, np.int64 if q.mode != 3 else np.float64)
        tv = np.zeros(tshape, tu.dtype)
        if q.mode == 3:
            from network.chips._kernels import run_float

            fp = q.float_params
            n_rec = run_float(self.step, n_steps, q.first, fp["a_exc"], fp["a_inh"], fp["a_m"], fp["bias"], fp["vth"],
                              fp["v_reset"], q.soft, q.refractory, q.indptr, q.post, q.weight, q.delay, q.receptor,
                              in_ptr, in_neuron, self.i_exc, self.i_inh, self.v, self.ring, self.last,
                              self.counts, self.active, rec_step, rec_neuron)
        else:
            from network.chips._kernels import run_fixed

            n_rec = run_fixed(q.mode, self.step, n_steps, q.first, q.du, q.dv, q.bias, q.vth, q.soft, q.refractory,
                              q.ds_offset, q.decay_shift, q.state_max, q.indptr, q.post, q.weight, q.delay,
                              in_ptr, in_neuron, self.u, self.v, self.ring, self.last, self.counts, self.active,
                              rec_step, rec_neuron, tu, tv)
        self.step += n_steps
        self.steps_run += n_steps
        return StepResult(rec_step[:n_rec].copy(), rec_neuron[:n_rec].copy(), tu, tv)


def raster_to_csr(raster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A boolean/count raster [steps, n_inputs] -> (in_ptr, in_neuron) (counts > 1 repeat the neuron)."""
    raster = np.asarray(raster)
    steps = raster.shape[0]
    k, i = np.nonzero(raster)
    reps = raster[k, i].astype(np.int64)
    in_neuron = np.repeat(i, reps).astype(np.int64)
    per_step = np.bincount(np.repeat(k, reps), minlength=steps)
    return np.concatenate([[0], np.cumsum(per_step)]).astype(np.int64), in_neuron


def simulate(q: QuantizedNetwork, raster: np.ndarray, trace: bool = False) -> tuple[Emulator, StepResult]:
    """Run a fresh emulator over a whole input raster [steps, n_inputs]."""
    emu = Emulator(q)
    in_ptr, in_neuron = raster_to_csr(raster)
    return emu, emu.run(raster.shape[0], in_ptr, in_neuron, trace=trace)
