"""Phase 3, scoring: ledgers, association penalties, recovery and bounds (MODEL.md section 5).

`score_i = S0 + own_i + misattributed_i + association_i + merit_i`, clamped. Only the
citizens whose ledgers moved today are recomputed; the score index (sum, tiers,
histogram) follows them incrementally.
"""

from __future__ import annotations

import numpy as np

from scslab.model.kernels import ASSOCIATION, post_charges, post_to_contacts, ready_to_recover, refresh, row_spans
from scslab.model.state import State, concat
from scslab.model.surveillance import Charges


def tier_of(state: State, score: np.ndarray) -> np.ndarray:
    """Tier index (0 = top) of each score; scores below every bound fall in the lowest tier."""
    # the number of bounds strictly above the score is the index of its tier
    idx = np.searchsorted(-state.cp.tier_bounds, -score, side="left")
    return np.minimum(idx, len(state.cp.tier_names) - 1).astype(np.int8)


def counterfactual(state: State, ids: np.ndarray) -> np.ndarray:
    """`S0 + own + merit`, clamped: the score without misattribution and association."""
    p = state.cp.p.score
    return np.clip(p.start + state.own[ids] + state.merit[ids], p.min, p.max)


def refresh_scores(state: State, ids: np.ndarray, unique: bool = False, recover: float = 0.0) -> np.ndarray:
    """Recompute the clamped score and tier of `ids` and update the score index.

    `unique` says that `ids` has no repeats. With `recover` > 0 each first regains that many
    points (section 5's recovery, in the same pass); returns whether each is then clear of
    negative points (empty otherwise). Those whose tier changed, or whose score is below the
    blacklist threshold while they are off the blacklist, are noted in `state.changed` for the
    sanctions phase (a score that moved inside a tier, above the threshold or on the blacklist,
    triggers nothing: a citizen who leaves the blacklist is noted by `sanctions.delist`).
    """
    if not unique:
        ids = state.scratch.distinct(ids)
    done = np.zeros(ids.size if recover > 0 else 0, dtype=bool)
    if ids.size == 0:
        return done
    p, index = state.cp.p.score, state.index
    notable = np.empty(ids.size, dtype=bool)
    index.total += refresh(
        ids,
        state.ledgers,
        state.tier,
        float(p.start),
        float(p.min),
        float(p.max),
        state.cp.tier_bounds,
        index.hist,
        index.BIN,
        index.tier_counts,
        state.cp.threshold,
        state.blacklist.member,
        notable,
        recover,
        done,
    )
    state.changed.append(ids[notable])
    return done


def association_charges(state: State, target: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Charge `alpha_l * w_e` to every active contact of each target; return who was charged."""
    spans = [
        (layer, state.cp.alpha[name], *row_spans(layer.indptr, target))
        for name, layer in state.pop.layers.items()
        if state.cp.alpha.get(name, 0.0) > 0
    ]
    touched = np.empty(sum(int(offset[-1]) for *_, offset in spans), dtype=np.int64)
    n = 0
    for layer, alpha, start, offset in spans:
        n = post_to_contacts(
            layer.indices, layer.active, start, offset, alpha * points, state.ledgers, ASSOCIATION, touched, n
        )
    return touched[:n]


def mark_negative(state: State, ids: np.ndarray, day: int) -> None:
    """Restart the clean-days clock of `ids` and schedule their recovery check."""
    ids = state.scratch.distinct(ids)
    if ids.size == 0:
        return
    state.last_negative[ids] = day
    if state.recovering.count:  # (not `size`, which would compact the list now)
        state.recovering.discard(ids[state.recovering.member[ids]])
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
    post_charges(state.ledgers, target, points, mis)
    negative = points < 0
    state.charged_direct.append(target[negative])
    spread = negative & ev.associated[event]
    contacts_charged = association_charges(state, target[spread], points[spread]) if spread.any() else concat([])
    mark_negative(state, np.concatenate([target[negative], contacts_charged]), day)
    refresh_scores(state, np.concatenate([target, contacts_charged]))


def recover(state: State, day: int) -> None:
    """Give back `recovery.per_day` points to everyone clean for `recovery.clean_days` days.

    Points come from the negative ledgers in proportion to their size, until they are zero.
    """
    rec = state.cp.p.recovery
    if rec.per_day <= 0:
        return
    (due,) = state.recovery_due.pop(day, 1)
    recovering = state.recovering
    if due.size:
        recovering.add(due[ready_to_recover(due, state.last_negative, state.ledgers, day, rec.clean_days)])
    ids = recovering.ids()
    if ids.size == 0:
        return
    done = refresh_scores(state, ids, unique=True, recover=float(rec.per_day))
    recovering.discard(ids[done])


def scoring(state: State, charges: Charges, day: int) -> None:
    """Phase 3: apply charges and association, then recovery."""
    apply_charges(state, charges, day)
    recover(state, day)
