"""The case file of one citizen: who they are, each charge posted to them, their listings, the sanctions
they felt; their score rebuilt from the charges, and their story as a timeline."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scslab.model.scoring import counterfactual
from scslab.outputs import GROUPS
from scslab.scenario.schema import AGE_BANDS, OCCUPATIONS

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from scslab.cases.figures import Network
    from scslab.model.state import State
    from scslab.scenario.schema import ScenarioParams

# trace.parquet's and sanctions.parquet's columns (docs/model.md, "Traces").
CHARGE_COLUMNS = ("citizen", "event_day", "posted_day", "event", "source", "points", "ledger", "actor", "contact",
                  "layer")  # fmt: skip
SANCTION_COLUMNS = ("citizen", "day", "effect", "what", "detail", "count")
RECOVERY = "recovery"  # the `event` of a recovery row: what one recovery step gave back, over event_day..posted_day
APPEAL_WON = "appeal_won"  # the `event` of the row that strikes out the misattributed points when an appeal is won
NOT_CHARGES = (RECOVERY, APPEAL_WON)
PERSON_COLUMNS = ("citizen", "group", "occupation", "age_band", "district", "income_q", "party_member",
                  "household", "firm", "score", "own", "misattributed", "association", "merit",
                  "counterfactual_score", "blacklisted", "ever_blacklisted")  # fmt: skip
CASE_TABLES = ("person", "charges", "listings", "sanctions")


@dataclass(frozen=True)
class Context:
    """What a case file needs of its run: the scenario's name, calendar and score rules, the seed, the version."""

    scenario: str
    seed: int
    version: str
    start_date: dt.date | None
    days: int
    score_start: float
    score_min: float
    score_max: float
    threshold: float | None

    @classmethod
    def of(cls, params: ScenarioParams, seed: int, version: str) -> Context:
        s = params.score
        return cls(params.name, seed, version, params.start_date, params.days, s.start, s.min, s.max,
                   params.blacklist.threshold)  # fmt: skip

    def date(self, day: int) -> str:
        """The calendar date of `day` ("9 June 2020"), or "day N" without a start date."""
        if self.start_date is None:
            return f"day {day}"
        d = self.start_date + dt.timedelta(days=int(day))
        return f"{d.day} {d:%B %Y}"

    def dates(self, days: np.ndarray) -> pd.DatetimeIndex | np.ndarray:
        """The x axis of a figure: dates from the start date, else the days themselves."""
        if self.start_date is None:
            return days
        return pd.Timestamp(self.start_date) + pd.to_timedelta(days, unit="D")


def person_frame(state: State, ids: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """One row per citizen of `ids`: attributes, and ledgers and score at the end of the run (a settled state)."""
    at = np.asarray(ids, dtype=np.int64)
    pop = state.pop
    return pd.DataFrame(
        {
            "citizen": at,
            "group": np.asarray(GROUPS, dtype=object)[pop.group[at]],
            "occupation": np.asarray(OCCUPATIONS, dtype=object)[pop.occupation[at]],
            "age_band": np.asarray(AGE_BANDS, dtype=object)[pop.age_band[at]],
            "district": pop.district[at].astype(np.int64),
            "income_q": pop.income_q[at].astype(np.int64),
            "party_member": pop.party_member[at],
            "household": pop.household[at].astype(np.int64),
            "firm": pop.firm[at].astype(np.int64),
            "score": state.score[at],
            "own": state.own[at],
            "misattributed": state.misattributed[at],
            "association": state.association[at],
            "merit": state.merit[at],
            "counterfactual_score": counterfactual(state, at),
            "blacklisted": state.blacklist.member[at],
            "ever_blacklisted": state.ever_blacklisted[at],
        },
        columns=list(PERSON_COLUMNS),
    )


def _rows_of(table: pd.DataFrame, column: str, ids: Sequence[int] | np.ndarray, plain: bool = False) -> pd.DataFrame:
    """The rows of `table` whose `column` is one of `ids`; with `plain`, categorical columns as plain strings."""
    rows = table[table[column].isin(np.asarray(ids, dtype=np.int64))].reset_index(drop=True)
    if plain:
        for name in rows.columns:
            if isinstance(rows[name].dtype, pd.CategoricalDtype):
                rows[name] = rows[name].astype(object).where(rows[name].notna(), None)
    return rows


@dataclass(frozen=True)
class CaseFile:
    """One citizen's case: `person` (one row), `charges` (trace rows, in the order they were posted, with the
    score after each day's charges), `listings` (their episodes), `sanctions` (what they felt, by day)."""

    citizen: int
    person: pd.DataFrame
    charges: pd.DataFrame
    listings: pd.DataFrame
    sanctions: pd.DataFrame
    context: Context
    contact_listings: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)  # episodes of their contacts
    contact_charges: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)  # rows of those traced
    provenance: str = ""  # where the trace came from: the run's own, or a replay (and what it reproduced)

    @classmethod
    def build(
        cls,
        citizen: int,
        people: pd.DataFrame,
        charges: pd.DataFrame,
        listings: pd.DataFrame,
        sanctions: pd.DataFrame,
        context: Context,
        provenance: str = "",
    ) -> CaseFile:
        """The case of `citizen` from the run's tables (any rows: theirs are selected here)."""
        person = _rows_of(people, "citizen", [citizen])
        own = _rows_of(charges, "citizen", [citizen], plain=True)
        own = own.sort_values("posted_day", kind="stable").reset_index(drop=True)
        own["score"] = end_of_day_scores(own, context)[own["posted_day"].to_numpy(dtype=np.int64)]
        felt = _rows_of(sanctions, "citizen", [citizen], plain=True).sort_values("day", kind="stable")
        contacts = own["contact"].dropna().astype(np.int64).unique() if "contact" in own else []
        return cls(
            int(citizen),
            person,
            own,
            _rows_of(listings, "citizen", [citizen]),
            felt.reset_index(drop=True),
            context,
            _rows_of(listings, "citizen", contacts),
            _rows_of(charges, "citizen", contacts, plain=True),
            provenance,
        )

    # --- what the case says ---------------------------------------------------------------------

    def score_by_day(self) -> pd.DataFrame:
        """The score at the end of each day: the start score plus every traced point, clamped to the bounds."""
        days = np.arange(self.context.days)
        return pd.DataFrame({"day": days, "score": end_of_day_scores(self.charges, self.context)})

    def summary(self) -> str:
        """Two or three sentences built from the case's fields."""
        from scslab.cases.story import summary

        return summary(self)

    def timeline(self) -> pd.DataFrame:
        """The case as dated lines (day, date, kind, text), in day order."""
        from scslab.cases.story import timeline

        return timeline(self)

    def plot(self) -> go.Figure:
        """The score over time, each charge marked, the listings shaded, and the blacklist threshold."""
        from scslab.cases.figures import score_figure

        return score_figure(self)

    def network(self) -> Network:
        """The contacts that passed association charges on to this citizen, each with their own cause:
        `.table` and `.figure`."""
        from scslab.cases.figures import network

        return network(self)

    def _repr_html_(self) -> str:
        from scslab.cases.story import timeline_html

        return timeline_html(self)

    # --- as data --------------------------------------------------------------------------------

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"person": self.person, "charges": self.charges, "listings": self.listings,
                "sanctions": self.sanctions}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The case as plain JSON data: the context, the summary and each table as a list of records."""
        out: dict[str, Any] = {"citizen": self.citizen, "context": _context_json(self.context),
                               "summary": self.summary(), "provenance": self.provenance}  # fmt: skip
        for name, table in self.tables().items():
            out[name] = json.loads(table.to_json(orient="records", date_format="iso"))
        return out


def _context_json(context: Context) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in vars(context).items()}


def end_of_day_scores(charges: pd.DataFrame, context: Context) -> np.ndarray:
    """The score at the end of each day of the run: the start score plus the traced points, clamped to the
    bounds. A recovery row covering several days (scheduled recovery settles a span at once) gives each of
    them an equal part: the raw score rises by `per_day` on each day of a recovery (docs/model.md)."""
    daily = np.zeros(context.days)
    if len(charges):
        last = charges["posted_day"].to_numpy(dtype=np.int64)
        first = np.where(charges["event"].astype(str).to_numpy() == RECOVERY,
                         charges["event_day"].to_numpy(dtype=np.int64), last)  # fmt: skip
        first = np.minimum(first, last)
        width = last - first + 1
        day = np.repeat(last, width) - (np.arange(width.sum()) - np.repeat(np.cumsum(width) - width, width))
        part = np.repeat(charges["points"].to_numpy(dtype=np.float64) / width, width)
        keep = (day >= 0) & (day < context.days)
        np.add.at(daily, day[keep], part[keep])
    raw = context.score_start + np.cumsum(daily)
    return np.round(np.clip(raw, context.score_min, context.score_max), 9)


def write_cases(cases: Sequence[CaseFile], directory: str | Path) -> Path:
    """Write the cases as Parquet tables (person, charges, listings, sanctions: every case's rows) into
    `directory`, which appears complete or not at all."""
    from scslab.atomic import new_directory

    with new_directory(directory) as staging:
        for name in CASE_TABLES:
            frames = [case.tables()[name] for case in cases]
            pd.concat(frames, ignore_index=True).to_parquet(staging / f"{name}.parquet", index=False)
    return Path(directory)
