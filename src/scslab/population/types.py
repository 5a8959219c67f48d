"""The synthetic population as columns: one numpy array per attribute over all citizens."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

AGE_CHILD, AGE_ADULT, AGE_SENIOR = 0, 1, 2
# Occupation codes index `scslab.scenario.schema.OCCUPATIONS`.
CIVIL_SERVANT, EMPLOYEE, BUSINESS_OWNER, STUDENT, RETIRED, UNEMPLOYED = range(6)
SECTOR_PRIVATE, SECTOR_PUBLIC = 0, 1
LAYERS = ("family", "work", "friends")


@dataclass
class Layer:
    """One undirected network layer in CSR form; row `i` lists `i`'s contacts, sorted ascending.

    Every undirected tie appears twice (i->k and k->i); there are no self-loops and no
    duplicate ties. `active` masks cut ties without rebuilding the arrays.
    """

    name: str
    indptr: np.ndarray  # int32 (int64 from 2**30 ties on), size N + 1
    indices: np.ndarray  # int32, size indptr[-1]
    active: np.ndarray = field(init=False)  # bool, same size as indices

    def __post_init__(self) -> None:
        self.active = np.ones(self.indices.size, dtype=bool)

    def degree(self) -> np.ndarray:
        """Number of ties of each citizen (cut or not)."""
        return np.diff(self.indptr).astype(np.int32)


@dataclass(frozen=True)
class Attributes:
    """The attributes that decide who may commit which event, known before the networks are wired."""

    age_band: np.ndarray
    occupation: np.ndarray
    party_member: np.ndarray

    @property
    def size(self) -> int:
        return int(self.age_band.size)


@dataclass
class Population:
    """Citizens, households, firms and the three network layers."""

    age_band: np.ndarray  # int8: AGE_CHILD, AGE_ADULT, AGE_SENIOR
    group: np.ndarray  # int8: 0 majority, 1 minority
    occupation: np.ndarray  # int8: CIVIL_SERVANT .. UNEMPLOYED
    party_member: np.ndarray  # bool
    income_q: np.ndarray  # int8: 1..5
    district: np.ndarray  # int32: 0..D-1
    household: np.ndarray  # int32: 0..H-1
    firm: np.ndarray  # int32: employer, or -1
    firm_sector: np.ndarray  # int8 per firm: SECTOR_PRIVATE or SECTOR_PUBLIC
    firm_size: np.ndarray  # int32 per firm: members (workers, the legal representative included)
    firm_rep: np.ndarray  # int32 per firm: the legal representative (a citizen)
    layers: dict[str, Layer]  # "family", "work", "friends"

    @property
    def size(self) -> int:
        return int(self.age_band.size)

    @property
    def attributes(self) -> Attributes:
        return Attributes(self.age_band, self.occupation, self.party_member)

    @property
    def n_households(self) -> int:
        return int(self.household.max()) + 1 if self.household.size else 0

    @property
    def n_firms(self) -> int:
        return int(self.firm_size.size)
