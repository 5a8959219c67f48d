"""The scoring phase's kernels: charges posted to the ledgers, and scores, tiers and the score
index refreshed from them (docs/model.md sections 4 and 5), with scheduled recovery settled and planned
in the same pass.

They take the run's `ScoringArrays` (`State.scoring_arrays`) as one argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from scslab.model.compiled import AHEAD, CHUNK, prefetch
from scslab.model.ledgers import (
    L_ASSOCIATION,
    L_MERIT,
    L_MISATTRIBUTED,
    L_OWN,
    L_SCORE,
    bin_of,
    moving_slot,
    negative_debt,
    recover_one,
    score_tier,
    snap,
)
from scslab.model.recovery import MSLOT, NOT_RECOVERING, REC_DAY, plan, schedule_wake, settle_one

if TYPE_CHECKING:
    from scslab.model.ledgers import ScoringArrays


@njit(cache=True, nogil=True)
def post_charges(  # pragma: no cover - compiled
    arrays: ScoringArrays,
    target: np.ndarray,
    points: np.ndarray,
    misattributed: np.ndarray,
    cur: int,
    per_day: float,
) -> None:
    """Post each charge to its ledger: a misattributed one to L_MISATTRIBUTED, the others to L_OWN
    (negative points) or L_MERIT (in order, repeats included). Under scheduled recovery (`per_day`
    > 0) a `recovering` target is first settled through day `cur`."""
    ledgers, recs, recovering = arrays.ledgers, arrays.recs, arrays.recovering
    for j in range(target.size):
        if j + AHEAD < target.size:
            prefetch(ledgers, target[j + AHEAD])
            if per_day > 0:
                prefetch(recovering, target[j + AHEAD])
                prefetch(recs, target[j + AHEAD])
        if per_day > 0 and recovering[target[j]]:
            settle_one(ledgers, recs, target[j], cur, per_day)
        p = points[j]
        column = L_MISATTRIBUTED if misattributed[j] else (L_OWN if p < 0 else L_MERIT)
        ledgers[target[j], column] += p


@njit(cache=True, nogil=True)
def post_to_contacts(  # pragma: no cover - compiled
    arrays: ScoringArrays,
    indices: np.ndarray,
    active: np.ndarray,
    start: np.ndarray,
    offset: np.ndarray,
    amount: np.ndarray,
    out: np.ndarray,
    n: int,
    cur: int,
    per_day: float,
) -> int:
    """Add `amount[r]` to the association ledger of every active contact of row r (rows located by
    `row_spans`), writing each contact charged into `out` from position `n`; return the new length. Under
    scheduled recovery (`per_day` > 0) each `recovering` contact is first settled through day `cur`."""
    ledgers, recs, recovering = arrays.ledgers, arrays.recs, arrays.recovering
    for r in range(start.size):
        if r + AHEAD < start.size:
            prefetch(indices, start[r + AHEAD])
            prefetch(active, start[r + AHEAD])
        for slot in range(start[r], start[r] + offset[r + 1] - offset[r]):
            if active[slot]:
                k = int(indices[slot])  # (int64: one compiled `settle_one`)
                if per_day > 0 and recovering[k]:
                    settle_one(ledgers, recs, k, cur, per_day)
                ledgers[k, L_ASSOCIATION] += amount[r]
                out[n] = k
                n += 1
    return n


@njit(cache=True, nogil=True, parallel=True)
def refresh(  # pragma: no cover - compiled
    arrays: ScoringArrays,
    ids: np.ndarray,
    notable: np.ndarray,
    done: np.ndarray,
    per_day: float,
    cur: int,
    lazy_per_day: float,
) -> tuple[float, int]:
    """Recompute the clamped score and tier of `ids` (unique) from their ledgers, move them in the
    0.1-point histograms and the tier counts; return the change in the sum of scores and in the
    number of moving citizens.

    `arrays.bounds` holds (start, min, max, bin width, threshold). With `per_day` > 0 each citizen first
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
    ledgers, tier, bounds, tier_bounds = arrays.ledgers, arrays.tier, arrays.bounds, arrays.tier_bounds
    hist, tier_counts, moving_hist = arrays.hist, arrays.tier_counts, arrays.moving_hist
    listed, recovering, recs = arrays.listed, arrays.recovering, arrays.recs
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
            own, misattributed, association = ledgers[i, L_OWN], ledgers[i, L_MISATTRIBUTED], ledgers[i, L_ASSOCIATION]
            raw = start + own + misattributed + association + ledgers[i, L_MERIT]
            v = snap(min(max(raw, low), high))
            t = score_tier(v, tier_bounds, last_tier)
            old = ledgers[i, L_SCORE]
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
            ledgers[i, L_SCORE] = v
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
            schedule_wake(recs, arrays.wake_meta, arrays.wake_pool, ids[j], wake[j])
    total = 0.0
    for c in range(n_chunks):  # in chunk order (an array sum here would become a parallel reduction)
        total += partial[c]
    return total, d_moving
