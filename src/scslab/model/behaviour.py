"""Phase 1, behaviour: draw the day's events (docs/model.md section 3).

The count of events of type e by citizen i is Poisson with mean
`rate_e * u_ie * deter_ie * stress_ie * block_ie`. It is drawn by thinning: one Poisson
total of candidates for the bound `rate_e * u_ie * stress_bound`, candidates placed in
proportion to `u_ie`, each kept with probability `deter * stress / stress_bound`. Only the
candidates are touched, so the cost follows the day's events, not the population. Under
common random numbers each eligible citizen's count is drawn by inverse CDF of their own
uniform instead (`Draws.events`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from scslab.model import effects
from scslab.model.draws import BEHAVIOUR, Draws
from scslab.model.params import Compiled
from scslab.model.propensity import PROPENSITY_BLOCK, PROPENSITY_SUPER, Propensity, place_sorted
from scslab.model.risk import decayed_risks, deterrence_factor
from scslab.model.state import State


@dataclass
class DayEvents:
    """The day's true events: who did what, and the key of its draws (parallel arrays)."""

    actor: np.ndarray
    event: np.ndarray
    key: np.ndarray  # the `sub` of each event's later draws (`Draws.event_keys`)


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


def stress_bound(cp: Compiled) -> float:
    """The largest financial stress factor any citizen can have (at the lowest income multiplier)."""
    lowest_multiplier = 1.0 - sum(effect.income_loss(cp) for effect in effects.REGISTRY if effect.income_loss)
    return max(1.0, 1.0 + cp.p.stress.sigma * (1.0 - lowest_multiplier))


def deterrence(state: State, e: int, ids: np.ndarray, day: int) -> np.ndarray:
    """`deter_ie = exp(-beta_e * rho_i * |w_e| * (1 + psi * A_i) / 100)`, in one compiled pass."""
    cp = state.cp
    beta = cp.events.elasticity[e]
    if beta == 0:
        return np.ones(ids.size)
    strength = beta * abs(cp.events.points[e]) / 100.0
    associated = bool(cp.events.associated[e])
    return deterrence_factor(ids, state.risk, day, cp.risk_decay, strength, cp.p.feedback.psi, associated)


@dataclass(frozen=True)
class EventPool:
    """An event type's propensities as the pool of its Poisson process (`Draws.events`)."""

    prop: Propensity

    @property
    def total(self) -> float:
        """Sum of u_ie over the eligible citizens."""
        return self.prop.total

    def ids(self) -> np.ndarray:
        """The citizens who may commit the event."""
        return self.prop.ids()

    def weights_of(self, ids: np.ndarray) -> np.ndarray | None:
        """`u_ie` of `ids` (as `ids()` gives them); None when h = 0."""
        prop = self.prop
        if prop.weights is None:
            return None
        return prop.weights if prop.eligible.size else prop.weights[ids]

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """`k` citizens drawn in proportion to `u_ie` (with repeats), ascending."""
        prop = self.prop
        if prop.weights is None:
            return np.sort(prop.eligible[rng.integers(0, prop.eligible.size, size=k)]).astype(np.int64)
        assert prop.block_cum is not None and prop.super_cum is not None
        # k uniform positions along the running sum, drawn in ascending order (exponential spacings),
        # so that the walk and every later read move forward through memory
        spacing = np.cumsum(rng.standard_exponential(k + 1))
        positions = spacing[:k] * (prop.total / spacing[k])
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


def events_of(state: State, e: int, draws: Draws, day: int) -> np.ndarray:
    """Actors of event type e today, one id per event, ascending."""
    cp = state.cp
    bound = stress_bound(cp) if cp.events.financial[e] else 1.0
    factor = None if unmodified(state, e) else partial(modifier, state, e, day=day)
    pool = EventPool(state.propensity[e])
    return draws.events(pool, cp.events.rate[e], BEHAVIOUR, int(cp.events.key[e]), factor, bound)


def behaviour(state: State, draws: Draws, day: int) -> DayEvents:
    """Draw every event type's events for `day`; events an effect prevents (suppressed speech) are
    counted by the effect, not kept."""
    cp: Compiled = state.cp
    actors = []
    preventing = [effect.events for effect in effects.REGISTRY if effect.events is not None]
    for e in range(len(cp.events.names)):
        ids = events_of(state, e, draws, day)
        for prevent in preventing:
            ids = prevent(state, e, ids)
        state.counters.events[e] += ids.size
        actors.append(ids)
    actor = np.concatenate(actors) if actors else np.empty(0, dtype=np.int64)
    event = np.repeat(np.arange(len(actors)), [ids.size for ids in actors])
    return DayEvents(actor, event, draws.event_keys(actor, event, cp.events.key))
