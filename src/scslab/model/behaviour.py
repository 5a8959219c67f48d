"""Phase 1, behaviour: draw the day's events (MODEL.md section 3).

The count of events of type e by citizen i is Poisson with mean
`rate_e * u_ie * deter_ie * stress_ie * block_ie`. It is drawn by thinning: one Poisson
total of candidates for the bound `rate_e * u_ie * stress_bound`, candidates placed in
proportion to `u_ie`, each kept with probability `deter * stress / stress_bound`. Only the
candidates are touched, so the cost follows the day's events, not the population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scslab.model import draws, effects
from scslab.model.kernels import decayed_risks, deterrence_factor, place_sorted
from scslab.model.params import Compiled
from scslab.model.state import PROPENSITY_BLOCK, PROPENSITY_SUPER, State


@dataclass
class DayEvents:
    """The day's true events: who did what, and the how-many-th of the day it was (parallel arrays)."""

    actor: np.ndarray
    event: np.ndarray
    occurrence: np.ndarray  # empty without common random numbers


NO_OCCURRENCE = np.zeros(0, dtype=np.int64)


def perceived_risk(state: State, ids: np.ndarray, day: int) -> np.ndarray:
    """`rho_i` at the start of `day`: stored values decay by (1 - eta) a day untouched."""
    return decayed_risks(np.asarray(ids, dtype=np.int64), state.risk, day, state.cp.risk_decay)


def income_multiplier(state: State, ids: np.ndarray) -> np.ndarray:
    """`1 - x` under a loan penalty, `1 + x` with a discount loan (sizes add up)."""
    mult = np.ones(ids.size)
    for effect in effects.REGISTRY:
        if effect.income is not None:
            effect.income(state, ids, mult)
    return mult


def deterrence(state: State, e: int, ids: np.ndarray, day: int) -> np.ndarray:
    """`deter_ie = exp(-beta_e * rho_i * |w_e| * (1 + psi * A_i) / 100)`, in one compiled pass."""
    cp = state.cp
    beta = cp.events.elasticity[e]
    if beta == 0:
        return np.ones(ids.size)
    strength = beta * abs(cp.events.points[e]) / 100.0
    associated = bool(cp.events.associated[e])
    return deterrence_factor(ids, state.risk, day, cp.risk_decay, strength, cp.p.feedback.psi, associated)


def candidates(state: State, e: int, bound: float, rng: np.random.Generator) -> np.ndarray:
    """Citizens drawn by a Poisson process of rate `rate_e * u_ie * bound` (with repeats)."""
    prop = state.propensity[e]
    rate = state.cp.events.rate[e]
    total = prop.total
    k = rng.poisson(rate * total * bound) if total > 0 else 0
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if prop.weights is None:
        return np.sort(prop.eligible[rng.integers(0, prop.eligible.size, size=k)]).astype(np.int64)
    assert prop.block_cum is not None and prop.super_cum is not None
    # k uniform positions along the running sum, drawn in ascending order (exponential spacings),
    # so that the walk and every later read move forward through memory
    spacing = np.cumsum(rng.standard_exponential(k + 1))
    positions = spacing[:k] * (total / spacing[k])
    return place_sorted(
        positions, prop.block_cum, prop.super_cum, prop.weights, prop.eligible, PROPENSITY_BLOCK, PROPENSITY_SUPER
    )


def modifier(state: State, e: int, ids: np.ndarray, day: int) -> np.ndarray:
    """`deter_ie * stress_ie` for `ids` (`block_ie` is applied apart, to count suppressed speech)."""
    factor = deterrence(state, e, ids, day)
    if state.cp.events.financial[e]:
        factor *= 1.0 + state.cp.p.stress.sigma * (1.0 - income_multiplier(state, ids))
    return factor


def unmodified(state: State, e: int) -> bool:
    """Whether `deter_ie * stress_ie` is 1 for everyone: no stress, and no elasticity or a perceived
    risk that stays 0 (rho0 = 0 and eta = 0)."""
    cp = state.cp
    fb = cp.p.feedback
    return not cp.events.financial[e] and (cp.events.elasticity[e] == 0 or (fb.rho0 == 0 and fb.eta == 0))


def sequential_events(state: State, e: int, rng: np.random.Generator, day: int) -> np.ndarray:
    """Actors of event type e today, by thinning (one id per event; every candidate when nothing
    modifies the rate)."""
    bound = state.cp.stress_bound if state.cp.events.financial[e] else 1.0
    ids = candidates(state, e, bound, rng)
    if ids.size == 0 or unmodified(state, e):
        return ids
    return ids[rng.random(ids.size) < modifier(state, e, ids, day) / bound]


def keyed_events(state: State, e: int, day: int) -> np.ndarray:
    """Actors of event type e today under common random numbers: every eligible citizen's count
    by inverse CDF of their own keyed uniform (one id per event)."""
    assert state.crn_seed is not None
    prop = state.propensity[e]
    ids = prop.ids()
    mean = state.cp.events.rate[e] * modifier(state, e, ids, day)
    if prop.weights is not None:
        mean *= prop.weights if prop.eligible.size else prop.weights[ids]
    u = draws.keyed_uniform(state.crn_seed, day, ids, draws.BEHAVIOUR, draws.name_key(state.cp.events.names[e]))
    # most citizens have no event: invert only where u lies above P(0) = exp(-mean)
    some = np.flatnonzero(u >= np.exp(-mean))
    counts = draws.poisson_inverse(mean[some], u[some])
    return np.repeat(ids[some], counts)


def behaviour(state: State, rng: np.random.Generator, day: int) -> DayEvents:
    """Draw every event type's events for `day`; events an effect prevents (suppressed speech) are
    counted by the effect, not kept."""
    cp: Compiled = state.cp
    actors = []
    preventing = [effect.events for effect in effects.REGISTRY if effect.events is not None]
    for e in range(len(cp.events.names)):
        ids = sequential_events(state, e, rng, day) if state.crn_seed is None else keyed_events(state, e, day)
        for prevent in preventing:
            ids = prevent(state, e, ids)
        state.counters.events[e] += ids.size
        actors.append(ids)
    actor = np.concatenate(actors) if actors else np.empty(0, dtype=np.int64)
    event = np.repeat(np.arange(len(actors)), [ids.size for ids in actors])
    if state.crn_seed is None:  # (the rank of an event among its actor's keys only CRN draws)
        return DayEvents(actor, event, NO_OCCURRENCE)
    # the k-th event of a citizen and type today: keys its surveillance draws
    order = np.lexsort((event, actor))
    occurrence = np.empty(actor.size, dtype=np.int64)
    same = np.r_[False, (actor[order][1:] == actor[order][:-1]) & (event[order][1:] == event[order][:-1])]
    run_start = np.maximum.accumulate(np.where(same, 0, np.arange(actor.size)))
    occurrence[order] = np.arange(actor.size) - run_start
    return DayEvents(actor, event, occurrence)
