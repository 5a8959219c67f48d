"""Synthetic populations: citizens as columns, firms, and the family/work/friends networks."""

from scslab.population.build import build_population, estimate_bytes_per_citizen, held_bytes_per_citizen
from scslab.population.networks import PARENT_LINK_SHARE
from scslab.population.types import (
    AGE_ADULT,
    AGE_CHILD,
    AGE_SENIOR,
    BUSINESS_OWNER,
    CIVIL_SERVANT,
    EMPLOYEE,
    LAYERS,
    RETIRED,
    SECTOR_PRIVATE,
    SECTOR_PUBLIC,
    STUDENT,
    UNEMPLOYED,
    Layer,
    Population,
)

__all__ = [
    "AGE_ADULT",
    "AGE_CHILD",
    "AGE_SENIOR",
    "BUSINESS_OWNER",
    "CIVIL_SERVANT",
    "EMPLOYEE",
    "LAYERS",
    "PARENT_LINK_SHARE",
    "RETIRED",
    "SECTOR_PRIVATE",
    "SECTOR_PUBLIC",
    "STUDENT",
    "UNEMPLOYED",
    "Layer",
    "Population",
    "build_population",
    "estimate_bytes_per_citizen",
    "held_bytes_per_citizen",
]
