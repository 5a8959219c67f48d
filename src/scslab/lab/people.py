"""The People page: the listed and wrongfully listed people of a run, filterable, and each one's case.

Built on the run's listing log (listings.parquet, docs/model.md "The listing log") joined with
the people's attributes at the end of the run (`Result.people`).
"""

from __future__ import annotations

import html
import random
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import solara

from scslab.lab.charts import Chart
from scslab.results import Result
from scslab.scenario.schema import CAUSES

ALL = "all"
ATTRIBUTES = ("wrongful", "group", "occupation", "district", "income_q", "score", "counterfactual_score", "own",
              "misattributed", "association", "degree_family", "degree_work", "degree_friends")  # fmt: skip


def listed_people(result: Result) -> pd.DataFrame:
    """One row per listing episode, with the citizen's attributes (group as a word)."""
    episodes = result.listings.copy()
    people = result.people
    rows = people.iloc[episodes["citizen"].to_numpy()].reset_index(drop=True)
    out = pd.concat([episodes.reset_index(drop=True), rows[list(ATTRIBUTES)]], axis=1)
    out["group"] = np.where(out["group"].to_numpy() == 1, "minority", "majority")
    out["occupation"] = out["occupation"].astype(str)
    out["cause"] = out["cause"].astype(str)
    out["exit_reason"] = out["exit_reason"].astype(str)
    # an episode's wrongfulness when it ended, or today's for one still open
    out["wrongful"] = out["wrongful_at_exit"].fillna(out["wrongful"]).astype(bool)
    out["offence_day"] = out["offence_day"].fillna(-1).astype(int)
    out["exit_day"] = out["exit_day"].fillna(-1).astype(int)
    return out


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


def case_lines(df: pd.DataFrame, citizen: int) -> list[str]:
    """A person's listings, in words."""
    lines = []
    for row in df[df["citizen"] == citizen].itertuples(index=False):
        end = "still listed at the end" if row.exit_reason == "still_listed" else (
            f"taken off on day {row.exit_day} ({row.exit_reason.replace('_', ' ')})")  # fmt: skip
        wrong = "wrongful" if row.wrongful else "rightful"
        offence = "" if row.offence_day < 0 else f", for an offence of day {row.offence_day}"
        lines.append(f"Listed on day {row.entry_day} by {row.cause.replace('_', ' ')}{offence}; {end}; {wrong}.")
    return lines


def ledger_figure(person: pd.Series) -> go.Figure:
    """Where the person's score at the end comes from: own conduct, misattributed charges, association."""
    parts = {"own conduct": person["own"], "misattributed to them": person["misattributed"],
             "others' conduct (association)": person["association"]}  # fmt: skip
    fig = go.Figure(go.Bar(x=list(parts), y=list(parts.values()), marker_color=["#2c3e50", "#e67e22", "#f1c40f"]))
    fig.update_layout(template="plotly_white", height=300, margin={"l": 50, "r": 10, "t": 50, "b": 40},
                      title={"text": f"Points on the score by origin (score {person['score']:.0f}; "
                                     f"{person['counterfactual_score']:.0f} without others' conduct and errors)",
                             "x": 0})  # fmt: skip
    return fig


@solara.component
def PeopleView(result: Result, target: Path) -> None:
    df = solara.use_memo(lambda: listed_people(result), dependencies=[id(result)])
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
    if chosen is not None:
        person = result.people.iloc[chosen]
        with solara.Card(f"Case of citizen {chosen}", classes=["scs-case"]):
            group_word = "minority" if person["group"] == 1 else "majority"
            solara.Text(f"{group_word}, {person['occupation']}, district {person['district']}, income quintile "
                        f"{person['income_q']}; {person['degree_family']} family, {person['degree_work']} work and "
                        f"{person['degree_friends']} friends ties at the end.")  # fmt: skip
            for line in case_lines(df, chosen):
                solara.HTML(tag="p", unsafe_innerHTML=html.escape(line), classes=["scs-case-line"])
            Chart(ledger_figure(person), "ledger")
