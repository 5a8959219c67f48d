"""Travel ban: trips wanted by banned citizens are denied, by plane or train (MODEL.md section 6)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from scslab.model.catalogue import Metric
from scslab.model.draws import PLANE, TRIPS, repeat_ranks
from scslab.model.effects.base import Effect, severe
from scslab.model.params import Rule, applies
from scslab.model.trace import felt, split_among
from scslab.scenario.schema import TRAVEL_MODES

if TYPE_CHECKING:
    from scslab.model.draws import Draws
    from scslab.model.params import Compiled
    from scslab.model.state import State
    from scslab.model.surveillance import Charges

KEY = "travel_ban"
DENIED = "trip denied"  # its trace rows (detail: the mode)


def ban_modes(cp: Compiled) -> tuple[tuple[Rule, tuple[int, ...]], ...]:
    """Each travel ban's rule with the modes it bans (0 plane, 1 train)."""
    return tuple((rule, tuple(TRAVEL_MODES.index(m) for m in s.modes)) for rule, s in cp.sanction_entries.get(KEY, ()))


def deny_trips(state: State, who: np.ndarray, plane: np.ndarray) -> None:
    """Count the trips (by `who`, by plane or train) that a travel ban denies."""
    denied = np.zeros(who.size, dtype=bool)
    for rule, modes in ban_modes(state.cp):
        mode_banned = np.zeros(who.size, dtype=bool)
        if 0 in modes:
            mode_banned |= plane
        if 1 in modes:
            mode_banned |= ~plane
        denied |= mode_banned & rule.hits(who, state.blacklist.member, state.tier)
    state.counters.add("trips_denied", int(denied.sum()))
    state.counters.add("trips_denied_plane", int((denied & plane).sum()))
    state.counters.add("trips_denied_train", int((denied & ~plane).sum()))
    felt(state, KEY, DENIED, who[denied], np.asarray(TRAVEL_MODES)[(~plane[denied]).astype(np.int64)])


def travel(state: State, draws: Draws, day: int) -> None:
    """Trips wanted today by income quintile; banned citizens' trips are denied and counted."""
    if ban_modes(state.cp):
        draws.by_mode(partial(travel_sequential, state), partial(travel_keyed, state, draws))


def travel_sequential(state: State, rng: np.random.Generator) -> None:
    """Travel from sequential streams: a Poisson total of trips a quintile (or, when only the
    blacklist bans travel, of the listed citizens' denied trips)."""
    if all(rule.kind == "blacklist" for rule, _ in ban_modes(state.cp)):
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
    banned = {mode for _, modes in ban_modes(state.cp) for mode in modes}
    listed = state.blacklist.ids()
    if listed.size == 0:
        return
    rate = np.bincount(state.pop.income_q[listed] - 1, minlength=5) @ state.cp.trip_rates
    plane, train = (int(rng.poisson(rate[m])) if m in banned else 0 for m in (0, 1))
    state.counters.add("trips_denied", plane + train)
    state.counters.add("trips_denied_plane", plane)
    state.counters.add("trips_denied_train", train)
    if state.trace is not None:  # who was denied: the totals split by each one's rate (the trace's own draws)
        for m, total in enumerate((plane, train)):
            weight = state.cp.trip_rates[state.pop.income_q[listed] - 1, m]
            felt(state, KEY, DENIED, split_among(state, listed, weight, total, state.trace.today, m), TRAVEL_MODES[m])


def travel_keyed(state: State, draws: Draws) -> None:
    """Travel under common random numbers: each citizen a travel ban reaches draws their own trips."""
    rules = ban_modes(state.cp)
    only_listed = all(rule.kind == "blacklist" for rule, _ in rules)
    ids = state.blacklist.ids().astype(np.int64) if only_listed else np.arange(state.n, dtype=np.int64)
    ids = ids[applies(tuple(rule for rule, _ in rules), ids, state.blacklist.member, state.tier)]
    t = state.cp.p.travel
    q = state.pop.income_q[ids].astype(np.int64) - 1
    trips = draws.counts(ids, np.asarray(t.rate)[q], TRIPS)
    who = np.repeat(ids, trips)
    u = draws.uniform(who, PLANE, repeat_ranks(trips))
    deny_trips(state, who, u < np.asarray(t.plane_share)[np.repeat(q, trips)])


def act(state: State, charges: Charges, draws: Draws, day: int) -> None:
    """The day's travel."""
    travel(state, draws, day)


def _denied(name: str, label: str, description: str, headline: int = 0, experiment: int = 0) -> Metric:
    return Metric(
        name, "flow", True, label, description, "trips", headline=headline, experiment=experiment, counted=True
    )


EFFECT = Effect(
    key=KEY,
    role="sanction",
    description="Trips by plane or train (the rule's `modes`) are denied to the citizens it reaches.",
    context="transport",
    severity=severe("freedom of movement"),
    metrics=(
        _denied(
            "trips_denied", "Trips denied", "Trips wanted by citizens under a travel ban.", headline=6, experiment=7
        ),
        _denied("trips_denied_plane", "Trips denied (plane)", "Denied trips by plane."),
        _denied("trips_denied_train", "Trips denied (train)", "Denied trips by train."),
    ),
    act=act,
    records=(DENIED,),
)
