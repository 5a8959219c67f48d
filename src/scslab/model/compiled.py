"""Low-level helpers the compiled kernels share: a prefetch hint, fixed chunks, records filled in
parallel, a counting sort and compaction of id lists.

Kernels are `@njit(cache=True, nogil=True)`: compiled once and cached on disk, so only the first
run after an install pays the compilation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

# Parallel kernels split their work into chunks of this many items: fixed, not per thread, so
# that what they compute (sums included) does not depend on the number of threads.
CHUNK = 4096
# Random reads are requested this many items ahead (`prefetch`), so that several cache misses
# are in flight at once instead of one at a time.
AHEAD = 16


@intrinsic
def _prefetch(typingctx: Any, arr: Any, idx: Any) -> Any:  # pragma: no cover - compiled
    """Ask the CPU to start loading row `idx` of `arr` into cache (a hint: no result, never faults)."""
    sig = types.void(arr, idx)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty, idxty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        inds = [context.cast(builder, args[1], idxty, types.intp)] + [zero] * (aryty.ndim - 1)
        ptr = cgutils.get_item_pointer2(
            context,
            builder,
            data=ary.data,
            shape=cgutils.unpack_tuple(builder, ary.shape),
            strides=cgutils.unpack_tuple(builder, ary.strides),
            layout=aryty.layout,
            inds=inds,
            wraparound=False,
            boundscheck=False,
        )
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        # named by llvmlite for the pointer type (llvm.prefetch.p0i8; LLVM with opaque pointers renames it)
        fn = builder.module.declare_intrinsic(
            "llvm.prefetch", [i8p], ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        )
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])  # read, keep in all levels, data
        return context.get_dummy_value()

    return sig, codegen


# `prefetch(arr, idx)` inside compiled code (typed as Any: the intrinsic's Python signature is numba's)
prefetch: Any = _prefetch


@njit(cache=True, nogil=True, parallel=True)
def fill_records(out: np.ndarray, values: np.ndarray) -> None:  # pragma: no cover - compiled
    """Write `values` into every row of `out` (first touching its pages in parallel).

    `out` comes from numpy, which asks the kernel for huge pages for large arrays (numba's own
    allocations do not, and random reads then miss the TLB far more often).
    """
    for i in prange(out.shape[0]):
        for c in range(values.size):
            out[i, c] = values[c]


@njit(cache=True, nogil=True)
def counting_order(keys: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Positions 0..n-1 sorted by their small integer key (stable; int32), each key's start
    (size n_keys + 1) and count: a counting sort, O(n + n_keys)."""
    size = np.zeros(n_keys, dtype=np.int64)
    for k in keys:
        size[k] += 1
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for k in range(n_keys):
        start[k + 1] = start[k] + size[k]
    at = start[:-1].copy()
    order = np.empty(keys.size, dtype=np.int32)
    for i in range(keys.size):
        order[at[keys[i]]] = i
        at[keys[i]] += 1
    return order, start, size


@njit(cache=True, nogil=True)
def keep_members(items: np.ndarray, count: int, member: np.ndarray) -> int:  # pragma: no cover - compiled
    """Move the first `count` entries of `items` that are still members to the front, in order;
    return how many there are."""
    kept = 0
    for j in range(count):
        if j + AHEAD < count:
            prefetch(member, items[j + AHEAD])
        i = items[j]
        if member[i]:
            items[kept] = i
            kept += 1
    return kept


@njit(cache=True, nogil=True)
def last_occurrences(ids: np.ndarray, stamp: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """`ids` without repeats, each at its last occurrence (`stamp`: per-citizen scratch, overwritten)."""
    for j in range(ids.size):
        if j + AHEAD < ids.size:
            prefetch(stamp, ids[j + AHEAD])
        stamp[ids[j]] = j
    keep = 0
    for j in range(ids.size):
        keep += stamp[ids[j]] == j
    out = np.empty(keep, dtype=ids.dtype)
    k = 0
    for j in range(ids.size):
        if stamp[ids[j]] == j:
            out[k] = ids[j]
            k += 1
    return out
