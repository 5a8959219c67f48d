"""Vectorised walks over the CSR network layers: whom a set of citizens is tied to."""

from __future__ import annotations

import numpy as np

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
