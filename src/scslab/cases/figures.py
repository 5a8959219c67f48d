"""A case's figures: the score over time with its charges and listings, and the contacts who passed charges on."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from scslab.cases.casefile import NOT_CHARGES
from scslab.cases.story import CAUSE_PHRASES, charge_cause, citizen, number, points

if TYPE_CHECKING:
    from scslab.cases.casefile import CaseFile

LEDGER_STYLE = {  # ledger: (label, colour, marker symbol)
    "own": ("own offence", "#444444", "circle"),
    "misattributed": ("misattributed", "#d62728", "x"),
    "association": ("association", "#9467bd", "diamond"),
    "merit": ("reward", "#2ca02c", "triangle-up"),
}


def esc(text: object) -> str:
    """Text made inert for plotly's HTML-like labels (event, source and layer names come from the scenario)."""
    return html.escape(str(text), quote=True)


def score_figure(case: CaseFile) -> go.Figure:
    """The score at the end of each day, a marker at each charge (by ledger), listings shaded, the threshold."""
    ctx = case.context
    by_day = case.score_by_day()
    x = ctx.dates(by_day["day"].to_numpy())
    data = [go.Scatter(x=x, y=by_day["score"], mode="lines", line={"shape": "hv", "color": "#1f77b4"}, name="score",
                       hovertemplate="%{x}: %{y}<extra>score</extra>")]  # fmt: skip
    charges = case.charges[~case.charges["event"].isin(NOT_CHARGES)]
    for ledger, (label, colour, symbol) in LEDGER_STYLE.items():
        rows = charges[charges["ledger"] == ledger]
        if not len(rows):
            continue
        text = [esc(f"{ctx.date(r['posted_day'])}: {points(r['points'])} for {r['event']} ({charge_cause(r)})")
                for _, r in rows.iterrows()]  # fmt: skip
        data.append(go.Scatter(
            x=ctx.dates(rows["posted_day"].to_numpy(dtype=np.int64)), y=rows["score"], mode="markers", name=label,
            marker={"color": colour, "symbol": symbol, "size": 10}, text=text, hovertemplate="%{text}<extra></extra>",
        ))  # fmt: skip
    shapes: list[dict[str, object]] = []
    notes: list[dict[str, object]] = []
    for _, ep in case.listings.iterrows():
        end = ctx.days - 1 if pd.isna(ep["exit_day"]) else int(ep["exit_day"])
        x0, x1 = ctx.dates(np.asarray([int(ep["entry_day"]), end]))
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
                       "fillcolor": "#d62728" if bool(ep["wrongful_at_entry"]) else "#ff7f0e", "opacity": 0.12,
                       "line": {"width": 0}, "layer": "below"})  # fmt: skip
        notes.append({"x": x0, "y": 1, "xref": "x", "yref": "paper", "text": f"listed: {ep['cause']}",
                      "showarrow": False, "xanchor": "left", "yanchor": "top"})  # fmt: skip
    if ctx.threshold is not None:
        shapes.append({"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": ctx.threshold,
                       "y1": ctx.threshold, "line": {"dash": "dash", "color": "#d62728"}})  # fmt: skip
        notes.append({"x": 1, "y": ctx.threshold, "xref": "paper", "yref": "y", "showarrow": False,
                      "text": f"blacklist threshold {number(ctx.threshold)}", "xanchor": "right",
                      "yanchor": "bottom"})  # fmt: skip
    low = min(float(by_day["score"].min()), ctx.threshold if ctx.threshold is not None else math.inf)
    grid = {"gridcolor": "#eeeeee", "zeroline": False}
    layout = {
        "title": {"text": f"{citizen(case.citizen).capitalize()}: score, charges and listings"},
        "yaxis": {"title": {"text": "score"}, "range": [max(ctx.score_min, low - 30), ctx.score_max], **grid},
        "xaxis": {"title": {"text": "date" if ctx.start_date is not None else "day"}, **grid},
        "plot_bgcolor": "white", "paper_bgcolor": "white", "height": 360, "shapes": shapes, "annotations": notes,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 40}, "legend": {"orientation": "h"},
    }  # (no template: copying one costs more than the rest of the figure)
    fig = go.Figure(data=data, layout=layout)
    return fig


@dataclass(frozen=True)
class Network:
    """The contacts who passed association charges on: one row each (`table`), and the star around the person."""

    table: pd.DataFrame
    figure: go.Figure

    def _repr_html_(self) -> str:
        return str(self.table.to_html(index=False))


NETWORK_COLUMNS = ["contact", "layer", "charges", "points", "events", "their_charge", "contact_listings"]


def network(case: CaseFile) -> Network:
    """Each contact whose charges were passed on to the person: layers, charges, points, events, whether the
    contact's own charge was theirs or misattributed to them (its true actor), and the contact's listings."""
    rows = case.charges[case.charges["ledger"] == "association"].dropna(subset=["contact"])
    table = pd.DataFrame(columns=NETWORK_COLUMNS)
    if len(rows):
        listed = case.contact_listings
        records = []
        passed = _passed_on(case, rows)
        for contact, part in rows.groupby(rows["contact"].astype(np.int64), sort=True):
            episodes = listed[listed["citizen"] == contact] if len(listed) else listed
            causes = ", ".join(str(c) for c in episodes["cause"]) if len(episodes) else "never listed"
            records.append((int(contact), ", ".join(sorted({str(x) for x in part["layer"].dropna()})), len(part),
                            float(part["points"].sum()), ", ".join(sorted({str(x) for x in part["event"]})),
                            passed.get(int(contact), "not traced"), causes))  # fmt: skip
        table = pd.DataFrame(records, columns=NETWORK_COLUMNS)
    return Network(table, _star(case, table))


def _passed_on(case: CaseFile, rows: pd.DataFrame) -> dict[int, str]:
    """For each traced contact, whether the charges they passed on were their own or misattributed to them:
    their own rows of the same event posted the same day."""
    theirs = case.contact_charges
    if not len(theirs):
        return {}
    direct = theirs[theirs["ledger"].isin(("own", "misattributed"))]
    keys = ["contact", "event", "posted_day"]
    mine = rows[keys].astype({"contact": np.int64}).drop_duplicates()
    direct = direct.drop(columns="contact").rename(columns={"citizen": "contact"}).astype({"contact": np.int64})
    found = mine.merge(direct, on=keys)
    out: dict[int, str] = {}
    for contact, part in found.groupby("contact"):
        actors = sorted({int(a) for a in part.loc[part["ledger"] == "misattributed", "actor"].dropna()})
        own = bool((part["ledger"] == "own").any())
        words = (["own offence"] if own else []) + (
            ["misattributed to them (true actor " + ", ".join(citizen(a) for a in actors) + ")"] if actors else [])
        out[int(contact)] = "; ".join(words)
    traced = set(theirs["citizen"].astype(np.int64).tolist())
    return {c: out.get(c, "not found in their trace") for c in traced} | out


def _star(case: CaseFile, table: pd.DataFrame) -> go.Figure:
    """The person at the centre, each contact on a circle around, an edge per contact labelled by its layer."""
    fig = go.Figure()
    k = len(table)
    angle = 2 * np.pi * np.arange(k) / max(k, 1)
    cx, cy = np.cos(angle), np.sin(angle)
    ex = [v for i in range(k) for v in (0.0, cx[i], None)]
    ey = [v for i in range(k) for v in (0.0, cy[i], None)]
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line={"color": "#bbbbbb"}, hoverinfo="skip", showlegend=False))
    mis = table["their_charge"].str.contains("misattributed").to_numpy(dtype=bool) if k else np.zeros(0, bool)
    text = [
        esc(f"{citizen(r.contact)} ({r.layer}): {r.charges} charges, {points(r.points)} points for {r.events}; "
            f"their charge: {r.their_charge}; listings: {r.contact_listings}")
        for r in table.itertuples()
    ]  # fmt: skip
    fig.add_trace(go.Scatter(
        x=cx, y=cy, mode="markers+text", text=[f"{int(c):,}" for c in table["contact"]], textposition="top center",
        hovertext=text, hoverinfo="text", name="contacts",
        marker={"size": 16, "color": np.where(mis, "#d62728", "#9467bd").tolist()},
    ))  # fmt: skip
    listed = case.listings["cause"].astype(str).tolist() if len(case.listings) else []
    centre = f"{citizen(case.citizen)}: " + (", ".join(CAUSE_PHRASES.get(c, c) for c in listed) or "never listed")
    fig.add_trace(go.Scatter(x=[0.0], y=[0.0], mode="markers+text", text=[f"{case.citizen:,}"],
                             textposition="bottom center", hovertext=[esc(centre)], hoverinfo="text", name="the person",
                             marker={"size": 22, "color": "#1f77b4"}))  # fmt: skip
    fig.update_layout(
        title=f"Who passed charges on to {citizen(case.citizen)}",
        xaxis={"visible": False, "range": [-1.5, 1.5]}, yaxis={"visible": False, "range": [-1.5, 1.5]},
        plot_bgcolor="white", height=360, width=420, showlegend=False, margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig
