"""Scheduled recovery (docs/model.md, "Recovery in closed form"): the recovery records, the wake
pool and the kernels that settle, plan and wake recovering citizens.

Per citizen one int32 record (`State.sched`) of the day through which recovery is in the ledgers
(NOT_RECOVERING when not recovering), the slot in the moving histogram (-1 when the score is not
moving), the citizen's wake day (-1: none) and where the citizen's id is in that day's wakes
(columns REC_DAY, MSLOT, WAKE, WAKE_AT). Each day's wakes are ids in a chain of blocks of a pool
allocated once (`State.wake_pool`: WAKE_BLOCK ids, then the next and the previous block's numbers,
a row). `State.wake_meta` holds per day the chain's first and last block, the ids in the last one
and in all (rows HEAD, TAIL, FILL, COUNT), and in its last column the first free block (row HEAD).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from scslab.model.compiled import AHEAD, fill_records, prefetch
from scslab.model.ledgers import L_MERIT, L_OWN, L_SCORE, bin_of, negative_debt, recover_one
from scslab.model.params import SCORE_BIN

if TYPE_CHECKING:
    from scslab.model.ledgers import ScoringArrays
    from scslab.model.params import Compiled

REC_DAY, MSLOT, WAKE, WAKE_AT = range(4)
HEAD, TAIL, FILL, COUNT = range(4)
WAKE_BLOCK = 64
NEXT_BLOCK, PREV_BLOCK = WAKE_BLOCK, WAKE_BLOCK + 1
NOT_RECOVERING = np.iinfo(np.int32).max
# Crossing days are rounded up after taking this much off, so that a crossing computed a hair
# late in floating point is woken on its day (one woken early is planned again for the next).
CROSSING_SLACK = 1e-9


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
            ledgers[i, L_SCORE] += k * per_day
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
    own = ledgers[i, L_OWN]
    counterfactual = start + own + ledgers[i, L_MERIT]
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
def stop_recovery(arrays: ScoringArrays, ids: np.ndarray) -> int:  # pragma: no cover - compiled
    """Take `ids` (unique, recovering, settled) out of scheduled recovery: out of their wake day's
    wakes, and a moving score back into the histogram of still ones; return how many were moving."""
    ledgers, recs, hist, moving_hist = arrays.ledgers, arrays.recs, arrays.hist, arrays.moving_hist
    low, bin_width = arrays.bounds[1], arrays.bounds[3]
    stopped = 0
    for j in range(ids.size):
        i = ids[j]
        if recs[i, WAKE] >= 0:
            drop_wake(recs, arrays.wake_meta, arrays.wake_pool, i)
        if recs[i, MSLOT] >= 0:
            moving_hist[recs[i, MSLOT]] -= 1
            hist[bin_of(ledgers[i, L_SCORE], low, bin_width, hist.size)] += 1
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


def scheduled_bins_a_day(cp: Compiled) -> int:
    """Histogram bins a recovering score rises a day under scheduled recovery, or 0 when recovery is
    eager (a `per_day` that is not a whole number of bins, or scheduling switched off) or off."""
    per_day = cp.p.recovery.per_day
    bins = per_day / SCORE_BIN
    if not cp.scheduled_recovery or per_day <= 0 or abs(bins - round(bins)) > 1e-9:
        return 0
    return round(bins)


def recovery_records(n: int) -> np.ndarray:
    """The recovery records of `n` citizens, none recovering (an empty array for n = 0)."""
    recs = np.empty((n, 4), dtype=np.int32)
    fill_records(recs, np.array([NOT_RECOVERING, -1, -1, -1], dtype=np.int32))
    return recs


def wake_pool_blocks(n: int, days: int) -> int:
    """Blocks of a wake pool that can never run out: a wake per citizen at most, and one partly
    filled block a day."""
    return -(-n // WAKE_BLOCK) + days + 1


def wake_meta(days: int, blocks: int) -> np.ndarray:
    """Empty wakes for `days` days (rows HEAD, TAIL, FILL, COUNT), every block free."""
    meta = np.zeros((4, days + 1), dtype=np.int32)
    meta[HEAD] = -1
    meta[TAIL] = -1
    meta[HEAD, -1] = 0 if blocks else -1
    return meta


def wake_pool(blocks: int) -> np.ndarray:
    """A wake pool of `blocks` free blocks, chained in order (column NEXT_BLOCK)."""
    pool = np.full((blocks, WAKE_BLOCK + 2), -1, dtype=np.int32)  # (defined everywhere: checkpoints compare)
    pool[:, NEXT_BLOCK] = np.arange(1, blocks + 1)
    pool[:, PREV_BLOCK] = -1
    if blocks:
        pool[-1, NEXT_BLOCK] = -1
    return pool


def day_wakes(meta: np.ndarray, pool: np.ndarray, day: int) -> np.ndarray:
    """The ids in day `day`'s chain of blocks, in chain order."""
    ids: list[np.ndarray] = []
    block = int(meta[HEAD, day])
    while block >= 0 and len(ids) < pool.shape[0]:  # (a chain longer than the pool has a loop)
        last = int(meta[FILL, day]) if pool[block, NEXT_BLOCK] < 0 else WAKE_BLOCK
        ids.append(pool[block, :last])
        block = int(pool[block, NEXT_BLOCK])
    return np.concatenate(ids) if ids else np.empty(0, dtype=np.int32)


def free_blocks(meta: np.ndarray, pool: np.ndarray) -> int:
    """The number of blocks in the pool's free chain."""
    free, block = 0, int(meta[HEAD, -1])
    while block >= 0 and free <= pool.shape[0]:
        free, block = free + 1, int(pool[block, NEXT_BLOCK])
    return free


def wake_checks(recs: np.ndarray, meta: np.ndarray, pool: np.ndarray, day: int) -> list[tuple[str, bool]]:
    """(invariant, holds) pairs of the wake pool after `day`: each later day's chain holds exactly
    the citizens whose wake day it is, each where its record says, and every block is in one chain."""
    days = meta.shape[1] - 1
    waking = recs[:, WAKE]
    in_place, counted, used = True, True, 0
    for d in range(day + 1, days):
        ids = day_wakes(meta, pool, d)
        used += -(-ids.size // WAKE_BLOCK)
        counted &= ids.size == meta[COUNT, d] and bool((waking[ids] == d).all())
        at = recs[ids, WAKE_AT]
        in_place &= bool((pool[at // WAKE_BLOCK, at % WAKE_BLOCK] == ids).all())
    due = waking[waking > day]
    return [
        ("each day's wakes are the citizens whose wake day it is",
         counted and int(meta[COUNT, day + 1 : days].sum()) == due.size and not (waking[waking >= 0] <= day).any()),
        ("each wake is where its record says", in_place),
        ("every wake block is free or in one day's chain", used + free_blocks(meta, pool) == pool.shape[0]),
    ]  # fmt: skip
