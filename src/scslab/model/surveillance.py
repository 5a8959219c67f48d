"""Phase 2, surveillance: detect events, attribute them, and deliver records (MODEL.md section 4).

An event is observed by its source with probability `c_s(t)` (times the civil-servant
multiplier, capped at 1), charged to a wrong person of the actor's district and group with
probability `mu_s` (times `minority_error_ratio` for group 1, capped at 1), reaches the
scoring authority with probability `share`, and lands `delay` days later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scslab.model.behaviour import DayEvents
from scslab.model.draws import DETECT, MISATTRIBUTE, PICK, SHARE, Draws
from scslab.model.state import State
from scslab.population.types import CIVIL_SERVANT


@dataclass
class Charges:
    """Records that reach the scoring authority today (parallel arrays)."""

    target: np.ndarray  # the attributed citizen
    event: np.ndarray
    misattributed: np.ndarray  # charged to someone who did not do it
    actor: np.ndarray | None = field(default=None)  # who did it (None: not known, in hand-made charges)


def wrong_person(state: State, actor: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A uniformly drawn (by `u`) other citizen of each actor's district and group (the actor if alone)."""
    block = state.pop.district[actor].astype(np.int64) * 2 + state.pop.group[actor]
    start = state.block_start[block]
    size = state.block_size[block]
    others = np.maximum(size - 1, 1)
    pick = state.block_order[start + np.minimum((u * others).astype(np.int64), others - 1)]
    # drawing among the block minus the actor: the actor's own draw maps to the block's last member
    last = state.block_order[start + size - 1]
    pick = np.where(pick == actor, last, pick)
    return np.where(size > 1, pick, actor).astype(np.int64)


def surveillance(state: State, events: DayEvents, draws: Draws, day: int) -> Charges:
    """Detect and attribute the day's events, queue them by delay, and return today's arrivals.

    A draw whose probability is 0 or 1 for every source (no misattribution, everything shared,
    no civil-servant multiplier) is skipped: its outcome is certain.
    """
    cp = state.cp
    src = cp.sources
    if events.actor.size:
        s = cp.events.source[events.event]
        coverage = src.coverage_on(day)[s]
        if (src.civil_servant_multiplier != 1).any():
            civil = state.pop.occupation[events.actor] == CIVIL_SERVANT
            coverage = np.where(civil, coverage * src.civil_servant_multiplier[s], coverage)
        p_detect = np.minimum(1.0, coverage)
        seen = draws.uniform(events.actor, DETECT, events.key) < p_detect
        actor, event, s, key = events.actor[seen], events.event[seen], s[seen], events.key[seen]
        state.counters.detected += np.bincount(event, minlength=state.counters.detected.size)
        target = actor.copy()
        if (src.misattribution > 0).any():
            minority = state.pop.group[actor] == 1
            p_wrong = np.minimum(1.0, src.misattribution[s] * np.where(minority, src.minority_error_ratio[s], 1.0))
            wrong = draws.uniform(actor, MISATTRIBUTE, key) < p_wrong
            if wrong.any():
                u = draws.uniform(actor[wrong], PICK, key[wrong])
                target[wrong] = wrong_person(state, actor[wrong], u)
        shared = np.ones(actor.size, dtype=bool)
        if (src.share < 1).any():
            shared = draws.uniform(actor, SHARE, key) < src.share[s]
        for d in src.delays:  # one batch per source delay
            sel = shared if src.delays.size == 1 else shared & (src.delay[s] == d)
            state.pending.push(day + int(d), target[sel], event[sel], actor[sel])
    target, event, actor = state.pending.pop(day, 3)
    target = target.astype(np.int64)
    return Charges(target, event.astype(np.int64), target != actor, actor.astype(np.int64))
