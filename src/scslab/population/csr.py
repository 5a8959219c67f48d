"""Undirected edge lists to symmetric CSR (sorted rows, no self-loops, no duplicates)."""

from __future__ import annotations

import numpy as np

# Keys are decoded and compacted this many at a time, so the temporaries stay small (and
# small enough for the allocator to reuse them instead of mapping fresh pages each time).
CHUNK = 1 << 18
# A key is `row * 2**32 + col` (row-major order, like `row * N + col`, but decoded with a
# shift and a view instead of a division); in memory its int32 halves are (col, row) on
# little-endian machines.
_COL_HALF, _ROW_HALF = (0, 1) if np.little_endian else (1, 0)
# Below this many directed ties a layer's offsets are int32.
INT32_TIES = 1 << 30


class CsrBuilder:
    """Collects undirected pairs and turns them into a symmetric CSR over `n` nodes.

    Each pair (a, b) is stored as the two int64 keys (a, b) and (b, a) in one buffer sized
    for `capacity` pairs (16 bytes a pair; it grows if needed). `finish` sorts the keys in
    place, drops repeated keys, writes the column ids as int32 into the front of the same
    buffer and shrinks it, so the peak is the key buffer plus one chunk of temporaries.
    """

    def __init__(self, n: int, capacity: int) -> None:
        if n >= 2**31:
            raise ValueError("node ids must fit in int32")
        self.n = int(n)
        self.capacity = max(0, int(capacity))
        # An owned int32 buffer (so that it can be resized in place); each key is two slots.
        self._buf: np.ndarray | None = np.empty(4 * self.capacity, dtype=np.int32)
        self._used = 0  # keys written

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        """Add the undirected pairs (a[i], b[i]) of node ids; self-loops are dropped."""
        if self._buf is None:
            raise RuntimeError("CsrBuilder.add after finish")
        if a.shape != b.shape:
            raise ValueError("endpoint arrays differ in shape")
        a, b = a.ravel(), b.ravel()
        loops = a == b
        if loops.any():
            a, b = a[~loops], b[~loops]
        del loops
        size = int(a.size)
        if self._used + 2 * size > 2 * self.capacity:
            self.capacity = max(self._used // 2 + size, self.capacity + self.capacity // 4)
            self._buf.resize(4 * self.capacity, refcheck=False)
        lo = 2 * self._used
        mid, hi = lo + 2 * size, lo + 4 * size
        self._buf[lo + _ROW_HALF : mid : 2] = a
        self._buf[lo + _COL_HALF : mid : 2] = b
        self._buf[mid + _ROW_HALF : hi : 2] = b
        self._buf[mid + _COL_HALF : hi : 2] = a
        self._used += 2 * size

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Return `(indptr[n + 1], indices int32)`; the builder cannot be used afterwards.

        `indptr` is int32 when there are fewer than 2**30 directed ties (sums of two offsets then
        stay within int32), int64 otherwise.
        """
        buf = self._buf
        if buf is None:
            raise RuntimeError("CsrBuilder.finish called twice")
        self._buf = None
        n, used = self.n, self._used
        counts = np.zeros(n, dtype=np.int32)
        keys = buf[: 2 * used].view(np.int64)
        keys.sort()
        written = 0
        prev = -1
        for lo in range(0, used, CHUNK):
            chunk = keys[lo : lo + CHUNK]
            keep = np.empty(chunk.size, dtype=bool)
            keep[0] = chunk[0] != prev
            np.not_equal(chunk[1:], chunk[:-1], out=keep[1:])
            prev = int(chunk[-1])
            halves = buf[2 * lo : 2 * lo + 2 * chunk.size]
            rows = halves[_ROW_HALF::2][keep]
            cols = halves[_COL_HALF::2][keep]
            del chunk, keep, halves
            k = int(cols.size)
            if k:
                first = int(rows[0])
                per_row = np.bincount(rows - first)
                counts[first : first + per_row.size] += per_row.astype(np.int32)
                # The written slots end before this chunk's end, and every read of it is done.
                buf[written : written + k] = cols
                written += k
        del keys
        buf.resize(written, refcheck=False)
        indptr = np.zeros(n + 1, dtype=np.int32 if written < INT32_TIES else np.int64)
        np.cumsum(counts, dtype=indptr.dtype, out=indptr[1:])
        return indptr, buf


def empty_csr(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A CSR with no edges over `n` nodes."""
    return np.zeros(n + 1, dtype=np.int32), np.zeros(0, dtype=np.int32)
