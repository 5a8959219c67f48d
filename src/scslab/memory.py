"""Estimate a run's peak memory before allocating anything, and refuse runs that would not fit."""

from __future__ import annotations

from scslab.errors import ResourceError
from scslab.hardware import available_bytes
from scslab.model import effects
from scslab.population import estimate_bytes_per_citizen, held_bytes_per_citizen
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
# The interpreter and libraries (numpy, pandas, pyarrow, numba, plotly): 345 MB measured for a
# run of 10,000 citizens with its report; 424-457 MB on the first run after an install, while
# numba compiles the kernels. The default run's first-run peak, 558 MB, sets the margin here.
FIXED_BYTES = 490 * 2**20
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
    return int(FIXED_BYTES + per_citizen * pop.size)


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


def check_memory(params: ScenarioParams, source: str, people: bool = False) -> None:
    """Raise a one-line ResourceError when the run would not fit in available memory."""
    need = estimate_peak_bytes(params, people)
    have = int(available_bytes() * 0.9)
    if need <= have:
        return
    per_citizen = (need - FIXED_BYTES) / params.population.size
    fits = max(0, int((have - FIXED_BYTES) / per_citizen))
    raise ResourceError(
        f"{source}: population.size: {params.population.size:,} citizens need about {need / 2**30:.1f} GiB "
        f"but {have / 2**30:.1f} GiB is available (allowed here: at most {fits:,} citizens)"
    )
