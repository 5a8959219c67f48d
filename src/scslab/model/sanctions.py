"""Phase 4, sanctions and rewards: the blacklist, appeals, and every effect (MODEL.md section 6)."""

from __future__ import annotations

import numpy as np

from scslab.model import effects, firms
from scslab.model.blacklist import due_to_leave, score_causes, wrongful_listings
from scslab.model.draws import APPEAL, APPEAL_SUCCESS, Draws
from scslab.model.listings import APPEAL_WON, FIRM_DELISTED, SCORE_RECOVERED, TERM_ENDED
from scslab.model.params import (
    ASSOCIATION,
    JOINT_PUNISHMENT,
    LISTED_OFFENCE,
    MISATTRIBUTION,
    OWN_CONDUCT,
)
from scslab.model.scoring import refresh_scores, settle
from scslab.model.state import State, concat
from scslab.model.surveillance import Charges
from scslab.model.trace import spans, struck_out


def enlist(state: State, ids: np.ndarray, cause: np.ndarray, charged_wrongly: np.ndarray, day: int) -> np.ndarray:
    """Put `ids` on the blacklist with their causes (`charged_wrongly`: a listed offence charged to
    the wrong person); return those newly listed."""
    fresh = ~state.blacklist.member[ids]
    ids, cause, charged_wrongly = ids[fresh], cause[fresh], charged_wrongly[fresh]
    if ids.size == 0:
        return ids
    new = state.blacklist.add(ids)
    state.cause[ids] = cause  # a repeated id takes its last cause
    state.listing_wrongful[ids] = charged_wrongly
    ids = new
    state.listed_day[ids] = day
    state.ever_blacklisted[ids] = True
    state.listings.opened(ids, state.cause[ids], wrongful_at_entry(state, ids), day)
    state.counters.add("listings_new", ids.size)
    state.changed.append(ids)
    return ids


def delist(state: State, ids: np.ndarray, reason: np.ndarray | int, day: int) -> None:
    """Take `ids` (distinct, listed) off the blacklist, for `reason` (`listings.EXIT_REASONS` codes)."""
    if ids.size == 0:
        return
    state.counters.add("exits", ids.size)
    state.listings.closed(ids, reason, wrongful(state, ids), day)
    state.blacklist.discard(ids)
    state.cause[ids] = -1
    state.listing_wrongful[ids] = False
    state.changed.append(ids)


# Why a listing of each cause that is due to leave ends: a score back at the threshold (the score
# causes), a term served, or the represented firm off its blacklist.
EXIT_REASON = np.array([SCORE_RECOVERED] * (ASSOCIATION + 1) + [TERM_ENDED, FIRM_DELISTED], dtype=np.int8)


def score_cause(state: State, ids: np.ndarray) -> np.ndarray:
    """Why a low score lists someone: own conduct if the counterfactual alone would, else the larger
    of the misattributed and association ledgers."""
    return score_causes(
        np.asarray(ids, dtype=np.int64),
        state.ledgers,
        state.cp.score_bounds,
        OWN_CONDUCT,
        MISATTRIBUTION,
        ASSOCIATION,
    )


def wrongful(state: State, ids: np.ndarray) -> np.ndarray:
    """Whether each listing of `ids` would not exist without errors and association."""
    return wrongful_listings(
        ids,
        state.cause,
        state.ledgers,
        state.listing_wrongful,
        state.cp.score_bounds,
        ASSOCIATION,
        LISTED_OFFENCE,
    )


def wrongful_at_entry(state: State, ids: np.ndarray) -> np.ndarray:
    """`wrongful` for listings of `ids` made just now, read from their causes: a score listing is
    wrongful exactly when its cause is not own conduct (both compare the counterfactual with the
    threshold), a listed offence when charged to the wrong person, joint punishment never."""
    cause = state.cause[ids]
    charged_wrongly = (cause == LISTED_OFFENCE) & state.listing_wrongful[ids]
    return (cause == MISATTRIBUTION) | (cause == ASSOCIATION) | charged_wrongly


def listed_offences(state: State, charges: Charges, day: int) -> None:
    """A detected `blacklist_on_detection` event lists the attributed person for `term_days`."""
    hit = state.cp.events.listed[charges.event]
    if not hit.any():
        return
    ids, mis = charges.target[hit], charges.misattributed[hit]
    already = state.blacklist.member[ids]
    # a listed offence turns an existing listing into a term listing from today
    conv = ids[already]
    state.cause[conv] = LISTED_OFFENCE
    state.listings.offence(conv, day)
    state.listed_day[conv] = day
    state.listing_wrongful[conv] = False
    np.logical_or.at(state.listing_wrongful, ids[already], mis[already])
    new = enlist(state, ids[~already], np.full((~already).sum(), LISTED_OFFENCE, dtype=np.int8), mis[~already], day)
    joint_person_to_firm(state, new, day)


def score_listings(state: State, day: int) -> None:
    """Citizens whose score fell below the threshold today are listed."""
    if not np.isfinite(state.cp.threshold):
        return
    ids = state.scratch.distinct(concat(state.changed))
    ids = ids[(state.score[ids] < state.cp.threshold) & ~state.blacklist.member[ids]]
    if ids.size == 0:
        return
    new = enlist(state, ids, score_cause(state, ids), np.zeros(ids.size, dtype=bool), day)
    joint_person_to_firm(state, new, day)


def joint_person_to_firm(state: State, new: np.ndarray, day: int) -> None:
    """With `person_to_firm`, a listed legal representative lists the firm."""
    f = state.cp.p.firms
    if f is None or not f.person_to_firm or new.size == 0:
        return
    firm = state.rep_firm[new]
    firms.enlist_firms(state, firm[firm >= 0], day)


def joint_firm_to_person(state: State, day: int) -> None:
    """With `firm_to_person`, a newly listed firm lists its legal representative."""
    f = state.cp.p.firms
    if f is None or not f.firm_to_person or state.firms_listed_today.size == 0:
        return
    reps = state.pop.firm_rep[state.firms_listed_today].astype(np.int64)
    reps = reps[reps >= 0]
    enlist(state, reps, np.full(reps.size, JOINT_PUNISHMENT, dtype=np.int8), np.zeros(reps.size, dtype=bool), day)


def exits_and_appeals(state: State, draws: Draws, day: int) -> None:
    """End listings whose terms are met, then let listed citizens appeal."""
    ids = state.blacklist.ids().copy()
    if ids.size == 0:
        return
    bl = state.cp.p.blacklist
    leave = due_to_leave(
        ids,
        state.cause,
        state.listed_day,
        state.ledgers,
        state.rep_firm,
        state.firm_blacklisted,
        day,
        bl.min_days,
        bl.term_days,
        state.cp.threshold,
        ASSOCIATION,
        LISTED_OFFENCE,
    )
    gone = ids[leave]
    delist(state, gone, EXIT_REASON[state.cause[gone]], day)
    ids = ids[~leave]
    ap = state.cp.p.appeal
    if ap.rate <= 0 or ids.size == 0:
        return
    appealing = ids[draws.uniform(ids, APPEAL) < ap.rate]
    success_p = np.where(wrongful(state, appealing), ap.success_wrongful, ap.success_rightful)
    won = appealing[draws.uniform(appealing, APPEAL_SUCCESS) < success_p]
    state.counters.add("appeals_won", won.size)
    delist(state, won, APPEAL_WON, day)
    settle(state, won, day)  # today's recovery is taken before the misattributed points are struck out
    struck_out(state, won, day)
    state.misattributed[won] = 0.0
    refresh_scores(state, won, day)


def initial_effects(state: State) -> None:
    """Effects that hold from the start (a tier-triggered restriction when everyone starts in that tier)."""
    for effect in effects.REGISTRY:
        if effect.start is not None:
            effect.start(state)
    if state.trace is not None:
        spans(state, np.flatnonzero(state.trace.mask))


def sanctions(state: State, charges: Charges, draws: Draws, day: int) -> None:
    """Phase 4: firms' credit, listings, exits and appeals, then the effects of the day."""
    firms.corporate_credit(state, draws, day)
    listed_offences(state, charges, day)
    exits_and_appeals(state, draws, day)
    # after the exits, so that a term that ends with the score still low becomes a score listing
    score_listings(state, day)
    joint_firm_to_person(state, day)
    for effect in effects.REGISTRY:  # (in the registry's order: it fixes the order of the draws)
        if effect.act is not None:
            effect.act(state, charges, draws, day)
    spans(state)  # (traced citizens starting or ending an effect that reaches them by tier or listing)
