"""Choosing people to explain from a run's listing episodes, reproducibly from its seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scslab.errors import ScslabError
from scslab.scenario.schema import CAUSES

KINDS = ("wrongful", "misattribution", "association", "listed_offence", "joint_punishment")
REPORT_STREAM = len(KINDS)  # the report's picks draw from their own stream, after the kinds'


def ever_wrongful(listings: pd.DataFrame) -> np.ndarray:
    """Episodes wrongful at some moment: at entry, or after a change of their status."""
    changed = listings["wrongful_changes"].map(len).to_numpy() > 0
    return listings["wrongful_at_entry"].to_numpy(dtype=bool) | changed


def candidates(listings: pd.DataFrame, kind: str) -> np.ndarray:
    """The citizens with an episode of `kind` (a cause, or `wrongful`), in id order."""
    if kind not in KINDS:
        raise ScslabError(f"--pick: {kind!r} (allowed: {', '.join(KINDS)})")
    mask = ever_wrongful(listings) if kind == "wrongful" else (listings["cause"].astype(str) == kind).to_numpy()
    return np.unique(listings["citizen"].to_numpy(dtype=np.int64)[mask])


def _draw(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return pool if pool.size <= n else np.sort(rng.choice(pool, size=n, replace=False))


def pick(listings: pd.DataFrame, kind: str, n: int, seed: int) -> list[int]:
    """`n` citizens (all of them if fewer) with an episode of `kind`, drawn from the run's seed; in id order."""
    if n < 1:
        raise ScslabError(f"--n: {n} (allowed: 1 or more)")
    pool = candidates(listings, kind)
    if not pool.size:
        present = [k for k in KINDS if candidates(listings, k).size]
        raise ScslabError(f"--pick {kind}: no citizen of that kind in this run (allowed: "
                          f"{', '.join(present) or 'none: nobody was listed'})")  # fmt: skip
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    return [int(i) for i in _draw(pool, n, rng)]


def report_picks(listings: pd.DataFrame, seed: int, per_cause: int = 1) -> list[int]:
    """A few people of each cause for the report: the wrongfully listed first (a wrongful person of each cause,
    then a rightful one where there is no wrongful one), distinct, drawn from the run's seed."""
    rng = np.random.default_rng([seed, REPORT_STREAM])
    wrong = ever_wrongful(listings)
    cause = listings["cause"].astype(str).to_numpy()
    ids = listings["citizen"].to_numpy(dtype=np.int64)
    first: list[int] = []
    then: list[int] = []
    for c in CAUSES:
        need = per_cause
        for wrongful, into in ((True, first), (False, then)):
            pool = np.setdiff1d(np.unique(ids[(cause == c) & (wrong == wrongful)]), np.asarray(first + then))
            drawn = _draw(pool, need, rng) if need > 0 else pool[:0]
            into.extend(int(i) for i in drawn)
            need -= drawn.size
    return first + then
