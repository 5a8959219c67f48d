"""Occupations, party membership and income quintiles."""

from __future__ import annotations

import numpy as np

from scslab.population.types import (
    AGE_ADULT,
    AGE_CHILD,
    AGE_SENIOR,
    BUSINESS_OWNER,
    CIVIL_SERVANT,
    EMPLOYEE,
    RETIRED,
    STUDENT,
    UNEMPLOYED,
)
from scslab.scenario import schema

# Adults' occupation codes, in the order of `schema.ADULT_OCCUPATIONS`.
ADULT_CODES = np.array([CIVIL_SERVANT, EMPLOYEE, BUSINESS_OWNER, UNEMPLOYED], dtype=np.int8)

# Offsets of the latent income z by occupation code (assumption; children take their head's z).
INCOME_OFFSETS = {
    CIVIL_SERVANT: 0.8,
    EMPLOYEE: 0.0,
    BUSINESS_OWNER: 1.0,
    STUDENT: 0.0,
    RETIRED: -0.3,
    UNEMPLOYED: -0.8,
}


def occupations(age_band: np.ndarray, shares: schema.OccupationShares, rng: np.random.Generator) -> np.ndarray:
    """Occupation code (int8): children students, seniors retired, adults by `shares`."""
    occupation = np.full(age_band.size, STUDENT, dtype=np.int8)
    occupation[age_band == AGE_SENIOR] = RETIRED
    adults = np.flatnonzero(age_band == AGE_ADULT)
    p = np.array([getattr(shares, name) for name in schema.ADULT_OCCUPATIONS], dtype=np.float64)
    cumulative = np.cumsum(p / p.sum())[:-1]
    u = rng.random(adults.size)
    category = np.zeros(adults.size, dtype=np.int8)
    for threshold in cumulative:
        category += u >= threshold
    occupation[adults] = ADULT_CODES[category]
    return occupation


def party_members(
    age_band: np.ndarray, occupation: np.ndarray, pop: schema.Population, rng: np.random.Generator
) -> np.ndarray:
    """Party membership (bool): never children; civil servants with their own share; other
    adults and seniors with the probability that makes the overall share `party_member_share`."""
    n = age_band.size
    n_cs = int(np.count_nonzero(occupation == CIVIL_SERVANT))
    n_other = int(np.count_nonzero(age_band != AGE_CHILD)) - n_cs
    p_cs = pop.party_member_share_civil_servants
    p_other = (pop.party_member_share * n - p_cs * n_cs) / n_other if n_other > 0 else 0.0
    p_other = min(1.0, max(0.0, p_other))
    by_code = np.full(len(schema.OCCUPATIONS), p_other, dtype=np.float64)
    by_code[CIVIL_SERVANT] = p_cs
    by_code[STUDENT] = 0.0  # only children are students
    u = rng.random(n, dtype=np.float32)
    return u < by_code.astype(np.float32)[occupation]


def income_quintiles(
    occupation: np.ndarray,
    age_band: np.ndarray,
    household: np.ndarray,
    household_start: np.ndarray,
    by_occupation: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """Income quintile 1..5 (int8) by rank of a latent z = offset[occupation] + N(0, 1);
    children take the z of their household head."""
    n = occupation.size
    z = rng.standard_normal(n, dtype=np.float32)
    if by_occupation:
        offsets = np.zeros(len(schema.OCCUPATIONS), dtype=np.float32)
        for code, value in INCOME_OFFSETS.items():
            offsets[code] = value
        z += offsets[occupation]
    children = np.flatnonzero(age_band == AGE_CHILD)
    z[children] = z[household_start[household[children]]]
    del children
    kth = [(n * q) // 5 for q in range(1, 5)]
    cuts = np.partition(z, kth)[kth]
    quintile = np.ones(n, dtype=np.int8)
    for cut in cuts:
        quintile += z >= cut
    return quintile
