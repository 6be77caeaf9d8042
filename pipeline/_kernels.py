"""Numba kernels of the pipeline core."""

from numba import njit


@njit(cache=True, nogil=True)
def check_events(t, x, y, t_start, t_end, width, height):
    """One pass over an event array: returns (code, index) with code 0 = fine,
    1 = t outside [t_start, t_end), 2 = t goes backwards, 3 = x >= width, 4 = y >= height."""
    previous = t_start
    for i in range(t.shape[0]):
        ti = t[i]
        if ti < t_start or ti >= t_end:
            return 1, i
        if ti < previous:
            return 2, i
        previous = ti
        if width > 0 and x[i] >= width:
            return 3, i
        if height > 0 and y[i] >= height:
            return 4, i
    return 0, -1
