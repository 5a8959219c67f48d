"""Firms (private firms and public units) and who works where.

Firm ids: private firms first (`0 .. n_private - 1`, business owner k owns firm k), then
public units (`n_private .. n_firms - 1`). Workers are civil servants (public units),
employees and business owners (private firms); everyone else has `firm = -1`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scslab.population.sampling import group_order, uniform_below
from scslab.population.types import BUSINESS_OWNER, CIVIL_SERVANT, EMPLOYEE, SECTOR_PUBLIC


class Firms(NamedTuple):
    """Employment columns plus the members of each firm (used to wire the work layer)."""

    firm: np.ndarray  # int32 per citizen: employer or -1
    sector: np.ndarray  # int8 per firm
    size: np.ndarray  # int32 per firm: members
    rep: np.ndarray  # int32 per firm: legal representative or -1 if the firm is empty
    members: np.ndarray  # int32: worker ids sorted by firm (ascending within a firm)
    start: np.ndarray  # int64 per firm + 1: members of firm f are members[start[f]:start[f + 1]]


def firm_counts(n_cs: int, n_employees: int, n_owners: int, firm_size_mean: float) -> tuple[int, int]:
    """Number of private firms and of public units for these worker counts."""
    n_private = max(n_owners, round((n_employees + n_owners) / firm_size_mean))
    if n_employees > 0:
        n_private = max(1, n_private)  # employees need an employer even without owners
    n_public = max(1, round(n_cs / firm_size_mean)) if n_cs > 0 else 0
    return n_private, n_public


def build_firms(occupation: np.ndarray, firm_size_mean: float, rng: np.random.Generator) -> Firms:
    """Create firms, assign workers uniformly at random, and pick each firm's representative.

    Business owner k is the member and representative of private firm k; a private firm
    without an owner, and every public unit, gets a uniformly chosen member as
    representative (-1 when it has no member).
    """
    n = occupation.size
    civil_servants = np.flatnonzero(occupation == CIVIL_SERVANT).astype(np.int32)
    employees = np.flatnonzero(occupation == EMPLOYEE).astype(np.int32)
    owners = np.flatnonzero(occupation == BUSINESS_OWNER).astype(np.int32)
    n_private, n_public = firm_counts(civil_servants.size, employees.size, owners.size, firm_size_mean)
    n_firms = n_private + n_public

    firm = np.full(n, -1, dtype=np.int32)
    firm[owners] = np.arange(owners.size, dtype=np.int32)
    if employees.size:
        firm[employees] = rng.integers(0, n_private, size=employees.size, dtype=np.int32)
    if civil_servants.size:
        firm[civil_servants] = n_private + rng.integers(0, n_public, size=civil_servants.size, dtype=np.int32)
    del employees, civil_servants

    workers = np.flatnonzero(firm >= 0).astype(np.int32)
    order, start = group_order(firm[workers], n_firms)
    members = workers[order]
    del workers, order
    size = np.diff(start).astype(np.int32)

    sector = np.zeros(n_firms, dtype=np.int8)
    sector[n_private:] = SECTOR_PUBLIC
    rep = np.full(n_firms, -1, dtype=np.int32)
    rep[: owners.size] = owners
    pick = owners.size + np.flatnonzero(size[owners.size :] > 0)
    rep[pick] = members[start[pick] + uniform_below(rng, size[pick])]
    return Firms(firm, sector, size, rep, members, start)
