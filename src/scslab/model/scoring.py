"""Phase 3, scoring: ledgers, association penalties, recovery and bounds (MODEL.md section 5).

`score_i = S0 + own_i + misattributed_i + association_i + merit_i`, clamped. Only the
citizens whose ledgers moved today are recomputed; the score index (sum, tiers,
histogram) follows them incrementally.

Recovery is scheduled (docs/model.md, "Recovery in closed form") when `per_day` is a whole
number of histogram bins: a recovering citizen's ledgers are brought up to date only when
something reads or writes them (`settle`) or on the days they cross a bound that matters
(their wake), and their score meanwhile moves in the score index without being touched.
"""

from __future__ import annotations

import numpy as np

from scslab.model.contacts import row_spans
from scslab.model.ledgers import counterfactual_scores, score_tiers
from scslab.model.posting import post_charges, post_to_contacts, refresh
from scslab.model.recovery import ready_to_recover, settle_ids, settled_copy, start_and_wake, stop_recovery
from scslab.model.state import State, concat
from scslab.model.surveillance import Charges
from scslab.model.trace import after_change, association_rows, before_change, record_charges, traced_contacts


def tier_of(state: State, score: np.ndarray) -> np.ndarray:
    """Tier index (0 = top) of each score (`ledgers.score_tier`); scores below every bound fall in the lowest tier."""
    return score_tiers(np.asarray(score, dtype=np.float64), state.cp.tier_bounds, len(state.cp.tier_names))


def counterfactual(state: State, ids: np.ndarray) -> np.ndarray:
    """`S0 + own + merit`, clamped: the score without misattribution and association
    (`ledgers.counterfactual_score`)."""
    return counterfactual_scores(state.ledgers, np.asarray(ids, dtype=np.int64), state.cp.score_bounds)


def scheduled_per_day(state: State) -> float:
    """`recovery.per_day` when recovery is scheduled, else 0."""
    return float(state.cp.p.recovery.per_day) if state.index.bins_a_day else 0.0


def settling(state: State) -> float:
    """`scheduled_per_day` while anyone is recovering, else 0: what the kernels that settle are
    given (with 0 they read neither the recovering mask nor the recovery records)."""
    return scheduled_per_day(state) if state.recovering.count else 0.0


def refresh_scores(
    state: State, ids: np.ndarray, cur: int = -1, unique: bool = False, recover: float = 0.0
) -> np.ndarray:
    """Recompute the clamped score and tier of `ids` and update the score index.

    `cur` is the last day whose recovery the score index holds (yesterday while today's charges
    are posted, today after the day's recovery): under scheduled recovery each of `ids` that is
    recovering is first settled through it, then planned again (so it only matters for them).
    `unique` says that `ids` has no repeats. With `recover` > 0 (eager recovery) each first
    regains that many points. Returns whether each is then clear of negative points (empty when
    recovery is neither eager here nor scheduled); under scheduled recovery those also leave the
    recovering set.

    Those whose tier changed, or whose score is below the blacklist threshold while they are off
    the blacklist, are noted in `state.changed` for the sanctions phase (a score that moved inside
    a tier, above the threshold or on the blacklist, triggers nothing: a citizen who leaves the
    blacklist is noted by `sanctions.delist`).
    """
    if not unique:
        ids = state.scratch.distinct(ids)
    ids = ids.astype(np.int64, copy=False)  # (one compiled `refresh`, for int64 ids)
    lazy = settling(state)
    done = np.zeros(ids.size if recover > 0 or lazy > 0 else 0, dtype=bool)
    if ids.size == 0:
        return done
    index = state.index
    notable = np.empty(ids.size, dtype=bool)
    traced = before_change(state, ids, cur, recover > 0) if state.trace and (recover > 0 or lazy > 0) else None
    total, moving = refresh(state.scoring_arrays, ids, notable, done, recover, cur, lazy)
    if traced is not None:
        after_change(state, traced, cur)
    index.total += total
    index.n_moving += moving
    state.changed.append(ids[notable])
    if lazy > 0 and done.any():
        state.recovering.discard(ids[done])
    return done


def settle(state: State, ids: np.ndarray, cur: int) -> None:
    """Bring the ledgers of `ids` (repeats allowed) through day `cur`'s recovery before they are
    read or written as a whole (scheduled recovery; nothing to do otherwise)."""
    lazy = settling(state)
    if lazy > 0 and ids.size:
        ids = np.asarray(ids, dtype=np.int64)
        traced = before_change(state, state.scratch.distinct(ids), cur, False) if state.trace else None
        settle_ids(state.ledgers, state.sched, ids, cur, lazy)
        if traced is not None:
            after_change(state, traced, cur)


def current_ledgers(state: State, day: int) -> np.ndarray:
    """The ledgers and scores (a copy) as they stand after `day`'s recovery, with every scheduled
    recovery brought up to date (the stored state is not touched: for checks and tests)."""
    lazy = scheduled_per_day(state)
    if lazy == 0:
        return state.ledgers.copy()
    return settled_copy(state.ledgers, state.sched, state.recovering.ids().astype(np.int64), day, lazy)


def settle_all(state: State, day: int) -> None:
    """Settle every recovering citizen through `day` (the end of a run)."""
    if scheduled_per_day(state) > 0 and state.recovering.size:
        refresh_scores(state, state.recovering.ids(), day, unique=True)


def association_charges(
    state: State, target: np.ndarray, points: np.ndarray, cur: int, event: np.ndarray | None = None
) -> np.ndarray:
    """Charge `alpha_l * w_e` to every active contact of each target (settled through `cur`);
    return who was charged. With a trace, `event` (the targets' charges' event types) is recorded
    with the points passed on to traced contacts."""
    spans = [
        (code, layer, state.cp.alpha[name], *row_spans(layer.indptr, target))
        for code, (name, layer) in enumerate(state.pop.layers.items())
        if state.cp.alpha.get(name, 0.0) > 0
    ]
    touched = np.empty(sum(int(offset[-1]) for *_, offset in spans), dtype=np.int64)
    n = 0
    lazy = settling(state)
    for code, layer, alpha, start, offset in spans:
        amount = alpha * points
        if state.trace is not None and event is not None:
            contact, row = traced_contacts(layer.indices, layer.active, start, offset, state.trace.mask)
            settle(state, contact, cur)  # (as post_to_contacts would, so that their recovery is a row of its own)
            association_rows(state, code, contact, row, target, event, amount, cur + 1)
        n = post_to_contacts(
            state.scoring_arrays, layer.indices, layer.active, start, offset, amount, touched, n, cur, lazy
        )
    return touched[:n]


def mark_negative(state: State, ids: np.ndarray, day: int) -> None:
    """Restart the clean-days clock of `ids` and schedule their recovery check."""
    ids = state.scratch.distinct(ids)
    if ids.size == 0:
        return
    state.last_negative[ids] = day
    if state.recovering.count:  # (not `size`, which would compact the list now)
        leaving = ids[state.recovering.member[ids]]
        state.recovering.discard(leaving)
        if scheduled_per_day(state) > 0 and leaving.size:  # (their ledgers were settled when charged)
            state.index.n_moving -= stop_recovery(state.scoring_arrays, leaving)
    if state.cp.p.recovery.per_day > 0:
        state.recovery_due.push(day + state.cp.p.recovery.clean_days, ids)
    state.charged_negative.append(ids)


def apply_charges(state: State, charges: Charges, day: int) -> None:
    """Post today's charges to the four ledgers and spread association penalties."""
    if charges.target.size == 0:
        return
    ev = state.cp.events
    target, event, mis = charges.target, charges.event, charges.misattributed
    points = ev.points[event]
    if state.trace is not None:
        settle(state, target[state.trace.mask[target]], day - 1)  # (as post_charges would: recovery is a row)
        record_charges(state, target, event, mis, charges.actor, day)
    # today's recovery comes after the charges: the ledgers are settled through yesterday
    post_charges(state.scoring_arrays, target, points, mis, day - 1, settling(state))
    negative = points < 0
    state.charged_direct.append(target[negative])
    spread = negative & ev.associated[event]
    contacts_charged = (
        association_charges(state, target[spread], points[spread], day - 1, event[spread])
        if spread.any()
        else concat([])
    )
    mark_negative(state, np.concatenate([target[negative], contacts_charged]), day)
    refresh_scores(state, np.concatenate([target, contacts_charged]), day - 1)


def recover(state: State, day: int) -> None:
    """Give back `recovery.per_day` points to everyone clean for `recovery.clean_days` days.

    Points come from the negative ledgers in proportion to their size, until they are zero.
    """
    rec = state.cp.p.recovery
    if rec.per_day <= 0:
        return
    (due,) = state.recovery_due.pop(day, 1)
    if scheduled_per_day(state) > 0:
        scheduled_recovery(state, due, day)
        return
    recovering = state.recovering
    if due.size:
        recovering.add(due[ready_to_recover(due, state.last_negative, state.ledgers, day, rec.clean_days)])
    ids = recovering.ids()
    if ids.size == 0:
        return
    done = refresh_scores(state, ids, day, unique=True, recover=float(rec.per_day))
    recovering.discard(ids[done])


def scheduled_recovery(state: State, due: np.ndarray, day: int) -> None:
    """Recovery in closed form: every moving score gains `per_day` in the index at once; the
    citizens starting today (`due` and ready) and those whose wake is today are settled,
    refreshed and planned."""
    index = state.index
    rec = state.cp.p.recovery
    index.total += rec.per_day * index.n_moving
    ids, started = start_and_wake(
        due,
        state.last_negative,
        state.ledgers,
        state.recovering.member,
        state.sched,
        state.wake_meta,
        state.wake_pool,
        day,
        rec.clean_days,
    )
    state.recovering.count += started
    if ids.size:
        refresh_scores(state, ids, day, unique=True)


def scoring(state: State, charges: Charges, day: int) -> None:
    """Phase 3: apply charges and association, then recovery."""
    apply_charges(state, charges, day)
    recover(state, day)
