"""What a sanction or reward effect declares: one `Effect` per file of this package.

An effect is keyed by the `effect` value of the scenario's sanction or reward rules. It
declares the state it keeps (`Array`s over citizens or households, id sets, tallies: the
state allocates them, `State.kept`, and the memory estimate reads their bytes), its metric
rows (spliced into the catalogue), its audit context and severity, and its hooks:
`income` changes the income (and so the financial stress) of the citizens it reaches, `events` drops events it
prevents, `act` runs each day in the sanctions phase (after the day's listings), and
`start` runs once on the initial state. It also declares what it records in a trace
(`model.trace`, sanctions.parquet): the `what` words of its rows (`records`), written by one
`trace.felt` call where they happen, or, for an effect that holds while a rule reaches a citizen,
`reaches` and the words of its start and end (`spans`), which the trace looks at itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from scslab.model.catalogue import Metric
from scslab.model.params import applies

if TYPE_CHECKING:
    from scslab.model.draws import Draws
    from scslab.model.params import Compiled
    from scslab.model.state import State
    from scslab.model.surveillance import Charges
    from scslab.population.types import Population

NEVER = np.iinfo(np.int32).min // 2  # a day long past (int32 day columns)
# An id set (`state.IdSet`): a membership mask and a dense list of int32 ids, a citizen each.
ID_SET_BYTES = np.dtype(np.bool_).itemsize + np.dtype(np.int32).itemsize

Act = Callable[["State", "Charges", "Draws", int], None]
Start = Callable[["State"], None]
Income = Callable[["State", np.ndarray, np.ndarray], None]  # (state, ids, multiplier): adds its term
Events = Callable[["State", int, np.ndarray], np.ndarray]  # (state, event type, actors) -> actors kept
Severity = Callable[[float], tuple[str, str]]
Holds = Callable[["State", np.ndarray], np.ndarray]  # (state, ids) -> bool mask


def moderate(why: str) -> Severity:
    """A severity that is always moderate, for `why`."""
    return lambda size: ("moderate", why)


def unrated(size: float) -> tuple[str, str]:
    """The severity of an effect that the audit does not rate (a reward)."""
    return "moderate", ""


def severe(right: str) -> Severity:
    """A severity that is always severe: the effect restricts `right`."""
    return lambda size: ("severe", f"restricts {right}")


@dataclass(frozen=True)
class Array:
    """One array an effect keeps, over citizens or households: filled with `fill`, or built from
    the population by `build` (then cast to `dtype`)."""

    name: str  # its key in `State.kept.arrays` (unique over the registry)
    dtype: type[np.generic]
    over: Literal["citizens", "households"] = "citizens"
    fill: float = 0
    build: Callable[[Population], np.ndarray] | None = None

    @property
    def itemsize(self) -> int:
        """The bytes of one entry."""
        return np.dtype(self.dtype).itemsize

    def allocate(self, pop: Population) -> np.ndarray:
        """The array at the start of a run over `pop`."""
        if self.build is not None:
            return self.build(pop).astype(self.dtype)
        return np.full(pop.size if self.over == "citizens" else pop.n_households, self.fill, dtype=self.dtype)


@dataclass(frozen=True, eq=False)
class Effect:
    """One sanction or reward effect, declared once."""

    key: str  # the `effect` value of a scenario rule
    role: Literal["sanction", "reward"]
    description: str
    context: str = ""  # where the effect is applied (the audit's context); rewards: ""
    audit_note: str = ""  # what else the audit says of every rule with this effect
    severity: Severity = unrated  # ("severe" or "moderate", why) from the rule's size
    arrays: tuple[Array, ...] = ()  # the arrays it keeps
    id_sets: tuple[str, ...] = ()  # the sets of citizen ids it keeps (`State.kept.sets`)
    tallies: tuple[str, ...] = ()  # the integers it keeps (`State.kept.tallies`), 0 at the start
    metrics: tuple[Metric, ...] = ()  # its rows of the metric catalogue (counted flows are its counters)
    income: Income | None = None  # adds its term to the income multiplier of `ids` (loans)
    income_loss: Callable[[Compiled], float] | None = None  # the largest share of income it takes
    events: Events | None = None  # the actors of an event type it lets act (speech blocks)
    act: Act | None = None  # its part of the sanctions phase, each day
    start: Start | None = None  # what holds from the start
    read: dict[str, Callable[[State], float]] = field(default_factory=dict)  # its stocks' values
    holds: Holds | None = None  # which of `ids` hold the reward now (the breakdowns' "rewarded")
    records: tuple[str, ...] = ()  # the `what` of the rows it writes to a trace (sanctions.parquet)
    reaches: Holds | None = None  # which of `ids` it reaches now, for an effect the trace records as spans
    spans: tuple[str, str] | None = None  # the `what` of a span's start and end (with `reaches`)

    @property
    def recorded(self) -> tuple[str, ...]:
        """Every `what` its trace rows may have."""
        return self.records + (self.spans or ())

    @property
    def bytes_per_citizen(self) -> float:
        """The bytes its citizen arrays and id sets keep a citizen."""
        return sum(a.itemsize for a in self.arrays if a.over == "citizens") + ID_SET_BYTES * len(self.id_sets)

    @property
    def bytes_per_household(self) -> float:
        """The bytes its household arrays keep a household."""
        return sum(a.itemsize for a in self.arrays if a.over == "households")


def reached(key: str) -> Holds:
    """Whether the rules of effect `key` reach each of `ids` now."""
    return lambda state, ids: applies(state.cp.rewards.get(key, ()), ids, state.blacklist.member, state.tier)


def changed_today(state: State) -> np.ndarray:
    """The citizens whose score or listing changed today, without repeats."""
    ids = np.concatenate(state.changed) if state.changed else np.empty(0, dtype=np.int64)
    return state.scratch.distinct(ids)
