"""`store_le64`: an 8-byte store at any byte of an array, for decoders writing EVENT_DTYPE.

EVENT_DTYPE is packed (13 bytes: t, x, y, p), so its records are not 8-aligned. Field by
field a record takes four stores (t, x, y, p); as two 8-byte stores, t and then
x | y << 16 | p << 32 at byte 8, it takes two, when the record after it is written next
(the second store runs 3 bytes into it). For AEDAT 4, whose Event structs hold exactly
those two words, this halved the decode loop.
"""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from pipeline.events import EVENT_DTYPE

EVENT_BYTES = EVENT_DTYPE.itemsize  # packed (13): record i starts at byte 13 * i


@intrinsic
def store_le64(typingctx, array, byte_index, value):
    """Store int64 `value` at bytes [byte_index, byte_index + 8) of `array`'s buffer,
    unaligned. Nothing is checked: the caller keeps byte_index + 8 within the buffer."""
    if not isinstance(array, types.Array) or not isinstance(byte_index, types.Integer) \
            or not isinstance(value, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        at = context.cast(builder, args[1], signature.args[1], types.intp)
        word = context.cast(builder, args[2], signature.args[2], types.int64)
        base = builder.bitcast(ary.data, ir.IntType(8).as_pointer())
        target = builder.bitcast(builder.gep(base, [at]), ir.IntType(64).as_pointer())
        builder.store(word, target, align=1)
        return context.get_dummy_value()

    return types.void(array, byte_index, value), codegen
