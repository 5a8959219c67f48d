"""Small vectorised sampling and grouping helpers shared by the population builders."""

from __future__ import annotations

import numpy as np


def uniform_below(rng: np.random.Generator, high: np.ndarray) -> np.ndarray:
    """One uniform integer in `[0, high[i])` for each entry of `high` (every entry >= 1), as int64.

    `floor(u * high)` with one float64 uniform u per draw (`Generator.integers` with an array
    bound is several times slower). u is a multiple of 2**-53 below 1, so with round-to-nearest
    `u * high < high` for every integer high < 2**53; the bias is below 2**-52 per draw.
    """
    u = rng.random(np.shape(high))
    u *= high
    return u.astype(np.int64)


def range_of(ids: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Index r (intp) of the range `start[r] <= id < start[r + 1]` holding each id (`start` ascending)."""
    if start.size > 130:
        return np.searchsorted(start[1:], ids, side="right")
    # Few ranges: one vectorised comparison per boundary beats a binary search per id.
    r = np.zeros(ids.size, dtype=np.intp)
    for boundary in start[1:-1].astype(ids.dtype):
        r += ids >= boundary
    return r


def group_order(labels: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of `labels` sorted by label (stable), and the offset of each group.

    Returns `order` (int32, positions into `labels`) and `start` (int64, size n_groups + 1):
    the positions with label g are `order[start[g]:start[g + 1]]`, ascending.
    """
    n = int(labels.size)
    keys = labels.astype(np.int64)
    keys *= max(n, 1)
    keys += np.arange(n, dtype=np.int64)
    keys.sort()
    np.remainder(keys, max(n, 1), out=keys)
    order = keys.astype(np.int32)
    del keys
    start = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(labels, minlength=n_groups), out=start[1:])
    return order, start


def segment_ids(counts: np.ndarray) -> np.ndarray:
    """For segments of the given lengths laid end to end, the segment index of each slot (int32)."""
    return np.repeat(np.arange(counts.size, dtype=np.int32), counts)
