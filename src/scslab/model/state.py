"""The simulation state: one array per attribute over all citizens, allocated once."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from scslab.model import effects
from scslab.model.compiled import counting_order, fill_records, keep_members, last_occurrences
from scslab.model.contacts import active_degrees
from scslab.model.effects.base import NEVER
from scslab.model.ledgers import (
    L_ASSOCIATION,
    L_MERIT,
    L_MISATTRIBUTED,
    L_OWN,
    L_SCORE,
    LEDGER_COLUMNS,
    ScoreIndex,
    ScoringArrays,
    score_tier,
)
from scslab.model.listings import ListingLog
from scslab.model.params import Compiled
from scslab.model.propensity import Propensity, propensities
from scslab.model.recovery import recovery_records, scheduled_bins_a_day, wake_meta, wake_pool, wake_pool_blocks
from scslab.model.risk import EXPOSURE, RHO, RHO_DAY, initial_risk
from scslab.model.trace import Trace
from scslab.population.types import CIVIL_SERVANT, SECTOR_PRIVATE, Population


class Scratch:
    """Per-citizen scratch space for O(k) operations on the day's ids (no sorting)."""

    def __init__(self, n: int) -> None:
        self.stamp = np.zeros(n, dtype=np.int32)

    def distinct(self, ids: np.ndarray) -> np.ndarray:
        """`ids` without repeats, in the order of their last occurrence."""
        if ids.size < 2:
            return ids
        return last_occurrences(ids, self.stamp)


class IdSet:
    """A set of citizen ids kept as a membership mask plus a dense list.

    Removals clear the mask at once and compact the list the next time it is read (or added
    to), so that several removals in a day cost one pass. With `listed` false only the mask is
    kept (for a set that compiled code reads by member and that is listed only at the end of a
    run): `ids()` then scans the mask, and code that sets the mask itself adds to `count`.
    """

    def __init__(self, n: int, scratch: Scratch, listed: bool = True) -> None:
        self.scratch = scratch
        self.member = np.zeros(n, dtype=bool)
        self.listed = listed
        self.items = np.empty(n if listed else 0, dtype=np.int32)
        self.count = 0  # entries in use in `items`, removed ones included until compaction (members without a list)
        self.stale = False  # some entries of `items` are no longer members

    @property
    def size(self) -> int:
        """The number of members."""
        self.compact()
        return self.count

    def ids(self) -> np.ndarray:
        """The members (int32), in insertion order (a view, valid until the set changes); in id
        order without a list."""
        if not self.listed:
            return np.flatnonzero(self.member).astype(np.int32)
        self.compact()
        return self.items[: self.count]

    def add(self, ids: np.ndarray) -> np.ndarray:
        """Add `ids` (repeats allowed); return those that were new."""
        self.compact()
        new = self.scratch.distinct(ids[~self.member[ids]])
        self.member[new] = True
        if self.listed:
            self.items[self.count : self.count + new.size] = new
        self.count += new.size
        return new

    def discard(self, ids: np.ndarray) -> None:
        """Drop `ids` from the set (those not in it are ignored; without a list, no repeats)."""
        if ids.size:
            if not self.listed:
                self.count -= int(np.count_nonzero(self.member[ids]))
            self.member[ids] = False
            self.stale = self.listed

    def compact(self) -> None:
        """Remove from the list the ids whose membership was cleared."""
        if not self.stale:
            return
        self.count = keep_members(self.items, self.count, self.member)
        self.stale = False


class Calendar:
    """Chunks of ids (or records) due on a given future day, in a ring of `horizon + 1` slots."""

    def __init__(self, horizon: int) -> None:
        self.slots: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(horizon + 1)]

    def push(self, day: int, *columns: np.ndarray) -> None:
        """Schedule records (parallel columns) for `day`."""
        if columns[0].size:
            self.slots[day % len(self.slots)].append(columns)

    def pop(self, day: int, n_columns: int) -> tuple[np.ndarray, ...]:
        """Take every record due on `day`."""
        slot = self.slots[day % len(self.slots)]
        if not slot:
            return tuple(np.empty(0, dtype=np.int64) for _ in range(n_columns))
        out = tuple(np.concatenate([chunk[k] for chunk in slot]) for k in range(n_columns))
        slot.clear()
        return out


class DayCounters:
    """The day's flows, reset every morning: per event type, and by name (the counted flows of
    the metric catalogue, and `exits`: citizens taken off the blacklist today)."""

    def __init__(self, events: np.ndarray, detected: np.ndarray) -> None:
        self.events = events
        self.detected = detected
        self.counts: dict[str, int] = {}

    def add(self, name: str, count: int) -> None:
        """Count `count` more of `name` today."""
        self.counts[name] = self.counts.get(name, 0) + count

    def __getitem__(self, name: str) -> int:
        """Today's count of `name` (0 when nothing was counted)."""
        return self.counts.get(name, 0)

    def reset(self) -> None:
        self.events[:] = 0
        self.detected[:] = 0
        self.counts.clear()


@dataclass
class Kept:
    """The state the registered effects keep (`model.effects`), each entry by its declared name."""

    arrays: dict[str, np.ndarray]
    sets: dict[str, IdSet]
    tallies: dict[str, int]


def kept_state(pop: Population, scratch: Scratch) -> Kept:
    """Allocate what the registered effects declare, in registry order."""
    kept = Kept({}, {}, {})
    for effect in effects.REGISTRY:
        for a in effect.arrays:
            if a.name in kept.arrays:
                raise ValueError(f"effect {effect.key}: array {a.name} is declared twice")
            kept.arrays[a.name] = a.allocate(pop)
        kept.sets.update({name: IdSet(pop.size, scratch) for name in effect.id_sets})
        kept.tallies.update(dict.fromkeys(effect.tallies, 0))
    return kept


@dataclass
class State:
    """Everything that changes during a run."""

    cp: Compiled
    pop: Population
    n: int
    # ledgers (section 4) and the clamped score (section 5), one record of five float64 a citizen
    # (columns ledgers.L_OWN ... L_SCORE: read together, so kept together)
    ledgers: np.ndarray
    tier: np.ndarray
    index: ScoreIndex
    last_negative: np.ndarray
    recovering: IdSet
    recovery_due: Calendar
    # scheduled recovery (recovery.REC_DAY ...): one int32 record a citizen, and the days' wakes
    # (recovery.HEAD ..., WAKE_BLOCK); empty when recovery is eager or off
    sched: np.ndarray
    wake_meta: np.ndarray
    wake_pool: np.ndarray
    pending: Calendar  # charges waiting for their source's delay: (target, event, actor)
    # blacklist (section 6)
    blacklist: IdSet
    cause: np.ndarray  # int8 cause code, -1 when not listed
    listed_day: np.ndarray
    listing_wrongful: np.ndarray  # listed offences charged to the wrong person
    ever_blacklisted: np.ndarray
    kept: Kept  # what the sanction and reward effects keep, as they declare it
    listings: ListingLog  # every listing episode, from entry to exit
    trace: Trace | None  # the traced citizens' charges and sanctions (`model.trace`), or None
    # feedback (section 7): per citizen rho, the day it was written, and
    # A_i = sum_l alpha_l * active degree (columns RHO, RHO_DAY, EXPOSURE, float64)
    risk: np.ndarray
    rho_sum: float
    # firms
    firm_score: np.ndarray
    firm_last_negative: np.ndarray
    firm_blacklisted: np.ndarray
    firm_listed_day: np.ndarray
    firm_pending: Calendar
    private_firms: np.ndarray
    rep_firm: np.ndarray  # per citizen: the firm they represent, or -1
    # lookups built once
    propensity: list[Propensity]
    block_order: np.ndarray  # citizens sorted by (district, group)
    block_start: np.ndarray
    block_size: np.ndarray
    quintile_order: np.ndarray
    quintile_start: np.ndarray
    civil_servants: np.ndarray
    crn_seed: int | None  # the key of common random numbers, or None for sequential streams
    # the day's work
    scratch: Scratch
    counters: DayCounters
    changed: list[np.ndarray] = field(default_factory=list)  # tier or listing changed, or score below threshold
    charged_negative: list[np.ndarray] = field(default_factory=list)  # any negative charge today
    charged_direct: list[np.ndarray] = field(default_factory=list)  # negative charges of events today
    listed_today: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (ids, wrongful)
    firms_listed_today: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @cached_property
    def scoring_arrays(self) -> ScoringArrays:
        """The arrays of the scoring kernels as one record, built on first use (not checkpointed:
        a resumed run builds its own)."""
        index = self.index
        return ScoringArrays(
            self.ledgers,
            self.tier,
            self.cp.score_bounds,
            self.cp.tier_bounds,
            index.hist,
            index.tier_counts,
            index.moving_hist,
            self.blacklist.member,
            self.recovering.member,
            self.sched,
            self.wake_meta,
            self.wake_pool,
        )

    @property
    def own(self) -> np.ndarray:
        """Points from true events, correctly attributed (a view)."""
        return self.ledgers[:, L_OWN]

    @property
    def misattributed(self) -> np.ndarray:
        """Points from events charged to the wrong person (a view)."""
        return self.ledgers[:, L_MISATTRIBUTED]

    @property
    def association(self) -> np.ndarray:
        """Points from contacts' charges (a view)."""
        return self.ledgers[:, L_ASSOCIATION]

    @property
    def merit(self) -> np.ndarray:
        """Positive points (a view)."""
        return self.ledgers[:, L_MERIT]

    @property
    def score(self) -> np.ndarray:
        """The clamped score (a view)."""
        return self.ledgers[:, L_SCORE]

    @property
    def rho(self) -> np.ndarray:
        """Perceived risk as last written (a view); `behaviour.perceived_risk` decays it to a day."""
        return self.risk[:, RHO]

    @property
    def rho_day(self) -> np.ndarray:
        """The day each `rho` was written, -1 for rho0 (a float64 view)."""
        return self.risk[:, RHO_DAY]

    @property
    def exposure(self) -> np.ndarray:
        """`A_i = sum_l alpha_l * deg_l(i)` over active ties (a view)."""
        return self.risk[:, EXPOSURE]

    @property
    def active_degree(self) -> dict[str, np.ndarray]:
        """Active ties per citizen in each layer, counted from the layers' masks (O(ties))."""
        return {name: active_degrees(layer.indptr, layer.active) for name, layer in self.pop.layers.items()}


def _blocks(keys: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Citizens sorted by a small integer key, with each key's start and size."""
    order, start, size = counting_order(keys, n_keys)
    return order, start[:-1], size


def initial_state(
    cp: Compiled,
    pop: Population,
    rng: np.random.Generator,
    crn_seed: int | None = None,
    propensity: list[Propensity] | None = None,
) -> State:
    """Allocate the state for a run: everyone at the starting score, no one listed.

    `propensity`: the event types' propensities when already drawn (`propensities`, from `rng`).
    """
    p = cp.p
    n = pop.size
    start = float(p.score.start)
    start_tier = score_tier(start, cp.tier_bounds, len(cp.tier_names) - 1)
    district_group = pop.district.astype(np.int64) * 2 + pop.group
    block_order, block_start, block_size = _blocks(district_group, p.population.districts * 2)
    q_order, q_start, _ = _blocks(pop.income_q.astype(np.int64) - 1, 5)
    rep_firm = np.full(n, -1, dtype=np.int32)
    has_rep = pop.firm_rep >= 0
    rep_firm[pop.firm_rep[has_rep]] = np.flatnonzero(has_rep)
    scratch = Scratch(n)
    zero = np.zeros(LEDGER_COLUMNS)
    zero[L_SCORE] = start
    ledgers = np.empty((n, LEDGER_COLUMNS))
    fill_records(ledgers, zero)
    tier = np.full(n, start_tier, dtype=np.int8)
    bins_a_day = scheduled_bins_a_day(cp)
    days = p.days if bins_a_day else 0
    blocks = wake_pool_blocks(n, days) if bins_a_day else 0
    max_delay = int(cp.sources.delay.max()) if cp.sources.delay.size else 0
    firm_delay = int(cp.sources.delay[cp.sources.names.index(p.firms.source)]) if p.firms else 0
    return State(
        cp=cp,
        pop=pop,
        n=n,
        ledgers=ledgers,
        tier=tier,
        index=ScoreIndex(n, start, start_tier, p.score.min, p.score.max, len(cp.tier_names), bins_a_day, p.days),
        last_negative=np.full(n, NEVER, dtype=np.int32),
        recovering=IdSet(n, scratch, listed=not bins_a_day),  # scheduled: compiled code reads the mask
        recovery_due=Calendar(p.recovery.clean_days),
        sched=recovery_records(n if bins_a_day else 0),
        wake_meta=wake_meta(days, blocks),
        wake_pool=wake_pool(blocks),
        pending=Calendar(max_delay),
        blacklist=IdSet(n, scratch),
        cause=np.full(n, -1, dtype=np.int8),
        listed_day=np.full(n, NEVER, dtype=np.int32),
        listing_wrongful=np.zeros(n, dtype=bool),
        ever_blacklisted=np.zeros(n, dtype=bool),
        kept=kept_state(pop, scratch),
        listings=ListingLog(n),
        trace=None,
        risk=initial_risk(cp, pop),
        rho_sum=p.feedback.rho0 * n,
        firm_score=np.full(pop.n_firms, p.firms.start if p.firms else 0.0),
        firm_last_negative=np.full(pop.n_firms, NEVER, dtype=np.int32),
        firm_blacklisted=np.zeros(pop.n_firms, dtype=bool),
        firm_listed_day=np.full(pop.n_firms, NEVER, dtype=np.int32),
        firm_pending=Calendar(firm_delay),
        private_firms=np.flatnonzero(pop.firm_sector == SECTOR_PRIVATE),
        rep_firm=rep_firm,
        propensity=propensity if propensity is not None else propensities(cp, pop.attributes, rng, crn_seed),
        crn_seed=crn_seed,
        block_order=block_order,
        block_start=block_start,
        block_size=block_size,
        quintile_order=q_order,
        quintile_start=q_start,
        civil_servants=np.flatnonzero(pop.occupation == CIVIL_SERVANT),
        scratch=scratch,
        counters=DayCounters(
            events=np.zeros(len(cp.events.names), dtype=np.int64),
            detected=np.zeros(len(cp.events.names), dtype=np.int64),
        ),
    )


def concat(chunks: list[np.ndarray]) -> np.ndarray:
    """Join the day's chunks of ids into one array (empty when there are none)."""
    return np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
