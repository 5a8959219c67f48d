"""Estimate a run's peak memory before allocating anything, and refuse runs that would not fit."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from scslab.errors import ResourceError
from scslab.hardware import available_bytes
from scslab.model import effects
from scslab.model.trace import ROW_BYTES, ROW_DISK_BYTES, TraceSpec, expected_citizens
from scslab.population import estimate_bytes_per_citizen, held_bytes_per_citizen
from scslab.population.build import expected_degrees
from scslab.scenario.schema import Eligible, ScenarioParams

# Bytes per citizen held by the run state (model/state.py) apart from the effects' own (each
# effect declares its bytes a citizen and a household, `model.effects`): the ledgers record
# (5 float64), the feedback record (3 float64), the tier, three int32 columns (last negative
# charge, listing day, the scratch stamp), two id sets (a mask and an int32 list each), three
# bool or int8 columns, three int32 lookups (represented firm, the two orders), and the listing
# log's open episode (int32; its records grow with the listings, a few bytes each).
STATE_BYTES = 5 * 8 + 3 * 8 + 1 + 3 * 4 + 2 * (1 + 4) + 3 * 1 + 3 * 4 + 4
# Scheduled recovery (when recovery is on): the recovery record (four int32 a citizen) and the
# wake pool (an int32 a citizen, in blocks of 64 with two links each).
SCHEDULE_BYTES = 4 * 4 + 4 * 66 / 64
# Per event type with heterogeneity: u_ie (float32) and the block sums (float64 per 16 citizens)
# over everyone when at least half are eligible, else over the eligible (bounded by the share
# of the age bands it is open to) plus, per distinct eligibility rule, their ids (int32).
EVENT_BYTES = 4 + 8 / 16
ELIGIBLE_BYTES = 4
# Queues and the day's scratch: charges waiting for their delay, recovery checks waiting for
# their clean days, the day's keys (beijing-2020 at 22 M: about 10 B a citizen).
QUEUE_BYTES = 10
# End of the run: the wrongful and rewarded masks (the breakdowns work chunk by chunk).
END_BYTES = 2
# The people table (--save-people): about 85 B a citizen as a data frame, as much again while it
# is converted for Parquet.
PEOPLE_BYTES = 170
# The interpreter and libraries (numpy, pandas, pyarrow, numba, plotly, scipy): about 350 MB for a
# small run with the kernels cached; on the first runs after a fresh install, while numba compiles
# the kernels, 640.5 MB on 2026-12-03 and 741.3 MB on 2026-12-04 (with the trace's and the intervals'
# modules, measured by tests/test_bounds.py in a fresh clone, whose run then included its per-citizen
# part). That first-run peak, plus 5% or more, sets the fixed part.
FIXED_BYTES = 704 * 2**20
# Allocator slack and the layers' realised degrees above their expectation. Measured peaks
# (bench/README.md) sit 12-16% below the estimate for beijing-2020 at 4 M and 22 M citizens.
MARGIN = 1.05


def estimate_peak_bytes(params: ScenarioParams, people: bool = False) -> int:
    """The peak memory of a run of `params` (with the people table when `people`), in bytes.

    The larger of the population build's own peak and the finished population plus the run's
    state, event tables, queues and end-of-run arrays.
    """
    pop, net = params.population, params.networks
    rules: dict[tuple[object, ...], float] = {}
    events = 0.0
    for e in params.events.values():
        share = _eligible_share(params, e.eligible)
        if e.heterogeneity > 0 and share >= 0.5:  # propensities over everyone, no id list
            events += EVENT_BYTES
            continue
        rules[e.eligible.key()] = share
        events += EVENT_BYTES * share if e.heterogeneity > 0 else 0.0
    events += ELIGIBLE_BYTES * sum(rules.values())
    run = (
        held_bytes_per_citizen(pop, net)
        + STATE_BYTES
        + effect_bytes(pop.household_size_mean)
        + (SCHEDULE_BYTES if params.recovery.per_day > 0 else 0)
        + events
        + QUEUE_BYTES
        + END_BYTES
        + (PEOPLE_BYTES if people else 0)
    )
    per_citizen = max(estimate_bytes_per_citizen(pop, net), MARGIN * run)
    return int(FIXED_BYTES + per_citizen * pop.size + sum(d.bytes for d in demands(params)))


def effect_bytes(household_size_mean: float) -> float:
    """The bytes a citizen that the registered effects keep (their households' share included)."""
    return sum(e.bytes_per_citizen + e.bytes_per_household / household_size_mean for e in effects.REGISTRY)


def _eligible_share(params: ScenarioParams, rule: Eligible) -> float:
    """An upper bound on the share of citizens an eligibility rule admits."""
    pop = params.population
    share = 1.0
    if rule.age_bands is not None:
        share = sum(getattr(pop.age_shares, band) for band in rule.age_bands)
    if rule.occupations is not None and "student" not in rule.occupations:
        share = min(share, pop.age_shares.adult + pop.age_shares.senior)  # children are students
    if rule.party_member:
        share = min(share, pop.party_member_share + pop.party_member_share_civil_servants)
    return share


def check_memory(params: ScenarioParams, source: str, people: bool = False, trace: TraceSpec | None = None) -> None:
    """Raise a one-line ResourceError when the run would not fit in available memory.

    The error names the key that asks for the most memory: `population.size` when the citizens'
    own arrays do, else the key of the largest demand (`demands`), with the citizens that would fit.
    A run that fits without its trace but not with it is refused naming the trace that would fit.
    """
    need = estimate_peak_bytes(params, people)
    have = int(available_bytes() * 0.9)
    if need <= have:
        if trace is not None:
            check_trace(trace, trace_bytes(params, trace)[0], have - need, "memory", params)
        return
    n = params.population.size
    fixed = FIXED_BYTES + sum(d.bytes for d in demands(params) if not d.per_citizen)
    per_citizen = (need - fixed) / n
    fits = max(0, int((have - fixed) / per_citizen)) if have > fixed else 0
    largest = max(demands(params), key=lambda d: d.bytes, default=None)
    citizens = need - FIXED_BYTES - sum(d.bytes for d in demands(params))
    if largest is None or largest.bytes <= citizens:
        raise ResourceError(
            f"{source}: population.size: {n:,} citizens need about {need / 2**30:.1f} GiB "
            f"but {have / 2**30:.1f} GiB is available (allowed here: at most {fits:,} citizens)"
        )
    raise ResourceError(
        f"{source}: {largest.key}: {largest.what} need about {largest.bytes / 2**30:.1f} GiB of the run's "
        f"{need / 2**30:.1f} GiB but {have / 2**30:.1f} GiB is available "
        f"(allowed here: a smaller {largest.key}, or at most {fits:,} citizens)"
    )


# Memory that follows the scenario's rates, score range, schedule and length rather than the
# citizens alone (each measured against the run's peak in bench/memory_peaks.py):
# a day's event at the day's peak: the thinning candidates (positions, ids), the events' actor,
# type and key (int64 each), the detection's uniforms and masks and the detected copies.
EVENT_DAY_BYTES = 160
# A charge waiting for its source's delay (`State.pending`): target, type and true actor (int64).
PENDING_BYTES = 24
# A recovery check waiting for its clean days (`State.recovery_due`): an int64 id.
DUE_BYTES = 8
# A charge passed on to a contact (association): its id and the touched list.
CONTACT_BYTES = 24
# A trip drawn where a travel ban reaches beyond the blacklist: quintile, traveller, uniform, mode.
TRIP_BYTES = 48
# The daily table: columns a run keeps (core columns plus two an event type and one a tier,
# an upper bound), as arrays, as a data frame and while it is converted for Parquet.
TABLE_COLUMNS = 40
TABLE_COPIES = 3
# A day of the run: coverage per source (float64), perceived-risk decay, the wake pool's day.
DAY_BYTES = 8 + 4 * 4 + 66 * 4
# Poisson variation of a day's count around its mean: mean + 6 sd (never exceeded in practice).
POISSON_SDS = 6.0
# The score histogram and the moving one are int64 over 0.1-point bins (`ledgers.ScoreIndex`).
BIN_BYTES = 8
SCORE_BIN = 0.1  # (`model.params.SCORE_BIN`)


@dataclass(frozen=True)
class Demand:
    """Bytes a run allocates because of one key: which key, for what, and whether it grows with the citizens."""

    key: str
    what: str
    bytes: float
    per_citizen: bool


def events_a_day(params: ScenarioParams, names: Collection[str] | None = None) -> float:
    """An upper bound on a day's events of the types `names` (all when None), thinning candidates
    included, with room for Poisson variation."""
    n = params.population.size
    loss = sum(s.size for s in params.sanctions if s.effect == "loan_penalty")
    stress = max(1.0, 1.0 + params.stress.sigma * min(1.0, loss))
    mean = sum(
        n * e.rate * _eligible_share(params, e.eligible) * (stress if e.financial else 1.0)
        for name, e in params.events.items()
        if names is None or name in names
    )
    return _with_variation(mean)


def _with_variation(mean: float) -> float:
    return mean + POISSON_SDS * math.sqrt(mean)


def demands(params: ScenarioParams) -> list[Demand]:
    """The memory the scenario's rates, score range, recovery schedule, delays and length add."""
    days = params.days
    events = events_a_day(params)
    out = [Demand("events.*.rate", f"{events:,.0f} events a day", EVENT_DAY_BYTES * events, True)]
    by_delay: dict[int, list[str]] = {}
    for name, e in params.events.items():
        by_delay.setdefault(params.sources[e.source].delay, []).append(name)
    held = sum(events_a_day(params, names) * min(delay, days) for delay, names in by_delay.items())
    if held:
        out.append(Demand("sources.*.delay", f"{held:,.0f} charges in flight", PENDING_BYTES * held, True))
    degrees = expected_degrees(params.population, params.networks)
    net = params.networks
    alphas = {"family": net.family.alpha, "work": net.work.alpha, "friends": net.friends.alpha}
    fanout = sum(degrees[name] for name, alpha in alphas.items() if alpha > 0)
    negative = [name for name, e in params.events.items() if e.points < 0]
    contacts = events_a_day(params, set(negative) & set(params.association.events)) * fanout
    if contacts:
        out.append(
            Demand("networks.*.alpha", f"{contacts:,.0f} contacts charged a day", CONTACT_BYTES * contacts, True)
        )
    if params.recovery.per_day > 0:
        charged = events_a_day(params, negative) + contacts
        due = min(params.recovery.clean_days + 1, days) * min(charged, params.population.size)  # distinct a day
        out.append(Demand("recovery.clean_days", f"{due:,.0f} recovery checks waiting", DUE_BYTES * due, True))
    out += _score_demands(params)
    if any(s.effect == "travel_ban" and s.trigger.strip() != "blacklist" for s in params.sanctions):
        trips = _with_variation(params.population.size * max(params.travel.rate))
        out.append(Demand("travel.rate", f"{trips:,.0f} trips a day", TRIP_BYTES * trips, True))
    if params.firms is not None and params.firms.violation_rate > 0:
        pop = params.population
        firms = pop.size * (pop.age_shares.adult + pop.age_shares.senior) / params.networks.work.firm_size_mean + 1
        violations = _with_variation(firms * params.firms.violation_rate)
        delay = params.sources[params.firms.source].delay
        bytes_ = (EVENT_DAY_BYTES + PENDING_BYTES * min(delay, days)) * violations
        out.append(Demand("firms.violation_rate", f"{violations:,.0f} firm violations a day", bytes_, True))
    table = days * (TABLE_COPIES * 8 * table_columns(params) + 8 * len(params.sources) + DAY_BYTES)
    out.append(Demand("days", f"{days:,} days of the daily table", table, False))
    return out


def table_columns(params: ScenarioParams) -> int:
    """An upper bound on the daily table's columns (`model.metrics.metric_names`)."""
    return TABLE_COLUMNS + 2 * len(params.events) + len(params.score.tiers)


def _score_demands(params: ScenarioParams) -> list[Demand]:
    """The score histogram, and the moving histogram of scheduled recovery (`ledgers.ScoreIndex`)."""
    score = params.score
    bins = math.ceil((score.max - score.min) / SCORE_BIN) + 1
    out = [Demand("score.max", f"a histogram of {bins:,} bins", 2 * BIN_BYTES * bins, False)]
    per_day = params.recovery.per_day
    a_day = per_day / SCORE_BIN
    if per_day > 0 and abs(a_day - round(a_day)) <= 1e-9:
        slots = bins + round(a_day) * (params.days + 2)
        out.append(Demand("recovery.per_day", f"a moving histogram of {slots:,} bins", BIN_BYTES * slots, False))
    return out


# The trace (`model.trace`): a mask and the effects' held bits a citizen (bool, uint16), and per
# ledger row its columns in memory (`ROW_BYTES`, in blocks that grow without copying more than one;
# a second time while the table of every row is built, not for `listed`, whose table holds the
# listed only) and on disk (`ROW_DISK_BYTES`). Rows over the run: the charges detected and shared
# (at the highest coverage of their source, without deterrence) and the association points they
# pass on, with TRACE_RUN_MARGIN for Poisson variation; recovery rows, under scheduled recovery
# SCHEDULED_RECOVERY_ROWS a charge (measured on beijing-2020: 0.22), under eager recovery one a day
# and negative ledger while recovering: at most RECOVERY_LEDGERS a day for each `per_day` of points
# charged. For beijing-2020 this is 3.2 times the rows measured (11.0 a citizen against 3.4).
TRACE_CITIZEN_BYTES = 1 + 2
TRACE_RUN_MARGIN = 1.2
SCHEDULED_RECOVERY_ROWS = 0.5
RECOVERY_LEDGERS = 3


def trace_rows_a_citizen(params: ScenarioParams) -> float:
    """An upper bound on the ledger rows a traced citizen gets over the run (when everyone is traced)."""
    n = params.population.size
    degrees = expected_degrees(params.population, params.networks)
    net = params.networks
    alphas = {"family": net.family.alpha, "work": net.work.alpha, "friends": net.friends.alpha}
    fanout = sum(degrees[name] for name, alpha in alphas.items() if alpha > 0)
    spread = sum(degrees[name] * alpha for name, alpha in alphas.items())
    loss = sum(s.size for s in params.sanctions if s.effect == "loan_penalty")
    stress = max(1.0, 1.0 + params.stress.sigma * min(1.0, loss))
    charges = contacts = debt = 0.0  # a day, over everyone
    for name, e in params.events.items():
        src = params.sources[e.source]
        seen = min(1.0, max(src.coverage, src.coverage_end or 0.0) * max(1.0, src.civil_servant_multiplier))
        a_day = n * e.rate * _trace_share(params, e.eligible) * (stress if e.financial else 1.0) * seen * src.share
        charges += a_day
        if e.points < 0:
            debt += a_day * -e.points
            if name in params.association.events:
                contacts += a_day * fanout
                debt += a_day * -e.points * spread
    rows = (charges + contacts) * TRACE_RUN_MARGIN
    per_day = params.recovery.per_day
    if per_day > 0:
        eager = abs(per_day / SCORE_BIN - round(per_day / SCORE_BIN)) > 1e-9
        rows += (
            min(RECOVERY_LEDGERS * n, RECOVERY_LEDGERS * debt / per_day) if eager else SCHEDULED_RECOVERY_ROWS * rows
        )
    return rows * params.days / max(n, 1)


def _trace_share(params: ScenarioParams, rule: Eligible) -> float:
    """`_eligible_share`, with party members their expected share (members among the others and among civil
    servants) rather than the sum of both shares."""
    pop = params.population
    share = _eligible_share(params, rule)
    if rule.party_member:
        civil = pop.occupation_shares.civil_servant
        share = min(share, pop.party_member_share + civil * pop.party_member_share_civil_servants)
    return share


def trace_bytes(params: ScenarioParams, spec: TraceSpec) -> tuple[int, int]:
    """The memory and disk (bytes) that tracing `spec`'s citizens takes in a run of `params`."""
    n = params.population.size
    rows = trace_rows_a_citizen(params) * expected_citizens(spec, n)
    memory = TRACE_CITIZEN_BYTES * n + (1 if spec.kind == "listed" else 2) * ROW_BYTES * rows
    return int(memory), int(ROW_DISK_BYTES * rows)


def check_trace(spec: TraceSpec, need: int, have: int, where: str, params: ScenarioParams) -> None:
    """A one-line ResourceError when a trace needs more `where` (memory or disk) than the `have` bytes
    left, naming the panel that would fit."""
    if need <= have:
        return
    n = params.population.size
    per_citizen = trace_bytes(params, TraceSpec("panel", size=1))[int(where == "disk")] - (
        TRACE_CITIZEN_BYTES * n if where == "memory" else 0)  # fmt: skip
    fixed = TRACE_CITIZEN_BYTES * n if where == "memory" else 0
    fits = int(min(n, max(0, (have - fixed) / max(per_citizen, 1))))
    while fits > 0 and trace_bytes(params, TraceSpec("panel", size=fits))[int(where == "disk")] > have:
        fits -= 1  # (the bytes are rounded down: a panel at the edge may need a byte more)
    advice = f"--trace panel:{fits:,} would fit".replace(",", "") if fits else "no trace fits"
    raise ResourceError(
        f"--trace {spec}: needs about {need / 1e9:.1f} GB of {where} here, {max(have, 0) / 1e9:.1f} GB free; "
        f"{advice} (allowed: a smaller trace)"
    )
