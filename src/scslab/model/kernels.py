"""Numba kernels for the walks numpy cannot vectorise without large temporaries.

Each kernel is a plain loop over the day's ids and their ties; compiled once and cached on
disk (`cache=True`), so only the first run after an install pays the compilation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

# Columns of the per-citizen records the kernels read together (one cache line a citizen
# instead of one a column): `State.ledgers` and `State.risk`.
OWN, MISATTRIBUTED, ASSOCIATION, MERIT, SCORE = range(5)
RHO, RHO_DAY, EXPOSURE = range(3)
# Scheduled recovery (docs/model.md, "Recovery in closed form"): per citizen one int32 record of
# the day through which recovery is in the ledgers (NOT_RECOVERING when not recovering), the
# slot in the moving histogram (-1 when the score is not moving), the citizen's wake day (-1:
# none) and where the citizen's id is in that day's wakes. Each day's wakes are ids in a chain
# of blocks of a pool allocated once (`State.wake_pool`: WAKE_BLOCK ids, then the next and the
# previous block's numbers, a row). `State.wake_meta` holds per day the chain's first and last
# block, the ids in the last one and in all (rows HEAD, TAIL, FILL, COUNT), and in its last
# column the first free block (row HEAD).
REC_DAY, MSLOT, WAKE, WAKE_AT = range(4)
HEAD, TAIL, FILL, COUNT = range(4)
WAKE_BLOCK = 64
NEXT_BLOCK, PREV_BLOCK = WAKE_BLOCK, WAKE_BLOCK + 1
NOT_RECOVERING = np.iinfo(np.int32).max
# Crossing days are rounded up after taking this much off, so that a crossing computed a hair
# late in floating point is woken on its day (one woken early is planned again for the next).
CROSSING_SLACK = 1e-9
# Scores and the counterfactual are kept on a grid of 1 / SNAP points (`snap`), far below any
# points a scenario can set, so that whole or decimal points that meet a bound exactly do meet it.
SNAP = 1e9
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


@njit(cache=True, nogil=True, inline="always")
def decayed_risk(risk: np.ndarray, i: int, day: int, decay: np.ndarray) -> float:  # pragma: no cover - compiled
    """`rho_i` at the start of `day`: the stored value times `1 - eta` for each day since it was written.

    `decay[a] = (1 - eta) ** a` (a table over the run's days; beyond it the power is taken).
    """
    age = day - 1 - int(risk[i, RHO_DAY])
    if age < decay.size:
        return risk[i, RHO] * decay[age]
    return risk[i, RHO] * decay[1] ** age


@njit(cache=True, nogil=True)
def decayed_risks(  # pragma: no cover - compiled
    ids: np.ndarray, risk: np.ndarray, day: int, decay: np.ndarray
) -> np.ndarray:
    """`decayed_risk` for each of `ids`."""
    out = np.empty(ids.size)
    for j in range(ids.size):
        if j + AHEAD < ids.size:
            prefetch(risk, ids[j + AHEAD])
        out[j] = decayed_risk(risk, ids[j], day, decay)
    return out


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


@njit(cache=True, nogil=True, parallel=True)
def apply_risk(  # pragma: no cover - compiled
    keys: np.ndarray, gamma: float, risk: np.ndarray, day: int, eta: float, decay: np.ndarray
) -> float:
    """`rho_i <- (1 - eta) rho_i + eta min(1, pen_i + gamma n_i)` for every citizen with a key.

    `keys` is ascending: `2 i` once if i was charged a negative point today (pen_i = 1), and
    `2 i + 1` once per active tie of i to a citizen charged for an event today (n_i times);
    negative keys are skipped. Each run of equal i is one update, the records read in address
    order; chunks of runs go in parallel. Each citizen written is stamped with `day`; returns
    the sum of `min(1, pen_i + gamma n_i)` (summed by chunk, in chunk order).
    """
    first = int(np.searchsorted(keys, 0))
    n_chunks = (keys.size - first + CHUNK - 1) // CHUNK
    bounds = np.empty(n_chunks + 1, dtype=np.int64)
    for c in range(n_chunks + 1):
        b: int = min(first + c * CHUNK, keys.size)
        while first < b < keys.size and keys[b] >> 1 == keys[b - 1] >> 1:
            b += 1  # chunks start where a run starts
        bounds[c] = max(b, bounds[c - 1]) if c > 0 else b
    partial = np.zeros(n_chunks)
    for c in prange(n_chunks):
        j = bounds[c]
        end = bounds[c + 1]
        total = 0.0
        while j < end:
            if j + AHEAD < keys.size:
                prefetch(risk, keys[j + AHEAD] >> 1)
            i = keys[j] >> 1
            pen = 0.0
            n_i = 0
            while j < end and keys[j] >> 1 == i:
                if keys[j] & 1:
                    n_i += 1
                else:
                    pen = 1.0
                j += 1
            x = min(1.0, pen + gamma * n_i)
            risk[i, RHO] = (1.0 - eta) * decayed_risk(risk, i, day, decay) + eta * x
            risk[i, RHO_DAY] = day
            total += x
        partial[c] = total
    out = 0.0
    for c in range(n_chunks):  # in chunk order (an array sum here would become a parallel reduction)
        out += partial[c]
    return out


@njit(cache=True, nogil=True, parallel=True)
def deterrence_factor(  # pragma: no cover - compiled
    ids: np.ndarray, risk: np.ndarray, day: int, decay: np.ndarray, strength: float, psi: float, associated: bool
) -> np.ndarray:
    """`exp(-strength * rho_i * (1 + psi * A_i))` with rho decayed since it was written (`decayed_risk`).

    `strength = beta_e * |w_e| / 100`; `A_i = sum_l alpha_l * deg_l(i)` (the EXPOSURE column) when the
    event type is under association, else 0.
    """
    out = np.empty(ids.size)
    for j in prange(ids.size):
        if j + AHEAD < ids.size:
            prefetch(risk, ids[j + AHEAD])
        i = ids[j]
        a = risk[i, EXPOSURE] if associated else 0.0
        out[j] = np.exp(-strength * decayed_risk(risk, i, day, decay) * (1.0 + psi * a))
    return out


@njit(cache=True, nogil=True, parallel=True)
def block_totals(weights: np.ndarray, block: int) -> np.ndarray:  # pragma: no cover - compiled
    """Sums of `weights` over consecutive blocks of `block` entries, added in order (float64)."""
    n_blocks = (weights.size + block - 1) // block
    out = np.zeros(n_blocks)
    for b in prange(n_blocks):
        acc = 0.0
        for k in range(b * block, min((b + 1) * block, weights.size)):
            acc += weights[k]
        out[b] = acc
    return out


@njit(cache=True, nogil=True, parallel=True)
def place_sorted(  # pragma: no cover - compiled
    positions: np.ndarray,
    block_cum: np.ndarray,
    super_cum: np.ndarray,
    weights: np.ndarray,
    eligible: np.ndarray,
    block: int,
    per_super: int,
) -> np.ndarray:
    """The citizen at each of the ascending `positions` along the running sum of `weights`.

    `block_cum[b]` is the running sum of `weights` to the end of block b, and `super_cum[c]` the
    same to the end of super-block c (`per_super` blocks). In three passes over each chunk of
    positions: the super-block, by a galloping search forward from the previous position's (a
    small array, so it stays in cache); the block, by a walk inside the super-block;
    the entry, by a walk inside the block. The last two request their memory ahead (`prefetch`).
    Round-off at a block's end falls back on the block's last entry of positive weight. Chunks
    run in parallel. An empty `eligible` means that the weights run over all citizens: the
    entry is the citizen.
    """
    n_blocks = block_cum.size
    n_supers = super_cum.size
    lines = max(1, per_super * 8 // 64)  # cache lines of block_cum in one super-block
    out = np.empty(positions.size, dtype=np.int64)
    for c in prange((positions.size + CHUNK - 1) // CHUNK):
        lo_j = c * CHUNK
        hi_j = min(lo_j + CHUNK, positions.size)
        # 1. the first super-block whose running sum exceeds the position
        s = min(np.searchsorted(super_cum, positions[lo_j], side="right"), n_supers - 1)
        for j in range(lo_j, hi_j):
            x = positions[j]
            if super_cum[s] <= x and s < n_supers - 1:
                lo = s
                step = 1
                hi = min(lo + step, n_supers - 1)
                while hi < n_supers - 1 and super_cum[hi] <= x:
                    lo = hi
                    step *= 2
                    hi = min(lo + step, n_supers - 1)
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if super_cum[mid] <= x:
                        lo = mid
                    else:
                        hi = mid
                s = hi
            out[j] = s
        # 2. the first block of that super-block whose running sum exceeds the position (from the
        # previous position's block when they share the super-block)
        b = -1
        for j in range(lo_j, hi_j):
            if j + AHEAD < hi_j and out[j + AHEAD] != out[j + AHEAD - 1]:
                for line in range(lines):
                    prefetch(block_cum, min(out[j + AHEAD] * per_super + line * 8, n_blocks - 1))
            lo = out[j] * per_super
            hi = min(lo + per_super, n_blocks) - 1
            lo = max(lo, b)
            x = positions[j]
            while lo < hi and block_cum[lo] <= x:  # a walk over at most per_super sums (two lines)
                lo += 1
            b = lo
            out[j] = lo
        # 3. the entry inside the block
        for j in range(lo_j, hi_j):
            if j + AHEAD < hi_j:
                prefetch(weights, out[j + AHEAD] * block)
                if eligible.size:
                    prefetch(eligible, out[j + AHEAD] * block)
            b = out[j]
            target = positions[j] - (block_cum[b - 1] if b > 0 else 0.0)
            k = b * block
            last = min(k + block, weights.size)
            chosen = -1
            acc = 0.0
            while k < last:
                w = weights[k]
                if w > 0:
                    chosen = k
                    acc += w
                    if acc > target:
                        break
                k += 1
            out[j] = eligible[chosen] if eligible.size else chosen
    return out


@njit(cache=True, nogil=True, parallel=True)
def refresh(  # pragma: no cover - compiled
    ids: np.ndarray,
    ledgers: np.ndarray,
    tier: np.ndarray,
    bounds: np.ndarray,
    tier_bounds: np.ndarray,
    hist: np.ndarray,
    tier_counts: np.ndarray,
    listed: np.ndarray,
    notable: np.ndarray,
    per_day: float,
    done: np.ndarray,
    recs: np.ndarray,
    wake_meta: np.ndarray,
    wake_pool: np.ndarray,
    moving_hist: np.ndarray,
    recovering: np.ndarray,
    cur: int,
    lazy_per_day: float,
) -> tuple[float, int]:
    """Recompute the clamped score and tier of `ids` (unique) from their ledgers, move them in the
    0.1-point histograms and the tier counts; return the change in the sum of scores and in the
    number of moving citizens.

    `bounds` holds (start, min, max, bin width, threshold). With `per_day` > 0 each citizen first
    recovers (`recover_one`, in the same pass) and `done[j]` says whether their negative ledgers
    are now clear. With `lazy_per_day` > 0 (scheduled recovery) each citizen `recovering` is first
    settled through day `cur` (`settle_one`) and, if still in debt, planned: their next wake is
    written to the wake pool (`schedule_wake`) and, when their score rises `lazy_per_day` a day
    until then, they are counted in `moving_hist` (`plan`); `done[j]` says whether their debt is
    clear.

    `notable[j]` is set when the j-th citizen's tier changed, or their score is below the threshold
    while they are not `listed`: the only changes the sanctions phase must look at. The citizens
    are recomputed in parallel (the change in the sum added by chunk, in chunk order); the
    histograms, counts and wakes follow.
    """
    start, low, high, bin_width, threshold = bounds[0], bounds[1], bounds[2], bounds[3], bounds[4]
    n_bins = hist.size
    last_tier = tier_counts.size - 1
    lazy = lazy_per_day > 0
    q = int(np.rint(lazy_per_day / bin_width))  # bins a moving score rises a day
    # each citizen's (slot, tier) before and after, packed as slot * 128 + tier (tiers are int8); a
    # slot below n_bins is a bin of `hist`, above it one of `moving_hist`
    moves = np.empty((ids.size, 2), dtype=np.int64)
    wake = np.full(ids.size if lazy else 0, -1, dtype=np.int64)
    n_chunks = (ids.size + CHUNK - 1) // CHUNK
    partial = np.zeros(n_chunks)
    for c in prange(n_chunks):
        delta = 0.0
        for j in range(c * CHUNK, min((c + 1) * CHUNK, ids.size)):
            if j + AHEAD < ids.size:
                prefetch(ledgers, ids[j + AHEAD])
                prefetch(tier, ids[j + AHEAD])
                if lazy:  # (unconditionally: reading the mask here would wait for it)
                    prefetch(recovering, ids[j + AHEAD])
                    prefetch(recs, ids[j + AHEAD])
            i = ids[j]
            before = -1
            scheduled = lazy and recovering[i]  # (only they use their recovery record)
            if scheduled:
                settle_one(ledgers, recs, i, cur, lazy_per_day)
                if recs[i, MSLOT] >= 0:
                    before = n_bins + recs[i, MSLOT]
            elif per_day > 0:
                done[j] = recover_one(ledgers, i, per_day)
            raw = start + ledgers[i, OWN] + ledgers[i, MISATTRIBUTED] + ledgers[i, ASSOCIATION] + ledgers[i, MERIT]
            v = snap(min(max(raw, low), high))
            t = 0  # the number of tier bounds strictly above the score is its tier index
            while t < tier_bounds.size and tier_bounds[t] > v:
                t += 1
            t = min(t, last_tier)
            old = ledgers[i, SCORE]
            old_t = tier[i]
            if before < 0:
                before = bin_of(old, low, bin_width, n_bins)
            after = bin_of(v, low, bin_width, n_bins)
            if scheduled:
                recs[i, MSLOT] = -1
                if negative_debt(ledgers, i) > 0:
                    days, moves_linearly = plan(ledgers, i, raw, v, lazy_per_day, bounds, tier_bounds)
                    wake[j] = cur + days
                    if moves_linearly:
                        recs[i, MSLOT] = moving_slot(after, cur, q, moving_hist.size, n_bins)
                        after = n_bins + recs[i, MSLOT]
                else:
                    done[j] = True
                    recs[i, REC_DAY] = NOT_RECOVERING
            moves[j, 0] = before * 128 + old_t
            moves[j, 1] = after * 128 + t
            notable[j] = t != old_t or (v < threshold and not listed[i])
            delta += v - old
            ledgers[i, SCORE] = v
            tier[i] = t
        partial[c] = delta
    d_moving = 0
    for j in range(ids.size):  # integer counts and lists: the same in any order
        before, after = moves[j, 0], moves[j, 1]
        if before != after:
            b, a = before >> 7, after >> 7
            if b < n_bins:
                hist[b] -= 1
            else:
                moving_hist[b - n_bins] -= 1
                d_moving -= 1
            if a < n_bins:
                hist[a] += 1
            else:
                moving_hist[a - n_bins] += 1
                d_moving += 1
            tier_counts[before & 127] -= 1
            tier_counts[after & 127] += 1
        if lazy and recovering[ids[j]]:
            schedule_wake(recs, wake_meta, wake_pool, ids[j], wake[j])
    total = 0.0
    for c in range(n_chunks):  # in chunk order (an array sum here would become a parallel reduction)
        total += partial[c]
    return total, d_moving


@njit(cache=True, nogil=True, inline="always")
def moving_slot(bin_: int, cur: int, q: int, moving_size: int, n_bins: int) -> int:  # pragma: no cover - compiled
    """The slot of the moving histogram of a score in bin `bin_` on day `cur`: `bin - q cur + offset`,
    with the score rising q bins a day and `offset = q (days + 1)` (the histogram has
    `n_bins + q (days + 2)` slots, so that every day from -1 to the last fits)."""
    return bin_ - q * cur + moving_size - n_bins - q


@njit(cache=True, nogil=True)
def settle_one(  # pragma: no cover - compiled
    ledgers: np.ndarray, recs: np.ndarray, i: int, cur: int, per_day: float
) -> None:
    """Bring citizen i's ledgers through day `cur`: `k` more days of recovery are `recover_one(k p)`
    (proportional shares are kept, so k days at once equal k days one by one). A moving score
    gains k p, as the score index already counted."""
    r = recs[i, REC_DAY]
    if r < cur:
        k = cur - r
        recover_one(ledgers, i, k * per_day)
        if recs[i, MSLOT] >= 0:
            ledgers[i, SCORE] += k * per_day
        recs[i, REC_DAY] = cur


@njit(cache=True, nogil=True, inline="always")
def days_to(gap: float, per_day: float) -> float:  # pragma: no cover - compiled
    """Days of `per_day` points until `gap` points are made up (at least 1)."""
    return max(1.0, np.ceil(gap / per_day - CROSSING_SLACK))


@njit(cache=True, nogil=True)
def plan(  # pragma: no cover - compiled
    ledgers: np.ndarray,
    i: int,
    raw: float,
    v: float,
    per_day: float,
    bounds: np.ndarray,
    tier_bounds: np.ndarray,
) -> tuple[int, bool]:
    """Days until citizen i (settled, in debt) must be looked at again, and whether their score
    rises exactly `per_day` a day until then. The first day of: the end of the debt, a score
    crossing a tier bound, the threshold or the maximum, a raw score reaching the minimum from
    below, or the counterfactual `S0 + own + merit` reaching the threshold (the wrongful count)."""
    start, low, high, threshold = bounds[0], bounds[1], bounds[2], bounds[4]
    debt = negative_debt(ledgers, i)
    days = days_to(debt, per_day)
    own = ledgers[i, OWN]
    counterfactual = start + own + ledgers[i, MERIT]
    if own < 0 and low < threshold <= high and counterfactual < threshold:
        # own rises by -own p / debt a day (its share of the debt is kept)
        days = min(days, days_to((threshold - counterfactual) * debt / -own, per_day))
    moving = False
    if raw < low:
        days = min(days, days_to(low - raw, per_day))
    elif raw < high:
        moving = True
        nearest = high
        for b in tier_bounds:
            if v < b < nearest:
                nearest = b
        if v < threshold < nearest:
            nearest = threshold
        days = min(days, days_to(nearest - v, per_day))
    return int(min(days, 1 << 30)), moving


@njit(cache=True, nogil=True, inline="always")
def schedule_wake(  # pragma: no cover - compiled
    recs: np.ndarray, meta: np.ndarray, pool: np.ndarray, i: int, day: int
) -> None:
    """Make `day` citizen i's wake day (-1, or a day past the run's last: none), moving i between
    the days' wakes."""
    if day >= meta.shape[1] - 1:
        day = -1
    if recs[i, WAKE] == day:
        return
    if recs[i, WAKE] >= 0:
        drop_wake(recs, meta, pool, i)
    if day >= 0:
        add_wake(recs, meta, pool, i, day)


@njit(cache=True, nogil=True, inline="always")
def add_wake(  # pragma: no cover - compiled
    recs: np.ndarray, meta: np.ndarray, pool: np.ndarray, i: int, day: int
) -> None:
    """Write citizen i (in no day's wakes) at the end of day `day`'s wakes."""
    tail = meta[TAIL, day]
    if tail < 0 or meta[FILL, day] == WAKE_BLOCK:
        block = meta[HEAD, -1]  # a free block: the pool holds a block a day beyond the wakes
        meta[HEAD, -1] = pool[block, NEXT_BLOCK]
        pool[block, NEXT_BLOCK] = -1
        pool[block, PREV_BLOCK] = tail
        if tail < 0:
            meta[HEAD, day] = block
        else:
            pool[tail, NEXT_BLOCK] = block
        meta[TAIL, day] = block
        meta[FILL, day] = 0
        tail = block
    k = meta[FILL, day]
    pool[tail, k] = i
    recs[i, WAKE] = day
    recs[i, WAKE_AT] = tail * WAKE_BLOCK + k
    meta[FILL, day] = k + 1
    meta[COUNT, day] += 1


@njit(cache=True, nogil=True, inline="always")
def drop_wake(recs: np.ndarray, meta: np.ndarray, pool: np.ndarray, i: int) -> None:  # pragma: no cover - compiled
    """Take citizen i out of its wake day's wakes: the day's last id moves into its place, and a
    last block left empty is freed."""
    day = recs[i, WAKE]
    at = recs[i, WAKE_AT]
    tail = meta[TAIL, day]
    last = meta[FILL, day] - 1
    moved = pool[tail, last]
    pool[at // WAKE_BLOCK, at % WAKE_BLOCK] = moved
    recs[moved, WAKE_AT] = at
    recs[i, WAKE] = -1
    meta[COUNT, day] -= 1
    meta[FILL, day] = last
    if last == 0:
        prev = pool[tail, PREV_BLOCK]
        pool[tail, NEXT_BLOCK] = meta[HEAD, -1]
        meta[HEAD, -1] = tail
        meta[TAIL, day] = prev
        meta[FILL, day] = WAKE_BLOCK
        if prev < 0:
            meta[HEAD, day] = -1
        else:
            pool[prev, NEXT_BLOCK] = -1


def wake_pool_blocks(n: int, days: int) -> int:
    """Blocks of a wake pool that can never run out: a wake per citizen at most, and one partly
    filled block a day."""
    return -(-n // WAKE_BLOCK) + days + 1


@njit(cache=True, nogil=True)
def start_and_wake(  # pragma: no cover - compiled
    due: np.ndarray,
    last_negative: np.ndarray,
    ledgers: np.ndarray,
    recovering: np.ndarray,
    recs: np.ndarray,
    meta: np.ndarray,
    pool: np.ndarray,
    day: int,
    clean_days: int,
) -> tuple[np.ndarray, int]:
    """The citizens to settle and plan on `day` under scheduled recovery (int64, no repeats), and
    how many start: first those of `due` who start recovering (clean for `clean_days`, in debt,
    not yet recovering: they join `recovering` with their ledgers written through yesterday), then
    the citizens whose wake day is `day` (the day's wakes are emptied, their blocks freed)."""
    woken = meta[COUNT, day] if day < meta.shape[1] - 1 else 0
    out = np.empty(due.size + woken, dtype=np.int64)
    n = 0
    for j in range(due.size):
        if j + AHEAD < due.size:
            prefetch(ledgers, due[j + AHEAD])
            prefetch(last_negative, due[j + AHEAD])
        i = due[j]
        if not recovering[i] and day - last_negative[i] >= clean_days and negative_debt(ledgers, i) > 0:
            recovering[i] = True
            recs[i, REC_DAY] = day - 1
            out[n] = i
            n += 1
    started = n
    if woken:
        block = meta[HEAD, day]
        while block >= 0:
            last = meta[FILL, day] if pool[block, NEXT_BLOCK] < 0 else WAKE_BLOCK
            for k in range(last):
                if k + AHEAD < last:
                    prefetch(recs, pool[block, k + AHEAD])
                i = pool[block, k]
                recs[i, WAKE] = -1
                out[n] = i
                n += 1
            nxt = pool[block, NEXT_BLOCK]
            pool[block, NEXT_BLOCK] = meta[HEAD, -1]  # back to the free blocks
            meta[HEAD, -1] = block
            block = nxt
        meta[HEAD, day] = -1
        meta[TAIL, day] = -1
        meta[FILL, day] = 0
        meta[COUNT, day] = 0
    return out[:n], started


@njit(cache=True, nogil=True)
def stop_recovery(  # pragma: no cover - compiled
    ids: np.ndarray,
    ledgers: np.ndarray,
    recs: np.ndarray,
    meta: np.ndarray,
    pool: np.ndarray,
    hist: np.ndarray,
    moving_hist: np.ndarray,
    low: float,
    bin_width: float,
) -> int:
    """Take `ids` (unique, recovering, settled) out of scheduled recovery: out of their wake day's
    wakes, and a moving score back into the histogram of still ones; return how many were moving."""
    stopped = 0
    for j in range(ids.size):
        i = ids[j]
        if recs[i, WAKE] >= 0:
            drop_wake(recs, meta, pool, i)
        if recs[i, MSLOT] >= 0:
            moving_hist[recs[i, MSLOT]] -= 1
            hist[bin_of(ledgers[i, SCORE], low, bin_width, hist.size)] += 1
            recs[i, MSLOT] = -1
            stopped += 1
        recs[i, REC_DAY] = NOT_RECOVERING
    return stopped


@njit(cache=True, nogil=True)
def settle_ids(  # pragma: no cover - compiled
    ledgers: np.ndarray, recs: np.ndarray, ids: np.ndarray, cur: int, per_day: float
) -> None:
    """`settle_one` for each of `ids` (repeats are settled once)."""
    for j in range(ids.size):
        settle_one(ledgers, recs, ids[j], cur, per_day)


@njit(cache=True, nogil=True)
def settled_copy(  # pragma: no cover - compiled
    ledgers: np.ndarray, recs: np.ndarray, ids: np.ndarray, cur: int, per_day: float
) -> np.ndarray:
    """A copy of `ledgers` with `ids` settled through day `cur` (the stored ones are not touched)."""
    out = ledgers.copy()
    scratch = recs[:, :2].copy()
    for j in range(ids.size):
        settle_one(out, scratch, ids[j], cur, per_day)
    return out


@njit(cache=True, nogil=True, inline="always")
def counterfactual_score(ledgers: np.ndarray, i: int, bounds: np.ndarray) -> float:  # pragma: no cover - compiled
    """Citizen i's counterfactual score `clamp(S0 + own + merit)`, on the grid of `snap` (`bounds` as
    in `refresh`)."""
    return snap(min(max(bounds[0] + ledgers[i, OWN] + ledgers[i, MERIT], bounds[1]), bounds[2]))


@njit(cache=True, nogil=True, inline="always")
def snap(score: float) -> float:  # pragma: no cover - compiled
    """`score` on the grid of 1 / SNAP points (the nearest double to the multiple, as written in
    decimal): the round-off of proportional recovery (a debt of 100.00000000000003 after a few
    days' shares, say) must not keep a whole-point score a hair below a bound it meets in exact
    arithmetic."""
    return np.rint(score * SNAP) / SNAP


@njit(cache=True, nogil=True, inline="always")
def bin_of(score: float, low: float, bin_width: float, n_bins: int) -> int:  # pragma: no cover - compiled
    """The histogram bin of a score (`ScoreIndex._bins` computes the same with numpy)."""
    return min(max(int(np.rint((score - low) / bin_width)), 0), n_bins - 1)


@njit(cache=True, nogil=True, inline="always")
def negative_debt(ledgers: np.ndarray, i: int) -> float:  # pragma: no cover - compiled
    """The points citizen i owes: minus the sum of the negative parts of own, misattributed and association."""
    return -(min(ledgers[i, OWN], 0.0) + min(ledgers[i, MISATTRIBUTED], 0.0) + min(ledgers[i, ASSOCIATION], 0.0))


@njit(cache=True, nogil=True, inline="always")
def recover_one(ledgers: np.ndarray, i: int, per_day: float) -> bool:  # pragma: no cover - compiled
    """Give `per_day` points back to citizen i, from the negative ledgers in proportion to their
    size; a ledger cleared is set to exactly zero. Returns whether all are now clear."""
    o = min(ledgers[i, OWN], 0.0)
    m = min(ledgers[i, MISATTRIBUTED], 0.0)
    a = min(ledgers[i, ASSOCIATION], 0.0)
    debt = negative_debt(ledgers, i)
    back = min(per_day, debt)
    share = back / debt if debt > 0 else 0.0
    ledgers[i, OWN] -= o * share
    ledgers[i, MISATTRIBUTED] -= m * share
    ledgers[i, ASSOCIATION] -= a * share
    if back < debt:
        return False
    # cleared ledgers are set to exactly zero so that rounding leaves no residue
    for c in (OWN, MISATTRIBUTED, ASSOCIATION):
        ledgers[i, c] = max(ledgers[i, c], 0.0)
    return True


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
def fill_records(out: np.ndarray, values: np.ndarray) -> None:  # pragma: no cover - compiled
    """Write `values` into every row of `out` (first touching its pages in parallel).

    `out` comes from numpy, which asks the kernel for huge pages for large arrays (numba's own
    allocations do not, and random reads then miss the TLB far more often).
    """
    for i in prange(out.shape[0]):
        for c in range(values.size):
            out[i, c] = values[c]


@njit(cache=True, nogil=True, parallel=True)
def add_degrees(records: np.ndarray, column: int, indptr: np.ndarray, weight: float) -> None:  # pragma: no cover
    """Add `weight` times each row's number of ties (cut or not) to `records[:, column]`."""
    for i in prange(records.shape[0]):
        records[i, column] += weight * (indptr[i + 1] - indptr[i])


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


@njit(cache=True, nogil=True, parallel=True)
def wrongful_listings(  # pragma: no cover - compiled
    ids: np.ndarray,
    cause: np.ndarray,
    ledgers: np.ndarray,
    listing_wrongful: np.ndarray,
    bounds: np.ndarray,
    last_score_cause: int,
    listed_offence: int,
) -> np.ndarray:
    """Whether each listing of `ids` is wrongful, in one pass: a score listing whose counterfactual
    `clamp(S0 + own + merit)` reaches the threshold, or a listed offence charged to the wrong person
    (`bounds` as in `refresh`)."""
    threshold = bounds[4]
    out = np.empty(ids.size, dtype=np.bool_)
    for j in prange(ids.size):
        if j + AHEAD < ids.size:
            prefetch(cause, ids[j + AHEAD])
            prefetch(ledgers, ids[j + AHEAD])
        i = ids[j]
        k = cause[i]
        if k <= last_score_cause:
            out[j] = counterfactual_score(ledgers, i, bounds) >= threshold
        else:
            out[j] = k == listed_offence and listing_wrongful[i]
    return out


@njit(cache=True, nogil=True)
def score_causes(  # pragma: no cover - compiled
    ids: np.ndarray,
    ledgers: np.ndarray,
    bounds: np.ndarray,
    own_conduct: int,
    misattribution: int,
    association: int,
) -> np.ndarray:
    """Why a low score lists each of `ids`: own conduct if the counterfactual `clamp(S0 + own +
    merit)` alone is below the threshold, else the larger of the misattributed and association
    debts (misattribution on a tie; `bounds` as in `refresh`)."""
    threshold = bounds[4]
    out = np.empty(ids.size, dtype=np.int8)
    for j in range(ids.size):
        i = ids[j]
        if counterfactual_score(ledgers, i, bounds) < threshold:
            out[j] = own_conduct
        elif min(ledgers[i, MISATTRIBUTED], 0.0) <= min(ledgers[i, ASSOCIATION], 0.0):
            out[j] = misattribution
        else:
            out[j] = association
    return out


@njit(cache=True, nogil=True)
def quantile_bins(  # pragma: no cover - compiled
    hist: np.ndarray, moving_hist: np.ndarray, first: int, targets: np.ndarray
) -> np.ndarray:
    """For each ascending target count, the first bin at which the running count of `hist` plus
    `moving_hist` from slot `first` (none when `first` < 0) reaches it (the last bin if none does)."""
    out = np.full(targets.size, hist.size - 1, dtype=np.int64)
    k = 0
    acc = 0
    for b in range(hist.size):
        acc += hist[b]
        if first >= 0:
            acc += moving_hist[first + b]
        while k < targets.size and acc >= targets[k]:
            out[k] = b
            k += 1
        if k == targets.size:
            break
    return out


@njit(cache=True, nogil=True, parallel=True)
def due_to_leave(  # pragma: no cover - compiled
    ids: np.ndarray,
    cause: np.ndarray,
    listed_day: np.ndarray,
    ledgers: np.ndarray,
    rep_firm: np.ndarray,
    firm_blacklisted: np.ndarray,
    day: int,
    min_days: int,
    term_days: int,
    threshold: float,
    last_score_cause: int,
    listed_offence: int,
) -> np.ndarray:
    """Whether each listing of `ids` ends today: a score listing after `min_days` with the score
    back at the threshold, a listed offence after `term_days`, joint punishment once the firm is
    off its blacklist."""
    leave = np.empty(ids.size, dtype=np.bool_)
    for j in prange(ids.size):
        if j + AHEAD < ids.size:
            prefetch(cause, ids[j + AHEAD])
            prefetch(listed_day, ids[j + AHEAD])
            prefetch(ledgers, ids[j + AHEAD])
        i = ids[j]
        k = cause[i]
        served = day - listed_day[i]
        if k <= last_score_cause:
            leave[j] = served >= min_days and ledgers[i, SCORE] >= threshold
        elif k == listed_offence:
            leave[j] = served >= term_days
        else:
            f = rep_firm[i]
            leave[j] = not (f >= 0 and firm_blacklisted[f])
    return leave


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


@njit(cache=True, nogil=True)
def ready_to_recover(  # pragma: no cover - compiled
    ids: np.ndarray, last_negative: np.ndarray, ledgers: np.ndarray, day: int, clean_days: int
) -> np.ndarray:
    """Whether each of `ids` has been clean for `clean_days` and still has negative points to recover."""
    out = np.empty(ids.size, dtype=np.bool_)
    for j in range(ids.size):
        if j + AHEAD < ids.size:
            prefetch(last_negative, ids[j + AHEAD])
            prefetch(ledgers, ids[j + AHEAD])
        i = ids[j]
        out[j] = day - last_negative[i] >= clean_days and negative_debt(ledgers, i) > 0
    return out


@njit(cache=True, nogil=True)
def post_charges(  # pragma: no cover - compiled
    ledgers: np.ndarray,
    target: np.ndarray,
    points: np.ndarray,
    misattributed: np.ndarray,
    recs: np.ndarray,
    recovering: np.ndarray,
    cur: int,
    per_day: float,
) -> None:
    """Post each charge to its ledger: a misattributed one to MISATTRIBUTED, the others to OWN
    (negative points) or MERIT (in order, repeats included). Under scheduled recovery (`per_day`
    > 0) a `recovering` target is first settled through day `cur`."""
    for j in range(target.size):
        if j + AHEAD < target.size:
            prefetch(ledgers, target[j + AHEAD])
            if per_day > 0:
                prefetch(recovering, target[j + AHEAD])
                prefetch(recs, target[j + AHEAD])
        if per_day > 0 and recovering[target[j]]:
            settle_one(ledgers, recs, target[j], cur, per_day)
        p = points[j]
        column = MISATTRIBUTED if misattributed[j] else (OWN if p < 0 else MERIT)
        ledgers[target[j], column] += p


@njit(cache=True, nogil=True)
def post_to_contacts(  # pragma: no cover - compiled
    indices: np.ndarray,
    active: np.ndarray,
    start: np.ndarray,
    offset: np.ndarray,
    amount: np.ndarray,
    ledgers: np.ndarray,
    column: int,
    out: np.ndarray,
    n: int,
    recs: np.ndarray,
    recovering: np.ndarray,
    cur: int,
    per_day: float,
) -> int:
    """Add `amount[r]` to `column` of every active contact of row r (rows located by `row_spans`),
    writing each contact charged into `out` from position `n`; return the new length. Under
    scheduled recovery (`per_day` > 0) each `recovering` contact is first settled through day `cur`."""
    for r in range(start.size):
        if r + AHEAD < start.size:
            prefetch(indices, start[r + AHEAD])
            prefetch(active, start[r + AHEAD])
        for slot in range(start[r], start[r] + offset[r + 1] - offset[r]):
            if active[slot]:
                k = int(indices[slot])  # (int64: one compiled `settle_one`)
                if per_day > 0 and recovering[k]:
                    settle_one(ledgers, recs, k, cur, per_day)
                ledgers[k, column] += amount[r]
                out[n] = k
                n += 1
    return n
