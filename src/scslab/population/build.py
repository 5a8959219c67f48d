"""`build_population`: a scenario's population and networks, and its memory estimate."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import gammaln

from scslab.population.attributes import income_quintiles, occupations, party_members
from scslab.population.firms import build_firms, firm_counts
from scslab.population.households import MAX_HOUSEHOLD_SIZE, build_households
from scslab.population.networks import PARENT_LINK_SHARE, family_layer, friends_layer, work_layer
from scslab.population.types import LAYERS, Attributes, Layer, Population
from scslab.scenario import schema


def build_population(
    pop: schema.Population,
    networks: schema.Networks,
    rng: np.random.Generator,
    on_attributes: Callable[[Attributes], None] | None = None,
) -> Population:
    """Generate the synthetic population; deterministic given the generator's state.

    `on_attributes` is called with the eligibility attributes as soon as they are drawn, before
    the firms and networks (so that work needing only them can start alongside).
    """
    hh = build_households(pop, rng)
    occupation = occupations(hh.age_band, pop.occupation_shares, rng)
    party = party_members(hh.age_band, occupation, pop, rng)
    if on_attributes is not None:
        on_attributes(Attributes(hh.age_band, occupation, party))
    income = income_quintiles(occupation, hh.age_band, hh.household, hh.start, pop.income_quintile_by_occupation, rng)
    firms = build_firms(occupation, networks.work.firm_size_mean, rng)
    # Friends first: its key buffer is the largest temporary (see estimate_bytes_per_citizen).
    layers: dict[str, Layer] = {}
    layers["friends"] = friends_layer(
        hh.district_start, networks.friends.mean_degree, networks.friends.same_district, rng
    )
    layers["family"] = family_layer(hh.age_band, hh.district, hh.household, hh.start, hh.size, pop.districts, rng)
    layers["work"] = work_layer(pop.size, firms.members, firms.start, networks.work.mean_degree, rng)
    return Population(
        age_band=hh.age_band,
        group=hh.group,
        occupation=occupation,
        party_member=party,
        income_q=income,
        district=hh.district,
        household=hh.household,
        firm=firms.firm,
        firm_sector=firms.sector,
        firm_size=firms.size,
        firm_rep=firms.rep,
        layers={name: layers[name] for name in LAYERS},
    )


# Peak memory model of `build_population`, in bytes per citizen. Each term is an array the
# builder holds (see the modules); the phases are the points where the most is held at once:
#   attributes: age, group, occupation, party, income (int8) + district, household, firm (int32)
ATTRIBUTE_BYTES = 5 * 1 + 3 * 4
#   per household while building: first member (int64) and size (int8)
HOUSEHOLD_BYTES = 8 + 1
#   per firm: sector (int8), size, representative (int32), member offsets (int64), and the
#   work layer's per-firm pair counts and probabilities while it is wired (3 x 8)
FIRM_BYTES = 1 + 4 + 4 + 8 + 3 * 8
#   a finished layer: indptr (int32 per citizen) + indices (int32) and active (bool) per directed tie
LAYER_BYTES, TIE_BYTES = 4, 4 + 1
#   a layer being built: one int64 key per directed candidate tie + int32 row counts per citizen
KEY_BYTES, ROW_COUNT_BYTES = 8, 4
#   family extras: households by size (int64 per household), adults' ids and uniforms (int32 + float64),
#   and one size class's pair lists (two int32 per pair; at most all household pairs, 4 B per directed tie)
FAMILY_HOUSEHOLD_BYTES, FAMILY_ADULT_BYTES, FAMILY_PAIR_BYTES = 8, 4 + 8, 4
#   before the layers: household sizes, uniforms and age draws (measured phase peak, 1M citizens)
EARLY_BYTES = 33.0
#   chunked temporaries (CHUNK-sized blocks), independent of the population size (5-9 MiB by tracemalloc)
CHUNK_TEMP_BYTES = 16 * 2**20
#   realised degrees above their expectation, allocator slack (RSS over tracemalloc)
MARGIN = 1.06
# Derivation and check: the terms follow the arrays in the code; the phase peaks were read
# with tracemalloc (numpy reports its buffers to it; reset_peak between phases) at 1M
# citizens. The estimate is 1.02-1.10 x tracemalloc's peak for the example scenario and
# variants (friends k = 2/4/30, work k = 30/40/60 with firm_size_mean 100/200/1000,
# household_size_mean 6), 1.27 x with no work or friends ties; at 22M citizens (example
# scenario) max RSS grew by 150.7 B per citizen during the build, against an estimate of 158.


def _poisson_work_degree_sum(lam: float, offset: int, k: float) -> float:
    """E[s * min(s - 1, k)] for a firm of size s = offset + Poisson(lam)."""
    if lam <= 0:
        return float(offset * min(max(offset - 1, 0), k))
    spread = 12.0 * math.sqrt(lam) + 12.0
    x = np.arange(max(0, math.floor(lam - spread)), math.ceil(lam + spread + k) + 1, dtype=np.float64)
    pmf = np.exp(x * math.log(lam) - lam - gammaln(x + 1.0))
    s = x + offset
    return float(np.sum(pmf * s * np.clip(np.minimum(s - 1.0, k), 0.0, None)))


def _expected_workers(pop: schema.Population) -> tuple[int, int, int]:
    """Expected numbers of civil servants, employees and business owners."""
    shares = pop.occupation_shares
    adults = pop.size * pop.age_shares.adult
    return (
        round(adults * shares.civil_servant),
        round(adults * shares.employee),
        round(adults * shares.business_owner),
    )


def expected_degrees(pop: schema.Population, networks: schema.Networks) -> dict[str, float]:
    """Expected directed ties per citizen in each layer (family, work, friends), before dedupe."""
    n = pop.size
    adult = pop.age_shares.adult
    m = pop.household_size_mean
    p = (m - 1.0) / (MAX_HOUSEHOLD_SIZE - 1)
    trials = MAX_HOUSEHOLD_SIZE - 1
    pairs_per_household = trials * p * (1 - p) + (trials * p) ** 2 + trials * p  # E[s(s - 1)]
    family = pairs_per_household / m + 2.0 * PARENT_LINK_SHARE * adult

    n_cs, n_emp, n_own = _expected_workers(pop)
    n_private, n_public = firm_counts(n_cs, n_emp, n_own, networks.work.firm_size_mean)
    k = networks.work.mean_degree
    work = 0.0
    if k > 0:
        if n_private:
            lam = n_emp / n_private
            work += n_own * _poisson_work_degree_sum(lam, 1, k)
            work += (n_private - n_own) * _poisson_work_degree_sum(lam, 0, k)
        if n_public:
            work += n_public * _poisson_work_degree_sum(n_cs / n_public, 0, k)
        work /= n
    friends = 2.0 * round(n * networks.friends.mean_degree / 2) / n
    return {"family": family, "work": work, "friends": friends}


def estimate_bytes_per_citizen(pop: schema.Population, networks: schema.Networks) -> float:
    """Peak bytes per citizen to build and hold the population: arrays, CSR and the temporaries.

    The largest of the build phases (in build order): the friends key buffer on top of the
    attributes, then the family and work key buffers on top of the finished layers; chunked
    temporaries are spread over the citizens.
    """
    n = pop.size
    d = expected_degrees(pop, networks)
    n_cs, n_emp, n_own = _expected_workers(pop)
    workers = (n_cs + n_emp + n_own) / n
    firms = _firms_per_citizen(pop, networks)
    base = ATTRIBUTE_BYTES + HOUSEHOLD_BYTES / pop.household_size_mean + 4 * workers + FIRM_BYTES * firms

    def keys(ties: float) -> float:
        return KEY_BYTES * ties + ROW_COUNT_BYTES

    friends = base + keys(d["friends"])
    family = (
        base
        + _layer(d["friends"])
        + keys(d["family"])
        + FAMILY_HOUSEHOLD_BYTES / pop.household_size_mean
        + FAMILY_ADULT_BYTES * pop.age_shares.adult
        + FAMILY_PAIR_BYTES * (d["family"] - 2.0 * PARENT_LINK_SHARE * pop.age_shares.adult)
    )
    work = base + _layer(d["friends"]) + _layer(d["family"]) + keys(d["work"])
    return MARGIN * max(EARLY_BYTES, friends, family, work, _held(d, firms)) + CHUNK_TEMP_BYTES / n


def held_bytes_per_citizen(pop: schema.Population, networks: schema.Networks) -> float:
    """Bytes per citizen of the finished population: attributes, firms and the three layers."""
    return MARGIN * _held(expected_degrees(pop, networks), _firms_per_citizen(pop, networks))


def _layer(ties: float) -> float:
    """Bytes per citizen of a finished layer with `ties` directed ties a citizen."""
    return LAYER_BYTES + TIE_BYTES * ties


def _firms_per_citizen(pop: schema.Population, networks: schema.Networks) -> float:
    n_cs, n_emp, n_own = _expected_workers(pop)
    return sum(firm_counts(n_cs, n_emp, n_own, networks.work.firm_size_mean)) / pop.size


def _held(degrees: dict[str, float], firms: float) -> float:
    """Bytes per citizen of the finished population, from the expected degrees and firms a citizen."""
    return ATTRIBUTE_BYTES + FIRM_BYTES * firms + sum(_layer(x) for x in degrees.values())
