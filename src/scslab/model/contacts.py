"""Vectorised walks over the CSR network layers: whom a set of citizens is tied to."""

from __future__ import annotations

import numpy as np

from scslab.population.types import Layer


def edge_slots(layer: Layer, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in `layer.indices` of the active ties of `ids`, and which of `ids` owns each."""
    starts = layer.indptr[ids]
    lengths = (layer.indptr[ids + 1] - starts).astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    owner = np.repeat(np.arange(ids.size, dtype=np.int64), lengths)
    # slot = start of the owner's row + rank of the slot within that row
    row_base = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    slots = row_base + np.arange(total, dtype=np.int64)
    keep = layer.active[slots]
    return slots[keep], owner[keep]


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
