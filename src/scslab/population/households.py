"""Households, age bands, districts and groups.

Household size is `1 + Binomial(5, (m - 1) / 5)` (sizes 1..6, mean exactly `m`).
Citizens are numbered household by household; member 0 of each household is its head,
an adult or a senior, so every child lives with at least one adult or senior.
Households are numbered by district (households are exchangeable, so this changes no
distribution): each district's citizens form one contiguous id range, which lets the
network builders draw "a citizen of district d" without any lookup table.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from scslab.scenario import schema

MAX_HOUSEHOLD_SIZE = 6


class Households(NamedTuple):
    """Per-citizen household columns plus per-household size and first member."""

    household: np.ndarray  # int32 per citizen
    age_band: np.ndarray  # int8 per citizen
    district: np.ndarray  # int32 per citizen
    group: np.ndarray  # int8 per citizen
    start: np.ndarray  # int64 per household: id of the head (first member)
    size: np.ndarray  # int8 per household
    district_start: np.ndarray  # int64 per district + 1: its citizens are ids start[d] .. start[d + 1] - 1


def household_sizes(n: int, mean: float, rng: np.random.Generator) -> np.ndarray:
    """Sizes (int8) of households drawn until they hold `n` citizens; the last one is trimmed."""
    p = min(1.0, max(0.0, (mean - 1.0) / (MAX_HOUSEHOLD_SIZE - 1)))
    trials = MAX_HOUSEHOLD_SIZE - 1
    # CDF of Binomial(5, p) at 0..4; the size is 1 + the number of CDF values at or below u.
    cdf = np.cumsum([math.comb(trials, i) * p**i * (1 - p) ** (trials - i) for i in range(trials)])
    batches: list[np.ndarray] = []
    total = 0
    while total < n:
        want = max(64, math.ceil((n - total) / mean * 1.01) + 64)
        u = rng.random(want)
        batch = np.ones(want, dtype=np.int8)
        for threshold in cdf:
            batch += u >= threshold
        batches.append(batch)
        total += int(batch.sum(dtype=np.int64))
    sizes = np.concatenate(batches) if len(batches) > 1 else batches[0]
    filled = np.cumsum(sizes, dtype=np.int64)
    n_households = int(np.searchsorted(filled, n)) + 1
    sizes = sizes[:n_households].copy()
    sizes[-1] -= np.int8(filled[n_households - 1] - n)
    return sizes


def age_bands(n: int, is_head: np.ndarray, shares: schema.AgeShares, rng: np.random.Generator) -> np.ndarray:
    """Age band (int8) of each citizen (AGE_CHILD, AGE_ADULT, AGE_SENIOR).

    Heads are adult or senior; other members are children with the probability that makes
    the overall child share `shares.child`; non-children split adult/senior by their shares.
    """
    n_households = int(np.count_nonzero(is_head))
    others = n - n_households
    p_child = min(1.0, shares.child * n / others) if others > 0 else 0.0
    grown = shares.adult + shares.senior
    adult_given_grown = shares.adult / grown if grown > 0 else 1.0
    # One uniform per citizen: child below p_child (never for heads), then adult, then senior.
    p_child_each = np.where(is_head, np.float32(0.0), np.float32(p_child))
    u = rng.random(n, dtype=np.float32)
    age = (u >= p_child_each).astype(np.int8)
    p_child_each += (1.0 - p_child_each) * np.float32(adult_given_grown)
    age += u >= p_child_each
    return age


def build_households(pop: schema.Population, rng: np.random.Generator) -> Households:
    """Draw households, then each citizen's age band, and each household's district (uniform,
    numbered in district order) and group."""
    n = pop.size
    size = household_sizes(n, pop.household_size_mean, rng)
    n_households = int(size.size)
    start = np.zeros(n_households, dtype=np.int64)
    np.cumsum(size[:-1], dtype=np.int64, out=start[1:])
    household = np.repeat(np.arange(n_households, dtype=np.int32), size)
    is_head = np.zeros(n, dtype=bool)
    is_head[start] = True
    age = age_bands(n, is_head, pop.age_shares, rng)
    del is_head
    households_in = np.bincount(rng.integers(0, pop.districts, size=n_households), minlength=pop.districts)
    district = np.repeat(np.repeat(np.arange(pop.districts, dtype=np.int32), households_in), size)
    district_start = np.zeros(pop.districts + 1, dtype=np.int64)
    np.cumsum(np.bincount(district, minlength=pop.districts), out=district_start[1:])
    group = np.repeat((rng.random(n_households) < pop.minority_share).astype(np.int8), size)
    return Households(household, age, district, group, start, size, district_start)
