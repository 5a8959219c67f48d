"""The simulation state: one array per attribute over all citizens, allocated once."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from scslab.hardware import available_cores
from scslab.model.draws import PROPENSITY, keyed_uniform, name_key
from scslab.model.kernels import (
    ASSOCIATION,
    EXPOSURE,
    HEAD,
    MERIT,
    MISATTRIBUTED,
    NEXT_BLOCK,
    NOT_RECOVERING,
    OWN,
    PREV_BLOCK,
    RHO,
    RHO_DAY,
    SCORE,
    TAIL,
    WAKE_BLOCK,
    active_degrees,
    add_degrees,
    block_totals,
    counting_order,
    fill_records,
    keep_members,
    last_occurrences,
    moving_slot,
    quantile_bins,
    wake_pool_blocks,
)
from scslab.model.params import SCORE_BIN, Compiled
from scslab.population.types import AGE_CHILD, CIVIL_SERVANT, SECTOR_PRIVATE, Attributes, Population
from scslab.scenario.schema import AGE_BANDS, OCCUPATIONS

NEVER = np.iinfo(np.int32).min // 2
# Draws made in chunks of this many, one random stream a chunk (so that threads may share the work).
DRAW_CHUNK = 1 << 20


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


class ScoreIndex:
    """Aggregates of the score kept up to date incrementally: sum, tier counts, a 0.1-point histogram.

    Bins are centred on multiples of 0.1 above `score.min`, so a quantile is exact for scores
    on that grid and within 0.05 points otherwise. `kernels.refresh` moves citizens between bins.
    """

    BIN = SCORE_BIN

    def __init__(
        self, n: int, score: float, tier: int, low: float, high: float, n_tiers: int, bins_a_day: int = 0, days: int = 0
    ) -> None:
        """The index of `n` citizens who all have `score` and `tier` (everyone at the start).

        With `bins_a_day` > 0 (scheduled recovery over `days` days) the scores that rise that many
        bins a day are kept apart, in `moving_hist`, at `bin - bins_a_day * day + offset`
        (`kernels.moving_slot`), so that they move without being touched.
        """
        self.low = low
        self.n_bins = int(np.ceil((high - low) / self.BIN)) + 1
        self.hist = np.zeros(self.n_bins, dtype=np.int64)
        self.hist[self._bins(np.array([score]))[0]] = n
        self.tier_counts = np.zeros(n_tiers, dtype=np.int64)
        self.tier_counts[tier] = n
        self.total = n * float(score)
        self.n = n
        self.bins_a_day = bins_a_day
        self.moving_hist = np.zeros(self.n_bins + bins_a_day * (days + 2) if bins_a_day else 0, dtype=np.int64)
        self.n_moving = 0  # citizens counted in moving_hist

    def _bins(self, score: np.ndarray) -> np.ndarray:
        """The bin of each score (`kernels.refresh` computes the same for the citizens it moves)."""
        return np.clip(np.rint((score - self.low) / self.BIN).astype(np.int64), 0, self.n_bins - 1)

    def first_slot(self, day: int) -> int:
        """The slot of `moving_hist` that holds bin 0 at the end of `day`'s recovery."""
        return moving_slot(0, day, self.bins_a_day, self.moving_hist.size, self.n_bins)

    def histogram(self, day: int) -> np.ndarray:
        """Everyone's scores at the end of `day`'s recovery, by bin: the still ones and the moving ones."""
        if self.n_moving == 0:
            return self.hist
        first = self.first_slot(day)
        return self.hist + self.moving_hist[first : first + self.n_bins]

    def quantile(self, q: float, day: int) -> float:
        """The q-quantile of the score on `day` (the lowest grid value with at least a share q at or below it)."""
        return float(self.quantiles(np.array([q]), day)[0])

    def quantiles(self, q: np.ndarray, day: int) -> np.ndarray:
        """`quantile` of each of `q` (ascending), from one running count over both histograms."""
        first = self.first_slot(day) if self.n_moving else -1
        return self.low + self.BIN * quantile_bins(self.hist, self.moving_hist, first, q * self.n)


# Citizens per block of the propensity sampler: a candidate's block is found by a search over
# block sums, then its entry by a walk of at most this many float32 (one cache line).
PROPENSITY_BLOCK = 16
# Blocks per super-block: the running sums at super-block ends (1/256 of the citizens) stay in
# cache, and a candidate's block is then searched among the super-block's 16 (two cache lines).
PROPENSITY_SUPER = 16


@dataclass
class Propensity:
    """Who may commit one event type, and their propensities `u_ie` with running sums per block.

    `eligible` is shared between event types with the same eligibility rule. When at least half
    the citizens are eligible, `weights` runs over all citizens instead (0 for the others) and
    `eligible` is empty: a drawn position is then the citizen's id, one memory read fewer.
    """

    eligible: np.ndarray  # int32 citizen ids, ascending; empty when `weights` is over everyone
    weights: np.ndarray | None  # u_ie (float32) over `eligible` or everyone; None when h = 0
    block_cum: np.ndarray | None = None  # float64 running sum of `weights` to the end of each block
    super_cum: np.ndarray | None = None  # the same to the end of each run of PROPENSITY_SUPER blocks

    def ids(self) -> np.ndarray:
        """The eligible citizens (int64); over everyone, those of positive propensity (others never act)."""
        if self.weights is not None and self.eligible.size == 0:
            return np.flatnonzero(self.weights > 0)
        return self.eligible.astype(np.int64)

    @property
    def total(self) -> float:
        """Sum of u_ie over the eligible citizens."""
        if self.weights is None:
            return float(self.eligible.size)
        assert self.block_cum is not None
        return float(self.block_cum[-1]) if self.block_cum.size else 0.0

    @classmethod
    def build(cls, eligible: np.ndarray, weights: np.ndarray | None) -> Propensity:
        """The propensities `weights` (float32) over `eligible`, with their block sums."""
        if weights is None:
            return cls(eligible, None)
        block_cum = np.cumsum(block_totals(weights, PROPENSITY_BLOCK))
        ends = np.minimum(
            np.arange(PROPENSITY_SUPER, block_cum.size + PROPENSITY_SUPER, PROPENSITY_SUPER), block_cum.size
        )
        return cls(eligible, weights, block_cum, block_cum[ends - 1])


@dataclass
class DayCounters:
    """The day's flows, reset every morning."""

    events: np.ndarray
    detected: np.ndarray
    listings_new: int = 0
    appeals_won: int = 0
    trips_denied: int = 0
    trips_denied_plane: int = 0
    trips_denied_train: int = 0
    speech_suppressed: int = 0
    promotions_granted: int = 0
    promotions_blocked: int = 0
    ties_cut: int = 0
    exits: int = 0  # citizens taken off the blacklist today (terms served, appeals won)

    def reset(self) -> None:
        self.events[:] = 0
        self.detected[:] = 0
        for name in (
            "listings_new",
            "appeals_won",
            "trips_denied",
            "trips_denied_plane",
            "trips_denied_train",
            "speech_suppressed",
            "promotions_granted",
            "promotions_blocked",
            "ties_cut",
            "exits",
        ):
            setattr(self, name, 0)


@dataclass
class State:
    """Everything that changes during a run."""

    cp: Compiled
    pop: Population
    n: int
    # ledgers (section 4) and the clamped score (section 5), one record of five float64 a citizen
    # (columns OWN, MISATTRIBUTED, ASSOCIATION, MERIT, SCORE: read together, so kept together)
    ledgers: np.ndarray
    tier: np.ndarray
    index: ScoreIndex
    last_negative: np.ndarray
    recovering: IdSet
    recovery_due: Calendar
    # scheduled recovery (kernels.REC_DAY ...): one int32 record a citizen, and the days' wakes
    # (kernels.HEAD ..., WAKE_BLOCK); empty when recovery is eager or off
    sched: np.ndarray
    wake_meta: np.ndarray
    wake_pool: np.ndarray
    pending: Calendar  # charges waiting for their source's delay: (target, event, misattributed)
    # blacklist (section 6)
    blacklist: IdSet
    cause: np.ndarray  # int8 cause code, -1 when not listed
    listed_day: np.ndarray
    listing_wrongful: np.ndarray  # listed offences charged to the wrong person
    ever_blacklisted: np.ndarray
    # rewards and sanctions with state
    red_loan_until: np.ndarray
    red_loan: IdSet
    education_affected: np.ndarray  # adults whose household's children are restricted
    household_restricted: np.ndarray  # per household: affected adults
    household_children: np.ndarray  # per household: children
    children_restricted: int
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

    @property
    def own(self) -> np.ndarray:
        """Points from true events, correctly attributed (a view)."""
        return self.ledgers[:, OWN]

    @property
    def misattributed(self) -> np.ndarray:
        """Points from events charged to the wrong person (a view)."""
        return self.ledgers[:, MISATTRIBUTED]

    @property
    def association(self) -> np.ndarray:
        """Points from contacts' charges (a view)."""
        return self.ledgers[:, ASSOCIATION]

    @property
    def merit(self) -> np.ndarray:
        """Positive points (a view)."""
        return self.ledgers[:, MERIT]

    @property
    def score(self) -> np.ndarray:
        """The clamped score (a view)."""
        return self.ledgers[:, SCORE]

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


def _allowed(names: tuple[str, ...], chosen: Sequence[str]) -> np.ndarray:
    """A lookup from code to whether its name is among `chosen`."""
    return np.array([name in chosen for name in names])


def _gammas(
    rng: np.random.Generator, shape: float, scale: float, size: int, mask: np.ndarray | None = None
) -> np.ndarray:
    """`size` Gamma(shape, scale) draws as float32, drawn in fixed chunks on parallel threads;
    with `mask`, 0 wherever it is False.

    Chunk k always takes the k-th stream spawned from `rng`, so the draws do not depend on the
    number of threads.
    """
    out = np.empty(size, dtype=np.float32)
    starts = range(0, size, DRAW_CHUNK)
    streams = rng.spawn(len(starts))

    def fill(k: int) -> None:
        lo = starts[k]
        draws = streams[k].standard_gamma(shape, size=min(DRAW_CHUNK, size - lo), dtype=np.float32)
        draws *= np.float32(scale)
        if mask is not None:
            draws[~mask[lo : lo + DRAW_CHUNK]] = 0.0
        out[lo : lo + DRAW_CHUNK] = draws

    with ThreadPoolExecutor(max_workers=available_cores()) as pool:
        list(pool.map(fill, range(len(starts))))
    return out


def _eligible_mask(cp: Compiled, pop: Attributes, name: str) -> np.ndarray:
    """Whether each citizen may commit event type `name`."""
    rule = cp.p.events[name].eligible
    mask = np.ones(pop.size, dtype=bool)
    if rule.age_bands is not None:
        mask &= _allowed(AGE_BANDS, rule.age_bands)[pop.age_band]
    if rule.occupations is not None:
        mask &= _allowed(OCCUPATIONS, rule.occupations)[pop.occupation]
    if rule.party_member is not None:
        mask &= pop.party_member == rule.party_member
    return mask


def propensities(cp: Compiled, pop: Attributes, rng: np.random.Generator, crn_seed: int | None) -> list[Propensity]:
    """Eligible citizens per event type and their fixed propensities `u_ie ~ Gamma(1/h^2, h^2)`.

    Under common random numbers `u_ie` is the Gamma inverse CDF of a uniform keyed by
    (seed, citizen, event name), so it does not depend on the other event types.
    """
    out = []
    masks: dict[tuple[object, ...], np.ndarray] = {}
    ids: dict[tuple[object, ...], np.ndarray] = {}
    for name, h in zip(cp.events.names, cp.events.heterogeneity, strict=True):
        key = cp.p.events[name].eligible.key()
        if key not in masks:
            masks[key] = _eligible_mask(cp, pop, name)
        mask = masks[key]
        dense = h > 0 and 2 * int(np.count_nonzero(mask)) >= pop.size
        if not dense and key not in ids:
            ids[key] = np.flatnonzero(mask).astype(np.int32)
        eligible = ids[key] if not dense else np.empty(0, dtype=np.int32)
        if h == 0:
            out.append(Propensity.build(eligible, None))
            continue
        if crn_seed is not None:
            from scipy.special import gammaincinv

            who = np.flatnonzero(mask) if dense else eligible
            weights = (
                gammaincinv(1.0 / h**2, keyed_uniform(crn_seed, -1, who, PROPENSITY, name_key(name))) * h**2
            ).astype(np.float32)
            if dense:
                weights, sparse = np.zeros(pop.size, dtype=np.float32), weights
                weights[who] = sparse
        else:
            weights = _gammas(rng, 1.0 / h**2, h**2, pop.size if dense else eligible.size, mask if dense else None)
        out.append(Propensity.build(eligible, weights))
    return out


def _risk(cp: Compiled, pop: Population) -> np.ndarray:
    """The feedback records at the start: rho0 written on day -1, exposure from the degrees."""
    start = np.zeros(3)
    start[RHO], start[RHO_DAY] = cp.p.feedback.rho0, -1.0
    risk = np.empty((pop.size, 3))
    fill_records(risk, start)
    for name, layer in pop.layers.items():
        if cp.alpha.get(name, 0.0):
            add_degrees(risk, EXPOSURE, layer.indptr, cp.alpha[name])
    return risk


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
    start_tier = min(int(np.searchsorted(-cp.tier_bounds, -start, side="left")), len(cp.tier_names) - 1)
    n_households = pop.n_households
    district_group = pop.district.astype(np.int64) * 2 + pop.group
    block_order, block_start, block_size = _blocks(district_group, p.population.districts * 2)
    q_order, q_start, _ = _blocks(pop.income_q.astype(np.int64) - 1, 5)
    rep_firm = np.full(n, -1, dtype=np.int32)
    has_rep = pop.firm_rep >= 0
    rep_firm[pop.firm_rep[has_rep]] = np.flatnonzero(has_rep)
    scratch = Scratch(n)
    zero = np.zeros(5)
    zero[SCORE] = start
    ledgers = np.empty((n, 5))
    fill_records(ledgers, zero)
    tier = np.full(n, start_tier, dtype=np.int8)
    bins_a_day = scheduled_bins_a_day(cp)
    days = p.days if bins_a_day else 0
    blocks = wake_pool_blocks(n, days) if bins_a_day else 0
    sched = np.empty((n if bins_a_day else 0, 4), dtype=np.int32)
    fill_records(sched, np.array([NOT_RECOVERING, -1, -1, -1], dtype=np.int32))
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
        sched=sched,
        wake_meta=wake_meta(days, blocks),
        wake_pool=wake_pool(blocks),
        pending=Calendar(max_delay),
        blacklist=IdSet(n, scratch),
        cause=np.full(n, -1, dtype=np.int8),
        listed_day=np.full(n, NEVER, dtype=np.int32),
        listing_wrongful=np.zeros(n, dtype=bool),
        ever_blacklisted=np.zeros(n, dtype=bool),
        red_loan_until=np.full(n, NEVER, dtype=np.int32),
        red_loan=IdSet(n, scratch),
        education_affected=np.zeros(n, dtype=bool),
        household_restricted=np.zeros(n_households, dtype=np.int32),
        household_children=np.bincount(pop.household[pop.age_band == AGE_CHILD], minlength=n_households).astype(
            np.int32
        ),
        children_restricted=0,
        risk=_risk(cp, pop),
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


def wake_meta(days: int, blocks: int) -> np.ndarray:
    """Empty wakes for `days` days (kernels.HEAD, TAIL, FILL, COUNT), every block free."""
    meta = np.zeros((4, days + 1), dtype=np.int32)
    meta[HEAD] = -1
    meta[TAIL] = -1
    meta[HEAD, -1] = 0 if blocks else -1
    return meta


def wake_pool(blocks: int) -> np.ndarray:
    """A wake pool of `blocks` free blocks, chained in order (kernels.NEXT_BLOCK)."""
    pool = np.full((blocks, WAKE_BLOCK + 2), -1, dtype=np.int32)  # (defined everywhere: checkpoints compare)
    pool[:, NEXT_BLOCK] = np.arange(1, blocks + 1)
    pool[:, PREV_BLOCK] = -1
    if blocks:
        pool[-1, NEXT_BLOCK] = -1
    return pool


def scheduled_bins_a_day(cp: Compiled) -> int:
    """Histogram bins a recovering score rises a day under scheduled recovery, or 0 when recovery is
    eager (a `per_day` that is not a whole number of bins, or scheduling switched off) or off."""
    per_day = cp.p.recovery.per_day
    bins = per_day / ScoreIndex.BIN
    if not cp.scheduled_recovery or per_day <= 0 or abs(bins - round(bins)) > 1e-9:
        return 0
    return round(bins)


def concat(chunks: list[np.ndarray]) -> np.ndarray:
    """Join the day's chunks of ids into one array (empty when there are none)."""
    return np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
