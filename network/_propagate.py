"""Event-driven spike propagation: one presynaptic row of a CSR projection added into its
targets (the currents, or the ring buffer slot of each synapse's delay).

Targets and synapses are addressed with unsigned indices: every index is >= 0 by
construction (post indices are checked at connect, offsets are sums of sizes), and an
unsigned index spares the negative-index fix-up Numba adds to every signed array access.

`prefetch` asks the CPU to start loading a row while other work runs: a spiking neuron's
row lies anywhere in the synapse arrays (megabytes, beyond L2), so without it every row
begins with a cache miss that the loop waits for (profiled: about half of the
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
    for s in range(s_lo, s_hi):
        t = first_slot + delays[delay_offset + s]
        if t >= depth:
            t -= depth
        ring[np.uint64(t) * size + base + np.uint64(indices[s])] += weights[s]
