"""Row-wise kernels of the connectivity builders (network/connectivity.py): the same results
as sorting (row, column) pairs globally with np.lexsort, without the int64 row, order and
sorted-copy arrays that sort needs (~50 bytes per synapse at the peak of building a network
of 10 million synapses; these work row by row in place)."""

import numpy as np
from numba import njit


@njit(cache=True)
def row_duplicates(indptr, cols):
    """Positions of the synapses whose column repeats an earlier one of the same row, listed
    as np.lexsort((cols, rows)) orders them: by row, then column, then position."""
    count = 0
    for i in range(indptr.shape[0] - 1):
        seg = cols[indptr[i]:indptr[i + 1]]
        order = np.argsort(seg, kind="mergesort")
        for t in range(1, order.shape[0]):
            count += seg[order[t]] == seg[order[t - 1]]
    out = np.empty(count, np.int64)
    m = 0
    for i in range(indptr.shape[0] - 1):
        seg = cols[indptr[i]:indptr[i + 1]]
        order = np.argsort(seg, kind="mergesort")
        for t in range(1, order.shape[0]):
            if seg[order[t]] == seg[order[t - 1]]:
                out[m] = indptr[i] + order[t]
                m += 1
    return out


@njit(cache=True)
def drop_diagonal(indptr, cols):
    """Remove the synapses i -> i in place (order kept); returns the new row pointer."""
    out = np.zeros_like(indptr)
    m = 0
    for i in range(indptr.shape[0] - 1):
        for s in range(indptr[i], indptr[i + 1]):
            if cols[s] != i:
                cols[m] = cols[s]
                m += 1
        out[i + 1] = m
    return out


@njit(cache=True)
def sort_rows(indptr, cols, weights, delays):
    """Sort each row's synapses by column, stably, in place; weights and (when one per
    synapse, else an empty array) delays follow."""
    per_synapse = delays.shape[0] == cols.shape[0]
    for i in range(indptr.shape[0] - 1):
        a, b = indptr[i], indptr[i + 1]
        order = np.argsort(cols[a:b], kind="mergesort")
        cols[a:b] = cols[a:b][order]
        weights[a:b] = weights[a:b][order]
        if per_synapse:
            delays[a:b] = delays[a:b][order]
