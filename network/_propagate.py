"""Event-driven spike propagation: one presynaptic row of a CSR projection added into its
targets (the currents, or the ring buffer slot of each synapse's delay).

Targets and synapses are addressed with unsigned indices: every index is >= 0 by
construction (post indices are checked at connect, offsets are sums of sizes), and an
unsigned index spares the negative-index fix-up Numba adds to every signed array access.

`prefetch` asks the CPU to start loading a row while other work runs: a spiking neuron's
row lies anywhere in the synapse arrays (megabytes, beyond L2), so without it every row
begins with cache misses that the loop waits for (profiled: about half of the
propagation time of CUBA at 4000 neurons). It is a hint only and changes no result, and
never faults, even for an address past the end of the array.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, array, index):
    """Hint: bring the cache line holding array[index] towards L1 (llvm.prefetch, read)."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        idx = context.cast(builder, args[1], signature.args[1], types.intp)
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        # read access, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(builder.gep(ary.data, [idx]), byte_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@njit(cache=True)
def add_row(target, offset, indices, weights, s_lo, s_hi):
    """target[offset + indices[s]] += weights[s] for synapses s_lo..s_hi-1."""
    base = np.uint64(offset)
    for s in range(np.uint64(s_lo), np.uint64(s_hi)):
        target[base + np.uint64(indices[s])] += weights[s]


@njit(cache=True)
def add_row_delayed(ring, offset, first_slot, depth, slot_size, indices, weights, delays, delay_offset, s_lo, s_hi):
    """ring[((first_slot + delay) % depth) * slot_size + offset + index] += weight for each
    synapse s_lo..s_hi-1 of a projection with one delay per synapse (first_slot < depth and
    delay < depth, so the modulo is one conditional subtraction)."""
    base = np.uint64(offset)
    size = np.uint64(slot_size)
    d_off = np.uint64(delay_offset)
    for s in range(np.uint64(s_lo), np.uint64(s_hi)):
        t = first_slot + delays[d_off + s]
        if t >= depth:
            t -= depth
        ring[np.uint64(t) * size + base + np.uint64(indices[s])] += weights[s]


@njit(cache=True)
def push_row(q_target, q_weight, q_count, slot, offset, indices, weights, s_lo, s_hi):
    """Queue (target offset + indices[s], weights[s]) of synapses s_lo..s_hi-1 for delivery at
    queue slot `slot` (a projection with one delay for all synapses)."""
    t = np.uint64(slot)
    c = np.uint64(q_count[t])
    base = np.uint32(offset)
    for s in range(np.uint64(s_lo), np.uint64(s_hi)):
        q_target[t, c] = base + np.uint32(indices[s])
        q_weight[t, c] = weights[s]
        c += np.uint64(1)
    q_count[t] = c


@njit(cache=True)
def push_row_delayed(q_target, q_weight, q_count, first_slot, depth, offset, indices, weights, delays, delay_offset,
                     s_lo, s_hi):
    """push_row for a projection with one delay per synapse: synapse s goes to queue slot
    (first_slot + delay) % depth."""
    base = np.uint32(offset)
    d_off = np.uint64(delay_offset)
    for s in range(np.uint64(s_lo), np.uint64(s_hi)):
        t = first_slot + delays[d_off + s]
        if t >= depth:
            t -= depth
        t = np.uint64(t)
        c = np.uint64(q_count[t])
        q_target[t, c] = base + np.uint32(indices[s])
        q_weight[t, c] = weights[s]
        q_count[t] = c + np.uint64(1)


@njit(cache=True)
def deliver(pending, currents, q_target, q_weight, q_count, slot):
    """Add the input queued for this step into the currents: first summed into pending (zero
    on entry) in queue order, which is the order in which a ring slot would have summed it,
    then added to each target's current (currents[t] is I_exc / I_inh of flat target t), as
    a neuron update adds a ring slot, and pending cleared. The currents end bit for bit as
    with the ring (up to the sign of a zero), and the neuron updates need not read a slot."""
    t = np.uint64(slot)
    count = np.uint64(q_count[t])
    for c in range(count):
        pending[q_target[t, c]] += q_weight[t, c]
    for c in range(count):
        target = q_target[t, c]
        currents[target] += pending[target]
        pending[target] = 0.0
    q_count[t] = 0


@njit(cache=True)
def grow_queue(q_target, q_weight, need):
    """The queue with room for at least `need` entries per slot (capacity doubled). Rows are
    kept off multiples of 4 KiB apart: slots whose rows share L1 sets evict one another
    while a spike's synapses are queued into all of them (measured 2x slower)."""
    cap = (max(need, 2 * q_target.shape[1]) + 15) // 16 * 16 + 8
    target = np.zeros((q_target.shape[0], cap), np.uint32)
    weight = np.zeros((q_target.shape[0], cap), np.float64)
    target[:, :q_target.shape[1]] = q_target
    weight[:, :q_target.shape[1]] = q_weight
    return target, weight
