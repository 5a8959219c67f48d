"""Undirected edge lists to symmetric CSR (sorted rows, no self-loops, no duplicates)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from scslab.hardware import available_cores

# Builders of a layer generate their pairs this many at a time, so the temporaries stay small (and
# small enough for the allocator to reuse them instead of mapping fresh pages each time).
CHUNK = 1 << 18
# A key is `row * 2**32 + col` (row-major order, like `row * N + col`, but decoded with a
# shift and a view instead of a division); in memory its int32 halves are (col, row) on
# little-endian machines.
_COL_HALF, _ROW_HALF = (0, 1) if np.little_endian else (1, 0)
# Key buffers at least this long are sorted on several threads (`sort_keys`).
SPLIT_KEYS = 1 << 22
# Below this many directed ties a layer's offsets are int32.
INT32_TIES = 1 << 30


class CsrBuilder:
    """Collects undirected pairs and turns them into a symmetric CSR over `n` nodes.

    Each pair (a, b) is stored as the two int64 keys (a, b) and (b, a) in one buffer sized
    for `capacity` pairs (16 bytes a pair; it grows if needed); a self-loop's keys are left
    empty (-1). `finish` sorts the keys in place (on several threads), drops empty and repeated
    keys, writes the column ids as int32 into the front of the same buffer and shrinks it, so the
    peak is the key buffer plus the row counts.
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
        self.write_at(self.reserve(int(a.size)), a, b)

    def reserve(self, pairs: int) -> int:
        """Set aside room for `pairs` pairs to be written with `write_at`; return the first pair's slot."""
        if self._buf is None:
            raise RuntimeError("CsrBuilder.reserve after finish")
        if self._used + 2 * pairs > 2 * self.capacity:
            self.capacity = max(self._used // 2 + pairs, self.capacity + self.capacity // 4)
            self._buf.resize(4 * self.capacity, refcheck=False)
        first = self._used // 2
        self._used += 2 * pairs
        return first

    def write_at(self, slot: int, a: np.ndarray, b: np.ndarray) -> None:
        """Write the pairs (a[i], b[i]) into reserved slots from `slot` on; a self-loop leaves its two
        keys empty. Threads may write disjoint reserved ranges at once."""
        assert self._buf is not None
        _write_pairs_at(self._buf, slot, a, b, _ROW_HALF, _COL_HALF)

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
        sort_keys(buf[: 2 * used].view(np.int64), 0, n, available_cores())
        written = _compact_sorted(buf, used, counts, _ROW_HALF, _COL_HALF)
        buf.resize(written, refcheck=False)
        indptr = np.zeros(n + 1, dtype=np.int32 if written < INT32_TIES else np.int64)
        np.cumsum(counts, dtype=indptr.dtype, out=indptr[1:])
        return indptr, buf


def sort_keys(keys: np.ndarray, low_row: int, high_row: int, threads: int) -> None:
    """Sort int64 keys (rows in [low_row, high_row), empty keys -1) in place, on `threads` threads:
    split at the middle row (`_partition`), then sort the two sides at once (numpy's sort lets go
    of the interpreter lock)."""
    if threads < 2 or keys.size < SPLIT_KEYS or high_row - low_row < 2:
        keys.sort()
        return
    middle = (low_row + high_row) // 2
    cut = _partition(keys, np.int64(middle) << np.int64(32))
    halves = [(keys[:cut], low_row, middle, threads // 2), (keys[cut:], middle, high_row, threads - threads // 2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda half: sort_keys(*half), halves))


def empty_csr(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A CSR with no edges over `n` nodes."""
    return np.zeros(n + 1, dtype=np.int32), np.zeros(0, dtype=np.int32)


@njit(cache=True, nogil=True)
def _write_pairs_at(  # pragma: no cover - compiled
    buf: np.ndarray, slot: int, a: np.ndarray, b: np.ndarray, row_half: int, col_half: int
) -> None:
    """Write the keys (a, b) and (b, a) of pair j into key slots 2 (slot + j) and 2 (slot + j) + 1;
    a self-loop's two keys are set to -1 (both halves)."""
    for j in range(a.size):
        k = 4 * (slot + j)
        if a[j] == b[j]:
            buf[k : k + 4] = -1
            continue
        buf[k + row_half] = a[j]
        buf[k + col_half] = b[j]
        buf[k + 2 + row_half] = b[j]
        buf[k + 2 + col_half] = a[j]


@njit(cache=True, nogil=True)
def _compact_sorted(  # pragma: no cover - compiled
    buf: np.ndarray, used: int, counts: np.ndarray, row_half: int, col_half: int
) -> int:
    """Walk the `used` sorted keys of `buf`, dropping repeats: write each distinct key's column
    as int32 into the front of `buf` and count it in its row; return the number written.

    The write position never passes the key being read (it moves 4 bytes a key, the reads 8).
    Empty keys (-1, from self-loops written with `write_at`) sort first and are skipped.
    """
    written = 0
    prev_row = -1
    prev_col = -1
    for j in range(used):
        row = buf[2 * j + row_half]
        col = buf[2 * j + col_half]
        if row < 0 or (row == prev_row and col == prev_col):
            continue
        prev_row = row
        prev_col = col
        buf[written] = col
        counts[row] += 1
        written += 1
    return written


@njit(cache=True, nogil=True)
def _partition(keys: np.ndarray, pivot: np.int64) -> int:  # pragma: no cover - compiled
    """Reorder `keys` in place so that those below `pivot` come first; return how many they are."""
    i = 0
    j = keys.size - 1
    while True:
        while i <= j and keys[i] < pivot:
            i += 1
        while i <= j and keys[j] >= pivot:
            j -= 1
        if i >= j:
            return i
        keys[i], keys[j] = keys[j], keys[i]
