"""The report's plotly figures, built from a run's files or a Result.

Plotly renders a subset of HTML in titles, legends and annotations, so every string that
comes from a scenario (names, tiers, events) goes through `esc` before it reaches a figure.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from scslab.intervals import binomial
from scslab.report.data import RunData
from scslab.report.tables import DIMENSION_LABELS, HEADLINE_HEADER, SHARES, headline_rows, ratio_rows
from scslab.scenario.schema import CAUSES
from scslab.uncertainty import figure_values, quoted

TEMPLATE = "plotly_white"
WRONGFUL = "#c0392b"
BASELINE = "#7f8c8d"
CAUSE_COLOURS = {
    "own_conduct": "#2c3e50",
    "misattribution": "#e67e22",
    "association": "#f1c40f",
    "listed_offence": "#2980b9",
    "joint_punishment": "#8e44ad",
}
SHARE_COLOURS = {"blacklisted_share": "#2c3e50", "wrongful_share": WRONGFUL, "rewarded_share": "#27ae60"}
TIER_COLOURS = ("#27ae60", "#3498db", "#f39c12", "#e74c3c", "#8e44ad", "#7f8c8d")  # from the top tier down
ROLLING_DAYS = 7
# The charts of a report, in page order; the tables are drawn as HTML on the page.
CHARTS = ("score", "tiers", "blacklist", "sanctions", "political", "disparities")


def esc(text: Any) -> str:
    """Scenario text made inert for plotly's HTML-like labels and for the page."""
    return html.escape(str(text), quote=True)


def styled(fig: go.Figure, title: str, height: int = 420, **layout: Any) -> go.Figure:
    """The common look: white template, a title, the legend under the plot."""
    look: dict[str, Any] = {
        "template": TEMPLATE,
        "title": {"text": title, "x": 0.0, "xanchor": "left"},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 60, "b": 60},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0.0},
    }
    fig.update_layout(**(look | layout))
    return fig


def build_figures(data: RunData) -> dict[str, go.Figure]:
    """Every figure of the report, by name: the charts of CHARTS and the two tables."""
    return {
        "headline": table_figure(HEADLINE_HEADER, headline_rows(data), "Headline figures"),
        "score": score_figure(data),
        "tiers": tiers_figure(data),
        "blacklist": blacklist_figure(data),
        "sanctions": sanctions_figure(data),
        "political": political_figure(data),
        "disparities": disparities_figure(data),
        "disparity_ratios": table_figure(
            ("ratio of shares", *(label for _, label in SHARES)), ratio_rows(data), "Disparity ratios"
        ),
    }


def table_figure(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], title: str) -> go.Figure:
    """Rows of text as a plotly table, for notebooks."""
    columns = [[esc(row[i]) for row in rows] for i in range(len(header))]
    table = go.Table(
        header={"values": [esc(h) for h in header], "align": "left"},
        cells={"values": columns, "align": ["left"] + ["right"] * (len(header) - 1)},
    )
    return styled(go.Figure(table), title, height=60 + 28 * (len(rows) + 1))


def score_figure(data: RunData) -> go.Figure:
    """Median score with the 10-90% band, the mean, and the tiers' lower bounds."""
    ts, x = data.timeseries, data.dates
    fig = go.Figure()
    fig.add_scatter(x=x, y=ts["score_p90"], name="90th percentile", mode="lines", line={"width": 0}, showlegend=False)
    fig.add_scatter(
        x=x,
        y=ts["score_p10"],
        name="10-90% band",
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor="rgba(41, 128, 185, 0.2)",
    )
    fig.add_scatter(x=x, y=ts["score_p50"], name="median", mode="lines", line={"color": "#2980b9", "width": 2})
    fig.add_scatter(
        x=x, y=ts["score_mean"], name="mean", mode="lines", line={"color": "#2c3e50", "width": 1, "dash": "dash"}
    )
    low, high = float(ts["score_p10"].min()), float(ts["score_p90"].max())
    pad = max(25.0, 0.1 * (high - low))
    for tier, bound in data.scenario.get("score", {}).get("tiers", {}).items():
        if low - pad <= bound <= high + pad:
            fig.add_hline(
                y=bound,
                line={"color": "#bdc3c7", "width": 1, "dash": "dot"},
                annotation_text=f"lowest score of tier {esc(tier)}",
                annotation_position="top left",
            )
    return styled(fig, "Score: median with the 10-90% band", yaxis={"title": "score", "range": [low - pad, high + pad]})


def tiers_figure(data: RunData) -> go.Figure:
    """The share of citizens in each tier, stacked."""
    ts, x = data.timeseries, data.dates
    size = float(data.summary["population_size"])
    fig = go.Figure()
    columns = [c for c in ts.columns if c.startswith("tier_")]
    for n, column in enumerate(columns):
        colour = TIER_COLOURS[n % len(TIER_COLOURS)]
        fig.add_scatter(
            x=x,
            y=ts[column] / size,
            name=f"tier {esc(column.removeprefix('tier_'))}",
            mode="lines",
            stackgroup="tiers",
            line={"width": 0.5, "color": colour},
        )
    return styled(fig, "Tiers: share of citizens in each", yaxis={"tickformat": ".0%", "range": [0, 1]})


def blacklist_figure(data: RunData) -> go.Figure:
    """The blacklist stock by cause, the wrongful stock over it, and the wrongful share."""
    ts, x = data.timeseries, data.dates
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.08)
    for cause in CAUSES:
        if f"blacklisted_{cause}" in ts:
            fig.add_scatter(
                x=x,
                y=ts[f"blacklisted_{cause}"],
                name=cause.replace("_", " "),
                mode="lines",
                stackgroup="causes",
                line={"width": 0.5, "color": CAUSE_COLOURS[cause]},
                row=1,
                col=1,
            )
    fig.add_scatter(
        x=x,
        y=ts["blacklisted_wrongful"],
        name="wrongfully listed",
        mode="lines",
        line={"color": WRONGFUL, "width": 3},
        row=1,
        col=1,
    )
    share = (ts["blacklisted_wrongful"] / ts["blacklisted"].where(ts["blacklisted"] > 0)).fillna(0.0)
    fig.add_scatter(
        x=x,
        y=share,
        name="wrongful share of the blacklisted",
        mode="lines",
        line={"color": WRONGFUL, "width": 2},
        fill="tozeroy",
        fillcolor="rgba(192, 57, 43, 0.15)",
        row=2,
        col=1,
    )
    end = figure_values(data.summary)
    fig.update_yaxes(title_text="citizens listed (simulated)", row=1, col=1)
    fig.update_yaxes(title_text="wrongful share", tickformat=".0%", rangemode="tozero", row=2, col=1)
    share = data.summary["figures"].get("wrongful_share")
    title = (
        f"Blacklist by cause: {end.get('blacklisted_wrongful', 0):,.0f} of {end.get('blacklisted', 0):,.0f} "
        f"simulated listings at the end are wrongful ({quoted(share) if share else 'n/a'})"
    )
    if "ever_wrongfully_listed" in end:
        title += f";<br>{end['ever_wrongfully_listed']:,.0f} simulated people were wrongfully listed at some time"
    return styled(fig, title, height=520)


def sanctions_figure(data: RunData) -> go.Figure:
    """Trips denied (by mode) and speech suppressed, cumulative, with the scaled count on hover."""
    ts, x = data.timeseries, data.dates
    scale = float(data.summary["scale"])
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Trips denied (cumulative)", "Speech suppressed (cumulative events)")
    )
    series = [
        ("trips_denied", "all trips", "#2c3e50", 1),
        ("trips_denied_plane", "by plane", "#2980b9", 1),
        ("trips_denied_train", "by train", "#16a085", 1),
        ("speech_suppressed", "speech", WRONGFUL, 2),
    ]
    for column, name, colour, col in series:
        if column in ts:
            total = ts[column].cumsum()
            fig.add_scatter(
                x=x,
                y=total,
                customdata=total * scale,
                name=name,
                mode="lines",
                line={"color": colour, "width": 2 if col == 2 or column == "trips_denied" else 1},
                hovertemplate="%{y:,.0f} simulated, %{customdata:,.0f} scaled",
                row=1,
                col=col,
            )
    return styled(
        fig, "Sanctions felt: trips denied and speech suppressed", margin={"l": 60, "r": 20, "t": 90, "b": 60}
    )


def rolling(values: pd.Series) -> pd.Series:
    return values.rolling(ROLLING_DAYS, min_periods=1).mean()


def political_figure(data: RunData) -> go.Figure:
    """Political events a day against their level without surveillance (when the run has a baseline)."""
    ts, x = data.timeseries, data.dates
    fig = go.Figure()
    fig.add_scatter(
        x=x,
        y=ts["political_events"],
        name="this run, daily",
        mode="lines",
        line={"color": "rgba(192, 57, 43, 0.3)", "width": 1},
    )
    fig.add_scatter(
        x=x,
        y=rolling(ts["political_events"]),
        name=f"this run, {ROLLING_DAYS}-day mean",
        mode="lines",
        line={"color": WRONGFUL, "width": 2},
    )
    title = "Political events a day (this run has no baseline: `scslab run` without --no-baseline adds one)"
    if data.baseline is not None and "political_events" in data.baseline:
        base = data.baseline["political_events"]
        fig.add_scatter(
            x=x,
            y=rolling(base),
            name=f"without surveillance, {ROLLING_DAYS}-day mean",
            mode="lines",
            line={"color": BASELINE, "width": 2, "dash": "dash"},
        )
        entry = data.summary["figures"].get("chilling_effect")
        title = "Political events a day, with and without surveillance"
        if entry is not None:
            first, last = entry["window"]
            fig.add_vrect(x0=x.iloc[first], x1=x.iloc[last], fillcolor="rgba(127, 140, 141, 0.08)", line_width=0,
                          annotation_text="window of the chilling effect", annotation_position="top left")
            title = f"Chilling effect: {quoted(entry)} of political events suppressed, days {first} to {last}"
    return styled(fig, title, yaxis_title="events a day", yaxis_rangemode="tozero")


def disparities_figure(data: RunData) -> go.Figure:
    """Shares blacklisted and rewarded (top) and wrongfully blacklisted (below, on its own axis, so that it shows),
    by each breakdown dimension, with the 95% binomial interval of each share."""
    b = data.breakdowns
    dimensions = [d for d in DIMENSION_LABELS if d in set(b["dimension"])]
    fig = make_subplots(
        rows=2, cols=len(dimensions), subplot_titles=[DIMENSION_LABELS[d] for d in dimensions],
        horizontal_spacing=0.05, vertical_spacing=0.12, shared_xaxes=True, row_heights=[0.55, 0.45],
    )  # fmt: skip
    for col, dimension in enumerate(dimensions, start=1):
        rows = b[b["dimension"] == dimension]
        for share, label in SHARES:
            counts = rows[share.removesuffix("_share")]
            spans = [binomial(k, n) for k, n in zip(counts, rows["citizens"], strict=True)]
            shares = rows[share].to_numpy(dtype=float)
            fig.add_bar(
                x=[esc(v.replace("_", " ")) for v in rows["value"]],
                y=rows[share],
                name=label,
                marker_color=SHARE_COLOURS[share],
                legendgroup=share,
                showlegend=col == 1,
                error_y={"type": "data", "symmetric": False, "array": [hi - v for (_, hi), v in zip(spans, shares,
                         strict=True)], "arrayminus": [v - lo for (lo, _), v in zip(spans, shares, strict=True)],
                         "thickness": 1, "width": 2},
                customdata=list(zip(counts, rows["citizens"], strict=True)),
                hovertemplate="%{y:.2%} (%{customdata[0]:,.0f} of %{customdata[1]:,.0f})",
                row=2 if share == "wrongful_share" else 1,
                col=col,
            )  # fmt: skip
    fig.update_yaxes(tickformat=".1%")
    fig.update_yaxes(tickformat=".2%", row=2)
    fig.update_yaxes(title_text="share listed or rewarded", row=1, col=1)
    fig.update_yaxes(title_text="share wrongfully listed", row=2, col=1)
    fig.update_xaxes(tickangle=-45, row=2)
    return styled(
        fig,
        "Disparities: shares by group, income quintile, occupation and party membership (95% intervals)",
        height=620,
        barmode="group",
        hovermode="closest",
        margin={"l": 60, "r": 20, "t": 90, "b": 90},
    )
