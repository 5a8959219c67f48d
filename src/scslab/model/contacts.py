"""Walks over the CSR network layers: whom a set of citizens is tied to, and how many ties they have."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scslab.model.compiled import AHEAD, prefetch
from scslab.population.types import Layer


def reverse_slots(layer: Layer, slots: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For ties row->col at `slots`, the position of the reverse tie col->row.

    A binary search inside each column's sorted row, all ties at once: log2(max degree) rounds.
    """
    cols = layer.indices[slots].astype(np.int64)
    lo = layer.indptr[cols].copy()
    hi = layer.indptr[cols + 1].copy()
    last = max(layer.indices.size - 1, 0)
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) // 2
        less = open_ & (layer.indices[np.minimum(mid, last)] < rows)
        lo = np.where(less, mid + 1, lo)
        hi = np.where(open_ & ~less, mid, hi)


@njit(cache=True, nogil=True, parallel=True)
def row_spans(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Where each of `rows` starts in a CSR layer, and the running total of their lengths (size
    rows + 1, from 0)."""
    start = np.empty(rows.size, dtype=np.int64)
    length = np.empty(rows.size, dtype=np.int64)
    for r in prange(rows.size):
        if r + AHEAD < rows.size:
            prefetch(indptr, rows[r + AHEAD])
        start[r] = indptr[rows[r]]
        length[r] = indptr[rows[r] + 1] - start[r]
    offset = np.zeros(rows.size + 1, dtype=np.int64)
    for r in range(rows.size):
        offset[r + 1] = offset[r] + length[r]
    return start, offset


@njit(cache=True, nogil=True, parallel=True)
def gather_contacts(  # pragma: no cover - compiled
    indices: np.ndarray, active: np.ndarray, start: np.ndarray, offset: np.ndarray, out: np.ndarray, n: int
) -> None:
    """Write into `out`, from position `n`, one key per tie of the rows that start at `start` with
    running lengths `offset` (`row_spans`): `2 k + 1` for an active tie to k, -1 for a cut one.
    Rows are written in parallel, each at its offset."""
    for r in prange(start.size):
        if r + AHEAD < start.size:
            prefetch(indices, start[r + AHEAD])
            prefetch(active, start[r + AHEAD])
        o = n + offset[r]
        for slot in range(start[r], start[r] + offset[r + 1] - offset[r]):
            out[o] = 2 * indices[slot] + 1 if active[slot] else -1
            o += 1


@njit(cache=True, nogil=True)
def active_degrees(indptr: np.ndarray, active: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """The number of active ties of each row of a CSR layer."""
    n = indptr.size - 1
    out = np.zeros(n, dtype=np.int32)
    for i in range(n):
        c = 0
        for slot in range(indptr[i], indptr[i + 1]):
            c += active[slot]
        out[i] = c
    return out


@njit(cache=True, nogil=True, parallel=True)
def add_degrees(records: np.ndarray, column: int, indptr: np.ndarray, weight: float) -> None:  # pragma: no cover
    """Add `weight` times each row's number of ties (cut or not) to `records[:, column]`."""
    for i in prange(records.shape[0]):
        records[i, column] += weight * (indptr[i + 1] - indptr[i])
