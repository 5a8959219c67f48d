"""Phase 4, sanctions and rewards: the blacklist, appeals, and every effect (MODEL.md section 6)."""

from __future__ import annotations

from functools import partial

import numpy as np

from scslab.model import firms
from scslab.model.draws import APPEAL, APPEAL_SUCCESS, PLANE, PROMOTION, TRIPS, Draws, repeat_ranks
from scslab.model.kernels import due_to_leave, score_causes, wrongful_listings
from scslab.model.params import (
    ASSOCIATION,
    JOINT_PUNISHMENT,
    LISTED_OFFENCE,
    MISATTRIBUTION,
    OWN_CONDUCT,
    applies,
)
from scslab.model.scoring import refresh_scores, settle
from scslab.model.state import State, concat
from scslab.model.surveillance import Charges
from scslab.population.types import AGE_CHILD, BUSINESS_OWNER


def enlist(state: State, ids: np.ndarray, cause: np.ndarray, wrongful: np.ndarray, day: int) -> np.ndarray:
    """Put `ids` on the blacklist with their causes; return those newly listed."""
    fresh = ~state.blacklist.member[ids]
    ids, cause, wrongful = ids[fresh], cause[fresh], wrongful[fresh]
    if ids.size == 0:
        return ids
    new = state.blacklist.add(ids)
    state.cause[ids] = cause  # a repeated id takes its last cause
    state.listing_wrongful[ids] = wrongful
    ids = new
    state.listed_day[ids] = day
    state.ever_blacklisted[ids] = True
    state.counters.listings_new += ids.size
    state.changed.append(ids)
    return ids


def delist(state: State, ids: np.ndarray) -> None:
    """Take `ids` off the blacklist."""
    if ids.size == 0:
        return
    state.counters.exits += int(state.blacklist.member[ids].sum())
    state.blacklist.discard(ids)
    state.cause[ids] = -1
    state.listing_wrongful[ids] = False
    state.changed.append(ids)


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
    delist(state, ids[leave])
    ids = ids[~leave]
    ap = state.cp.p.appeal
    if ap.rate <= 0 or ids.size == 0:
        return
    appealing = ids[draws.uniform(ids, APPEAL) < ap.rate]
    success_p = np.where(wrongful(state, appealing), ap.success_wrongful, ap.success_rightful)
    won = appealing[draws.uniform(appealing, APPEAL_SUCCESS) < success_p]
    state.counters.appeals_won += won.size
    delist(state, won)
    settle(state, won, day)  # today's recovery is taken before the misattributed points are struck out
    state.misattributed[won] = 0.0
    refresh_scores(state, won, day)


def deny_trips(state: State, who: np.ndarray, plane: np.ndarray) -> None:
    """Count the trips (by `who`, by plane or train) that a travel ban denies."""
    denied = np.zeros(who.size, dtype=bool)
    for rule, modes in state.cp.travel_ban_modes:
        mode_banned = np.zeros(who.size, dtype=bool)
        if 0 in modes:
            mode_banned |= plane
        if 1 in modes:
            mode_banned |= ~plane
        denied |= mode_banned & rule.hits(who, state.blacklist.member, state.tier)
    state.counters.trips_denied += int(denied.sum())
    state.counters.trips_denied_plane += int((denied & plane).sum())
    state.counters.trips_denied_train += int((denied & ~plane).sum())


def travel(state: State, draws: Draws, day: int) -> None:
    """Trips wanted today by income quintile; banned citizens' trips are denied and counted."""
    if state.cp.travel_ban_modes:
        draws.by_mode(partial(travel_sequential, state), partial(travel_keyed, state, draws))


def travel_sequential(state: State, rng: np.random.Generator) -> None:
    """Travel from sequential streams: a Poisson total of trips a quintile (or, when only the
    blacklist bans travel, of the listed citizens' denied trips)."""
    if all(rule.kind == "blacklist" for rule, _ in state.cp.travel_ban_modes):
        travel_of_listed(state, rng)
        return
    t = state.cp.p.travel
    n_q = np.diff(np.append(state.quintile_start, state.n))
    trips = rng.poisson(n_q * np.asarray(t.rate))  # a Poisson total of trips a quintile
    if trips.sum() == 0:
        return
    q = np.repeat(np.arange(5), trips)
    who = state.quintile_order[state.quintile_start[q] + rng.integers(0, n_q[q])]  # uniform in the quintile
    deny_trips(state, who, rng.random(q.size) < np.asarray(t.plane_share)[q])


def travel_of_listed(state: State, rng: np.random.Generator) -> None:
    """Travel when only the blacklist bans it: the denied trips, by mode, are Poisson with mean the
    listed citizens' trip rates times the mode's share (the trips of the others are never drawn)."""
    banned = {mode for _, modes in state.cp.travel_ban_modes for mode in modes}
    listed = state.blacklist.ids()
    if listed.size == 0:
        return
    rate = np.bincount(state.pop.income_q[listed] - 1, minlength=5) @ state.cp.trip_rates
    plane, train = (int(rng.poisson(rate[m])) if m in banned else 0 for m in (0, 1))
    state.counters.trips_denied += plane + train
    state.counters.trips_denied_plane += plane
    state.counters.trips_denied_train += train


def travel_keyed(state: State, draws: Draws) -> None:
    """Travel under common random numbers: each citizen a travel ban reaches draws their own trips."""
    rules = state.cp.travel_ban_modes
    only_listed = all(rule.kind == "blacklist" for rule, _ in rules)
    ids = state.blacklist.ids().astype(np.int64) if only_listed else np.arange(state.n, dtype=np.int64)
    ids = ids[applies(tuple(rule for rule, _ in rules), ids, state.blacklist.member, state.tier)]
    t = state.cp.p.travel
    q = state.pop.income_q[ids].astype(np.int64) - 1
    trips = draws.counts(ids, np.asarray(t.rate)[q], TRIPS)
    who = np.repeat(ids, trips)
    u = draws.uniform(who, PLANE, repeat_ranks(trips))
    deny_trips(state, who, u < np.asarray(t.plane_share)[np.repeat(q, trips)])


def promotions(state: State, draws: Draws, day: int) -> None:
    """Civil servants' promotion chances: granted at `min_tier` or above, off the blacklist,
    and without a public-job exclusion; otherwise blocked."""
    cs = state.civil_servants.astype(np.int64)
    rate = state.cp.p.promotion.rate_per_year / 365.0
    who, _ = draws.occurrences(cs, rate, PROMOTION)
    if who.size == 0:
        return
    ok = (state.tier[who] <= state.cp.promotion_min_tier) & ~state.blacklist.member[who]
    ok &= ~applies(state.cp.sanctions.get("public_job_exclusion", ()), who, state.blacklist.member, state.tier)
    state.counters.promotions_granted += int(ok.sum())
    state.counters.promotions_blocked += int((~ok).sum())


def education(state: State, ids: np.ndarray | None = None) -> None:
    """Children lose priority admission while an adult of their household is sanctioned.

    Re-checks the citizens whose score or listing changed today, or `ids` (everyone, at the start).
    """
    rules = state.cp.sanctions.get("education_restriction", ())
    if not rules:
        return
    ids = state.scratch.distinct(concat(state.changed)) if ids is None else ids
    ids = ids[state.pop.age_band[ids] != AGE_CHILD]
    now = applies(rules, ids, state.blacklist.member, state.tier)
    flip = now != state.education_affected[ids]
    ids, now = ids[flip], now[flip]
    if ids.size == 0:
        return
    state.education_affected[ids] = now
    house = state.pop.household[ids]
    uh = state.scratch.distinct(house.astype(np.int64))
    before = state.household_restricted[uh] > 0
    np.add.at(state.household_restricted, house, np.where(now, 1, -1))
    after = state.household_restricted[uh] > 0
    state.children_restricted += int(state.household_children[uh][after & ~before].sum())
    state.children_restricted -= int(state.household_children[uh][before & ~after].sum())


def red_loans(state: State, charges: Charges, day: int) -> None:
    """Business owners with a detected party-promotion event in the last `window_days` hold a red loan."""
    window = state.cp.red_loan_window
    if window is None:
        return
    hit = state.cp.events.party_promotion[charges.event]
    ids = charges.target[hit]
    ids = ids[state.pop.occupation[ids] == BUSINESS_OWNER]
    state.red_loan_until[ids] = day + window  # held on days day .. day + window - 1
    state.red_loan.add(ids)
    held = state.red_loan.ids()
    expired = held[state.red_loan_until[held] <= day]
    state.red_loan.discard(expired)


def initial_effects(state: State) -> None:
    """Effects that hold from the start (a tier-triggered restriction when everyone starts in that tier)."""
    education(state, np.arange(state.n, dtype=np.int64))


def sanctions(state: State, charges: Charges, draws: Draws, day: int) -> None:
    """Phase 4: firms' credit, listings, exits and appeals, then the effects of the day."""
    firms.corporate_credit(state, draws, day)
    listed_offences(state, charges, day)
    exits_and_appeals(state, draws, day)
    # after the exits, so that a term that ends with the score still low becomes a score listing
    score_listings(state, day)
    joint_firm_to_person(state, day)
    travel(state, draws, day)
    promotions(state, draws, day)
    education(state)
    red_loans(state, charges, day)
