"""Synaptic input in flight: spikes delivered through delayed synapses wait here until the
step they act in.

Two stores, chosen per network when it is built, give bit-identical results:

- a ring buffer ring[depth, 2, n] (slot (k % depth) holds the input of step k, receptor 0
  excitatory, 1 inhibitory): a spike adds its weights into the slot of each synapse's
  delay, and the neuron updates add (and clear) the slot of their step. Cheapest while the
  ring stays in L2.
- a queue per slot of (flat target r * n + neuron, weight) pairs, appended in emission order
  and summed at delivery into one slot `ring[0]` (depth 1), then added to the targets'
  currents: the order of the sums is the ring's, so the result is bit for bit the same (up
  to the sign of a zero current). The ring spans depth x 16 bytes per neuron and every step
  touches one slot of it, which past L2 comes from further away each step; the queue keeps
  what a step touches to the events in flight plus 16 bytes per neuron, and spares the
  neuron updates reading and clearing a slot (scaling benchmark, delays 0-10 steps: ring
  ~10% faster per synaptic event at 1k neurons, queue ~10% at 3k-10k, 1.7x at 100k).

Weights are read when the spike is emitted in both, so plastic delayed synapses behave the
same. The portable form (save/load, rebuilds) is always the ring: `as_ring` materialises the
queue into it and `load_ring` queues a ring's non-zero entries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.errors import ConfigError

#: largest ring buffer kept as a ring (half of one core's L2); above it the network uses the queue
RING_BYTES = 512 << 10
# entries per slot at first (the kernel doubles them as needed); 1024 + 8 keeps rows off
# multiples of 4 KiB apart (see network/_propagate.py grow_queue)
_QUEUE_START = 1032


def make(depth: int, n: int, delayed: bool) -> dict[str, Any]:
    """Arrays for a network of n neurons whose longest delay is depth - 1 steps."""
    queue = delayed and depth > 1 and depth * 2 * n * 8 > RING_BYTES
    if queue and 2 * n >= 2**32:
        raise ConfigError(f"network: {n} neurons are too many for the delayed-input queue (uint32 targets)")
    slots = depth if queue else 0
    return {"depth": depth, "ring": np.zeros((1 if queue else depth, 2, n)),
            "q_target": np.zeros((slots, _QUEUE_START if queue else 0), np.uint32),
            "q_weight": np.zeros((slots, _QUEUE_START if queue else 0), np.float64),
            "q_count": np.zeros(slots, np.int64)}


def as_ring(f: dict[str, Any]) -> np.ndarray:
    """The input in flight as ring[depth, 2, n] (a copy in queue mode)."""
    if f["q_count"].shape[0] == 0:
        return f["ring"]
    n = f["ring"].shape[2]
    ring = np.zeros((f["depth"], 2 * n))
    for t in range(f["depth"]):
        c = int(f["q_count"][t])
        # ufunc.at adds repeated targets one after another, in queue order, as the kernel does
        np.add.at(ring[t], f["q_target"][t, :c].astype(np.int64), f["q_weight"][t, :c])
    return ring.reshape(f["depth"], 2, n)


def load_ring(f: dict[str, Any], ring: np.ndarray) -> None:
    """Replace the input in flight by ring[depth, 2, n] (same shape as as_ring's)."""
    if f["q_count"].shape[0] == 0:
        f["ring"][:] = ring
        f["ring_loaded"] = True  # a network without delays adds it to the currents once (Network.advance)
        return
    clear(f)
    flat = ring.reshape(f["depth"], -1)
    need = int(np.count_nonzero(flat, axis=1).max(initial=0))
    if need > f["q_target"].shape[1]:
        cap = (need + 15) // 16 * 16 + 8  # rows off multiples of 4 KiB apart (see grow_queue)
        f["q_target"] = np.zeros((f["depth"], cap), np.uint32)
        f["q_weight"] = np.zeros((f["depth"], cap))
    for t in range(f["depth"]):
        nz = np.flatnonzero(flat[t])
        f["q_target"][t, :nz.size] = nz
        f["q_weight"][t, :nz.size] = flat[t, nz]
        f["q_count"][t] = nz.size


def clear(f: dict[str, Any]) -> None:
    f["ring"][:] = 0.0
    f["q_count"][:] = 0
