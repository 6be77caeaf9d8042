"""What the Numba loops of the Prophesee encodings (EVT 2.0, EVT 3.0, DAT) share.

The decoders live with their formats (`evt3.py`, `evt2.py`, `dat.py`); this module holds
their common contract, state layout, status codes and counters, and the time-high rules.

Every decoder runs over the uint16/uint32 words of one block, starting at word `start`,
and keeps its state (time high, loop count, current y, vector base x, ...) in an int64
`state` array so that decoding continues exactly across block boundaries. It writes CD
events into a preallocated EVENT_DTYPE array and trigger events into a TRIGGER_DTYPE
array, and stops early (returning the word index reached) when either might overflow, so
the caller can hand it fresh buffers. Nothing here indexes an array without checking the
index first: Numba does not check bounds, and the input is untrusted.

Speed: each decoder first tries a chunk of CHUNK words with a fast loop that assumes the
common case (in-order events inside the sensor, forward time) and only accumulates a
"something else happened" flag instead of branching out per word; a chunk where the flag
is set is decoded again word by word by the careful loop, which raises or skips.

Return value of every decoder: (events written, triggers written, next word, status).
status 0 = ok; otherwise an ERR_* code, with `detail` holding the values the error
message needs and the word index of the offending word as the next word. With
`strict=False` damaged words/events are skipped and counted in `counters` instead.

Format references: Prophesee's "EVT 3.0 Format", "EVT 2.0 Format" and "DAT File Format"
pages (docs.prophesee.ai, data/encoding_formats) and the standalone decoder sample
`metavision_evt3_raw_file_decoder.cpp` published with them, whose time rules are followed
here (a TIME_HIGH word sets the time to its base; a time-high decrease is a loop only if
it is almost a whole period).
"""

from __future__ import annotations

import numpy as np
from numba import njit

TRIGGER_DTYPE = np.dtype([("t", "<i8"), ("p", "i1"), ("id", "<u2")])

# status codes (0 = ok)
ERR_UNKNOWN_TYPE = 1
ERR_OUT_OF_RANGE = 2
ERR_TIME_HIGH_BACKWARDS = 3
ERR_EVENT_TIME_BACKWARDS = 4
ERR_BAD_POLARITY = 5

# counters[...] indices; names in COUNTER_NAMES
C_BEFORE_TIME_HIGH = 0
C_OTHERS = 1
C_CONTINUED = 2
C_UNKNOWN_TYPE = 3
C_OUT_OF_RANGE = 4
C_TIME_HIGH_BACKWARDS = 5
C_EVENT_TIME_BACKWARDS = 6
C_BAD_POLARITY = 7
C_TIME_LOOPS = 8
COUNTER_NAMES = ("words_before_time_high", "others_skipped", "continued_skipped", "unknown_type",
                 "out_of_range", "time_high_backwards", "event_time_backwards", "bad_polarity",
                 "time_loops")
# counters that mean damage (a warning when skipped); the others are ordinary content
DAMAGE_COUNTERS = (C_UNKNOWN_TYPE, C_OUT_OF_RANGE, C_TIME_HIGH_BACKWARDS, C_EVENT_TIME_BACKWARDS,
                   C_BAD_POLARITY)
N_COUNTERS = len(COUNTER_NAMES)

# state[...] indices shared by the decoders
S_HAVE_TIME = 0   # a TIME_HIGH (EVT) / first record (DAT) has been seen
S_BASE = 1        # µs of the current time high, loops included
S_HIGH = 2        # raw time-high field of the last accepted TIME_HIGH word
S_TIME = 3        # current event time (EVT 3.0)
S_Y = 4           # current y (EVT 3.0 EVT_ADDR_Y)
S_BASE_X = 5      # vector base x (EVT 3.0 VECT_BASE_X, advanced by every vector word)
S_POL = 6         # vector polarity (EVT 3.0 VECT_BASE_X)
S_LAST_T = 7      # time of the last CD event written (monotonicity check)
N_STATE = 8

# EVT 3.0: 12-bit time high of 4096 µs; Prophesee's sample decoder calls a decrease a
# loop only when it is at least MaxTimestampBase - LoopThreshold = (4095 - 10) << 12 µs.
EVT3_LOOP_US = 1 << 24
EVT3_LOOP_MIN_DROP_US = (4095 - 10) << 12
# EVT 2.0: 28-bit time high of 64 µs; OpenEB's EVT2Decoder: a loop when the decrease is
# at least MaxTimestamp - LoopThreshold, MaxTimestamp = (2^28 - 1) << 6, threshold 10000 µs.
EVT2_LOOP_US = 1 << 34
EVT2_LOOP_MIN_DROP_US = (((1 << 28) - 1) << 6) - 10000
# DAT: 32-bit µs stamps; a decrease of more than half the range is taken as a wrap.
DAT_LOOP_US = 1 << 32


def new_state() -> np.ndarray:
    state = np.zeros(N_STATE, dtype=np.int64)
    state[S_LAST_T] = -1
    return state


CHUNK = 1024


@njit(cache=True)
def skip_to_time_high(words, i, state, counters, shift, unit_bits):
    """Skip words before the first TIME_HIGH (they have no time base: the vendor decoders
    drop them); returns the index after it, or len(words)."""
    while i < words.shape[0]:
        w = np.int64(words[i])
        i += 1
        if (w >> shift) == 8:
            state[S_HAVE_TIME] = 1
            state[S_HIGH] = w & ((1 << shift) - 1)
            state[S_BASE] = state[S_HIGH] << unit_bits
            state[S_TIME] = state[S_BASE]
            return i
        counters[C_BEFORE_TIME_HIGH] += 1
    return i


@njit(cache=True)
def time_high_step(new, high, bits, min_drop_us, unit_bits):
    """Time-high step from `high` to `new` in µs: forward, a loop (+ one period), or -1."""
    if new >= high:
        return (new - high) << unit_bits
    if (high - new) << unit_bits >= min_drop_us:
        return (new + (1 << bits) - high) << unit_bits
    return -1


# encoders ---------------------------------------------------------------------------
# Numba encode loops of the Prophesee RAW encodings (EVT 2.0, EVT 3.0).
#
# The encoder state is [started, current time-high field unwrapped (loops included), the
# EVT 3.0 time low the decoder holds, current y], kept between calls so that a file can be
# written chunk by chunk. Crossing a time-high loop is written as TIME_HIGH(max) then
# TIME_HIGH(0), the step every decoder's loop rule accepts (OpenEB, Prophesee's sample
# decoder, the decoders here), so the round trip is exact at any time; a
# file whose first event lies past the first loop starts at TIME_HIGH(0) and steps through
# the loops for the same reason. After a TIME_HIGH the EVT 3.0 encoder always writes a
# TIME_LOW (E_LOW = -1), as the sensors do, although the decoder's time low is then 0:
# readers that keep the previous time low (expelliarmus) still get the time right.
# The events must be validated by the caller (sorted, t >= 0, coordinates inside 11 bits,
# p 0/1): these loops trust them.
E_STARTED = 0
E_HIGH = 1
E_LOW = 2
E_Y = 3
N_ENCODER_STATE = 4


def new_encoder_state() -> np.ndarray:
    state = np.zeros(N_ENCODER_STATE, dtype=np.int64)
    state[E_Y] = -1
    return state


@njit(cache=True)
def time_high_words(words, k, state, new, bits, kind, shift):
    """Append the TIME_HIGH words that move the decoder from state[E_HIGH] to `new`."""
    top = (1 << bits) - 1
    high = state[E_HIGH]
    if state[E_STARTED] == 0:
        state[E_STARTED] = 1
        high = new if (new >> bits) == 0 else 0
        words[k] = (kind << shift) | (high & top)
        k += 1
        state[E_LOW] = -1
    while (high >> bits) < (new >> bits):
        if (high & top) != top:
            words[k] = (kind << shift) | top
            k += 1
        words[k] = kind << shift
        k += 1
        high = ((high >> bits) + 1) << bits
        state[E_LOW] = -1
    if new != high:
        words[k] = (kind << shift) | (new & top)
        k += 1
        high = new
        state[E_LOW] = -1
    state[E_HIGH] = high
    return k
