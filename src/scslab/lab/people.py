"""The People page: the listed and wrongfully listed people of a run, filterable, and each one's case file.

The list is the run's listing log (listings.parquet, docs/model.md "The listing log") joined with
the people's attributes at the end of the run (`lab.listed.RunPeople`, from the run's worker); a case
is `scslab.cases.CaseFile`, from the run's own trace or from `scslab explain`'s replay.
"""

from __future__ import annotations

import html
import random
from typing import cast

import numpy as np
import pandas as pd
import solara
import solara.lab

from scslab.api import explain
from scslab.cases import CaseFile
from scslab.lab.charts import Chart
from scslab.lab.listed import RunPeople
from scslab.scenario.schema import CAUSES

ALL = "all"


def filtered(df: pd.DataFrame, choices: dict[str, str], wrongful_only: bool) -> pd.DataFrame:
    """The episodes that match every chosen value (ALL: any)."""
    keep = np.ones(len(df), dtype=bool)
    for column, value in choices.items():
        if value != ALL:
            keep &= df[column].astype(str).to_numpy() == value
    if wrongful_only:
        keep &= df["wrongful"].to_numpy()
    return df[keep]


def random_case(wrongful: pd.DataFrame) -> int:
    """A citizen drawn at random among the wrongful listings."""
    return int(wrongful["citizen"].iloc[random.randrange(len(wrongful))])


def open_case(people: RunPeople, citizen: int) -> CaseFile:
    """A citizen's case file: from the run's own trace (everyone listed, where memory allowed it), else by
    `scslab explain`'s replay of the run folder (checked byte for byte against the run)."""
    if people.has_case(citizen):
        return people.case(citizen)
    return explain(people.target, citizen)


@solara.component
def CaseView(case: CaseFile) -> None:
    """A case file: its summary, timeline, score plot, association network, charges and sanctions."""
    with solara.Card(f"Case of citizen {case.citizen}", classes=["scs-case"]):
        solara.HTML(tag="p", unsafe_innerHTML=html.escape(case.summary()), classes=["scs-case-summary"],
                    style="font-size: 1.05em")  # fmt: skip
        for row in case.timeline().itertuples(index=False):
            solara.HTML(tag="p", unsafe_innerHTML=html.escape(f"{row.date}: {row.text}"), classes=["scs-case-line"],
                        style="margin: 2px 0")  # fmt: skip
        with solara.ColumnsResponsive(12, large=6):
            Chart(case.plot(), "case-score")
            Chart(case.network().figure, "case-network")
        with solara.Details("Charges (one row per ledger entry)"):
            solara.DataFrame(case.charges, items_per_page=10)
        with solara.Details("Sanctions and rewards felt"):
            solara.DataFrame(case.sanctions, items_per_page=10)
        text_provenance = f"From {case.provenance}." if case.provenance else ""
        solara.Text(text_provenance)


@solara.component
def PeopleView(people: RunPeople) -> None:
    df = people.listed
    target = people.target
    cause, set_cause = solara.use_state(ALL)
    group, set_group = solara.use_state(ALL)
    occupation, set_occupation = solara.use_state(ALL)
    district, set_district = solara.use_state(ALL)
    income, set_income = solara.use_state(ALL)
    wrongful_only, set_wrongful_only = solara.use_state(False)
    chosen, set_chosen = solara.use_state(cast(int | None, None))
    rows = filtered(df, {"cause": cause, "group": group, "occupation": occupation, "district": district,
                         "income_q": income}, wrongful_only)  # fmt: skip
    wrongful = df[df["wrongful"]]
    solara.Text(f"{len(df):,} listings of {df['citizen'].nunique():,} people in {target.name}; "
                f"{len(wrongful):,} wrongful at their end. Showing {len(rows):,}.",
                classes=["scs-people-count"])  # fmt: skip
    with solara.Row():
        solara.Select("cause", values=[ALL, *CAUSES], value=cause, on_value=set_cause)
        solara.Select("group", values=[ALL, "majority", "minority"], value=group, on_value=set_group)
        solara.Select("occupation", values=[ALL, *sorted(set(df["occupation"]))], value=occupation,
                      on_value=set_occupation)  # fmt: skip
        solara.Select("district", values=[ALL, *map(str, sorted(set(df["district"])))], value=district,
                      on_value=set_district)  # fmt: skip
        solara.Select("income quintile", values=[ALL, *map(str, sorted(set(df["income_q"])))], value=income,
                      on_value=set_income)  # fmt: skip
        solara.Checkbox(label="wrongful only", value=wrongful_only, on_value=set_wrongful_only)
        solara.Button("Random wrongful case", disabled=wrongful.empty, classes=["scs-random-case"],
                      on_click=lambda: set_chosen(random_case(wrongful)))  # fmt: skip
    shown = rows[["citizen", "cause", "entry_day", "exit_day", "exit_reason", "wrongful", "group", "occupation",
                  "district", "income_q"]].head(500)  # fmt: skip
    solara.DataFrame(shown, items_per_page=10, cell_actions=[
        solara.CellAction(name="Open the case",
                          on_click=lambda column, row: set_chosen(int(shown["citizen"].iloc[row])))
    ])  # fmt: skip
    case = solara.lab.use_task(lambda: None if chosen is None else open_case(people, chosen),
                               dependencies=[chosen], raise_error=False)  # fmt: skip
    if chosen is not None:
        if case.pending:
            solara.Text(f"opening the case of citizen {chosen} (a replay of the run, if it did not trace them)")
            solara.ProgressLinear(True)
        elif case.error:
            solara.Error(f"citizen {chosen}: {case.exception}")
        elif case.value is not None:
            CaseView(case.value)
