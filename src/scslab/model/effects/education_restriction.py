"""Education restriction: children lose priority admission while an adult of their household is
sanctioned (MODEL.md section 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scslab.model.catalogue import Metric
from scslab.model.effects.base import Array, Effect, changed_today, severe
from scslab.model.params import applies
from scslab.model.trace import felt
from scslab.population.types import AGE_CHILD, Population

HOUSEHOLDS = ("household_restricted", "household_children")  # its household arrays
KEY = "education_restriction"
RESTRICTED, FREED = "children restricted", "children freed"  # its trace rows (count: the household's children)

if TYPE_CHECKING:
    from scslab.model.draws import Draws
    from scslab.model.state import State
    from scslab.model.surveillance import Charges


def education(state: State, ids: np.ndarray | None = None) -> None:
    """Children lose priority admission while an adult of their household is sanctioned.

    Re-checks the citizens whose score or listing changed today, or `ids` (everyone, at the start).
    """
    rules = state.cp.sanctions.get(KEY, ())
    if not rules:
        return
    ids = changed_today(state) if ids is None else ids
    ids = ids[state.pop.age_band[ids] != AGE_CHILD]
    kept = state.kept
    affected, restricted, children = (kept.arrays[name] for name in ("education_affected", *HOUSEHOLDS))
    now = applies(rules, ids, state.blacklist.member, state.tier)
    flip = now != affected[ids]
    ids, now = ids[flip], now[flip]
    if ids.size == 0:
        return
    affected[ids] = now
    house = state.pop.household[ids]
    uh = state.scratch.distinct(house.astype(np.int64))
    before = restricted[uh] > 0
    np.add.at(restricted, house, np.where(now, 1, -1))
    after = restricted[uh] > 0
    kept.tallies["children_restricted"] += int(children[uh][after & ~before].sum())
    kept.tallies["children_restricted"] -= int(children[uh][before & ~after].sum())
    if state.trace is not None:  # on the first adult of each household whose children it restricts or frees
        flipped = uh[after != before]
        if flipped.size:
            first = ids[np.unique(house, return_index=True)[1]]
            h = state.pop.household[first]
            now_restricted = restricted[h] > 0
            was = now_restricted ^ np.isin(h, flipped)
            felt(state, KEY, RESTRICTED, first[now_restricted & ~was], count=children[h[now_restricted & ~was]])
            felt(state, KEY, FREED, first[was & ~now_restricted], count=children[h[was & ~now_restricted]])


def children_of(pop: Population) -> np.ndarray:
    """The children of each household."""
    return np.bincount(pop.household[pop.age_band == AGE_CHILD], minlength=pop.n_households)


def daily(state: State, charges: Charges, draws: Draws, day: int) -> None:
    """Today's changes of score or listing, re-checked."""
    education(state)


def initial(state: State) -> None:
    """A tier-triggered restriction holds from the start when everyone starts in that tier."""
    education(state, np.arange(state.n, dtype=np.int64))


EFFECT = Effect(
    key=KEY,
    role="sanction",
    description="Children lose priority admission while an adult of their household is sanctioned.",
    context="education",
    severity=severe("children's education"),
    audit_note="it falls on the children of the sanctioned person, who did nothing",
    arrays=(
        Array("education_affected", np.bool_),  # adults through whom their household's children are restricted
        Array("household_restricted", np.int32, over="households"),  # its affected adults
        Array("household_children", np.int32, over="households", build=children_of),  # its children
    ),
    tallies=("children_restricted",),  # children with an affected adult in their household
    metrics=(
        Metric(
            "children_restricted",
            "stock",
            True,
            "Children restricted at the end",
            "Children with an adult of their household under an education restriction.",
            "children",
            headline=10,
        ),
    ),
    act=daily,
    start=initial,
    read={"children_restricted": lambda state: state.kept.tallies["children_restricted"]},
    records=(RESTRICTED, FREED),
)
