"""What the People page holds of a finished run: its listing episodes with the listed people's attributes, and
the tables that make the case files the run traced.

A lab run goes in a worker process (`lab.worker`); at its end the worker sends this, a few tables of the
listed people only (kilobytes to a few megabytes), not the run's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scslab.cases import CaseFile, Context, person_frame
from scslab.results import Result

ATTRIBUTES = ("wrongful", "group", "occupation", "district", "income_q", "score", "counterfactual_score", "own",
              "misattributed", "association", "degree_family", "degree_work", "degree_friends")  # fmt: skip


def listed_people(listings: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """One row per listing episode, with the citizen's attributes from `people` (indexed by citizen; group
    as a word)."""
    episodes = listings.reset_index(drop=True)
    rows = people.loc[episodes["citizen"].to_numpy(), list(ATTRIBUTES)].reset_index(drop=True)
    out = pd.concat([episodes, rows], axis=1)
    out["group"] = np.where(out["group"].to_numpy() == 1, "minority", "majority")
    out["occupation"] = out["occupation"].astype(str)
    out["cause"] = out["cause"].astype(str)
    out["exit_reason"] = out["exit_reason"].astype(str)
    # an episode's wrongfulness when it ended, or today's for one still open
    out["wrongful"] = out["wrongful_at_exit"].fillna(out["wrongful"]).astype(bool)
    out["offence_day"] = out["offence_day"].fillna(-1).astype(int)
    out["exit_day"] = out["exit_day"].fillna(-1).astype(int)
    return out


@dataclass
class RunPeople:
    """A finished run's listed people (`listed`, one row per listing episode) and the case files it traced."""

    target: Path
    listed: pd.DataFrame
    persons: pd.DataFrame  # `person_frame` of the traced listed citizens
    charges: pd.DataFrame
    listings: pd.DataFrame
    sanctions: pd.DataFrame
    context: Context

    @classmethod
    def of(cls, result: Result, target: Path) -> RunPeople:
        """From a run just made (its state in memory, its trace kept)."""
        assert result.state is not None  # (a run just made)
        listings = result.listings
        ever = np.unique(listings["citizen"].to_numpy(dtype=np.int64))
        people = result.people.set_index("citizen").loc[ever]
        held = result.with_case(ever)
        context = Context.of(result.scenario.params, result.seed, str(result.summary["scslab_version"]))
        charges, sanctions = (result.charges, result.sanctions) if held.size else (None, None)
        return cls(target, listed_people(listings, people), person_frame(result.state, held),
                   _rows(charges, held), listings, _rows(sanctions, held), context)  # fmt: skip

    def has_case(self, citizen: int) -> bool:
        """Whether the run traced `citizen` (then `case` needs no replay)."""
        return bool((self.persons["citizen"].to_numpy() == int(citizen)).any())

    def case(self, citizen: int) -> CaseFile:
        """The case file of a citizen the run traced."""
        return CaseFile.build(int(citizen), self.persons, self.charges, self.listings, self.sanctions, self.context,
                              provenance="the run's own trace")  # fmt: skip


def _rows(table: pd.DataFrame | None, citizens: np.ndarray) -> pd.DataFrame:
    """The rows of `citizens` (all columns; an empty frame when the run traced nobody)."""
    if table is None:
        return pd.DataFrame({"citizen": np.zeros(0, dtype=np.int64)})
    return table[np.isin(table["citizen"].to_numpy(), citizens)].reset_index(drop=True)
