"""Two scenarios run over the same seeds (experiments/comparison.py runs them): their table and compare.html.

The difference of each seed's pair of runs is the policy's effect (with common random numbers, not noise);
its 95% interval over seeds is a t interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from scslab.atomic import new_directory
from scslab.display import frame_table
from scslab.intervals import t_interval
from scslab.report.figures import esc, rolling, styled
from scslab.report.html import Section, page, table
from scslab.report.tables import number, parameter_differences
from scslab.results import headline_figures
from scslab.scenario import Scenario
from scslab.version import __version__

COMPARE_FILE = "compare.html"
FIGURES_FILE = "compare.parquet"
SIDES = ("A", "B")
COLOURS = {"A": "#2980b9", "B": "#e67e22"}
# Daily series drawn overlaid: (column, title, how: "stock", "cumulative" or "rolling").
SERIES = (
    ("blacklisted", "Blacklisted", "stock"),
    ("blacklisted_wrongful", "Wrongfully blacklisted", "stock"),
    ("score_mean", "Mean score", "stock"),
    ("rho_mean", "Perceived risk (mean)", "stock"),
    ("trips_denied", "Trips denied (cumulative)", "cumulative"),
    ("speech_suppressed", "Speech suppressed (cumulative)", "cumulative"),
    ("political_events", "Political events a day (7-day mean)", "rolling"),
    ("listings_new", "New listings (cumulative)", "cumulative"),
)


@dataclass(frozen=True)
class Comparison:
    """A and B run over the same seeds: each run's figures, and the daily series of SERIES."""

    a: Scenario
    b: Scenario
    seeds: tuple[int, ...]
    crn: bool
    figures: pd.DataFrame  # one row per (side, seed): the summary's figures
    timeseries: pd.DataFrame  # one row per (side, seed, day): the columns of SERIES

    def __repr__(self) -> str:
        crn = "common random numbers" if self.crn else "independent draws"
        return (f"<Comparison A {self.a.name!r} vs B {self.b.name!r}: {len(self.seeds)} seeds, {crn}; "
                f".table() for B - A with 95% intervals>")  # fmt: skip

    def _repr_html_(self) -> str:
        crn = "common random numbers" if self.crn else "independent draws"
        title = f"A {self.a.name} vs B {self.b.name}: means over {len(self.seeds)} seeds, B - A with its 95% interval"
        return frame_table(title, self.table().drop(columns=["key", "scales"]), f"{crn}; simulated counts, not scaled")

    def metrics(self) -> list[tuple[str, str, bool]]:
        """(label, key, scales) of the headline figures both scenarios report."""
        present = set(self.figures.columns)
        return [(label.strip(), key, scales) for label, key, scales in headline_figures() if key in present]

    def differences(self) -> pd.DataFrame:
        """B - A for each seed (rows) and headline figure (columns)."""
        keys = [key for _, key, _ in self.metrics()]
        side = {s: self.figures[self.figures["side"] == s].set_index("seed")[keys] for s in SIDES}
        return side["B"] - side["A"]

    def table(self) -> pd.DataFrame:
        """Each headline figure: mean of A and B over seeds, the mean difference and its 95% interval."""
        diff = self.differences()
        rows = []
        for label, key, scales in self.metrics():
            a, b = (self.figures.loc[self.figures["side"] == s, key] for s in SIDES)
            low, high = t_interval(diff[key].to_numpy())
            rows.append(
                {
                    "figure": label,
                    "key": key,
                    "scales": scales,
                    "a": a.mean(),
                    "b": b.mean(),
                    "difference": diff[key].mean(),
                    "low": low,
                    "high": high,
                }
            )
        return pd.DataFrame(rows)


def shaped(values: pd.Series, how: str) -> pd.Series:
    if how == "cumulative":
        return values.cumsum()
    if how == "rolling":
        return rolling(values)
    return values


def series_figure(comparison: Comparison) -> go.Figure:
    """Each series of SERIES for A and B: the mean over seeds with the 10-90% band of the seeds."""
    ts = comparison.timeseries
    present = [s for s in SERIES if s[0] in ts]
    rows = math.ceil(len(present) / 2)
    fig = make_subplots(
        rows=rows,
        cols=2,
        subplot_titles=[title for _, title, _ in present],
        vertical_spacing=0.35 / rows,
        horizontal_spacing=0.08,
    )
    names = {"A": f"A: {esc(comparison.a.name)}", "B": f"B: {esc(comparison.b.name)}"}
    for n, (column, _, how) in enumerate(present):
        row, col = n // 2 + 1, n % 2 + 1
        for side in SIDES:
            runs = ts[ts["side"] == side].pivot(index="day", columns="seed", values=column)
            runs = runs.apply(lambda v, h=how: shaped(v, h))
            low, high = runs.quantile(0.1, axis=1), runs.quantile(0.9, axis=1)
            colour = COLOURS[side]
            fig.add_scatter(
                x=runs.index,
                y=high,
                mode="lines",
                line={"width": 0},
                showlegend=False,
                legendgroup=side,
                hoverinfo="skip",
                row=row,
                col=col,
            )
            fig.add_scatter(
                x=runs.index,
                y=low,
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=_transparent(colour),
                showlegend=False,
                legendgroup=side,
                hoverinfo="skip",
                row=row,
                col=col,
            )
            fig.add_scatter(
                x=runs.index,
                y=runs.mean(axis=1),
                mode="lines",
                name=names[side],
                line={"color": colour, "width": 2},
                legendgroup=side,
                showlegend=n == 0,
                row=row,
                col=col,
            )
    fig.update_xaxes(title_text="day")
    return styled(
        fig,
        "Over time: mean over seeds, with the band where 80% of the seeds lie",
        height=300 * rows,
        hovermode="closest",
        margin={"l": 60, "r": 20, "t": 110, "b": 60},
    )


def _transparent(colour: str, alpha: float = 0.2) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def metric_rows(comparison: Comparison) -> list[tuple[str, ...]]:
    """The headline table as text: figure, A, B, B - A, 95% interval, B - A scaled to the real population."""
    scale_a, scale_b = comparison.a.params.population.scale, comparison.b.params.population.scale
    rows: list[tuple[str, ...]] = []
    for row in comparison.table().itertuples(index=False):
        key = str(row.key)
        span = "n/a" if math.isnan(row.low) else f"[{number(row.low, key)}, {number(row.high, key)}]"
        scaled = number(row.difference * scale_a, key) if row.scales and scale_a == scale_b else ""
        rows.append(
            (str(row.figure), number(row.a, key), number(row.b, key), number(row.difference, key), span, scaled)
        )
    return rows


def compare_html(comparison: Comparison) -> str:
    """The comparison page."""
    a, b = comparison.a, comparison.b
    k = len(comparison.seeds)
    crn = "on (common random numbers)" if comparison.crn else "off (independent draws)"
    header = ("figure", "A (mean)", "B (mean)", "B − A", "95% interval of B − A", "B − A scaled")
    differences = parameter_differences(
        a.params.model_dump(mode="json", exclude_none=True), b.params.model_dump(mode="json", exclude_none=True)
    )
    sections = [
        Section(
            "Headline figures",
            f"Each figure is the mean over {k} seeds; B − A is the mean of the per-seed "
            f"differences, with its 95% t interval over seeds (n/a with one seed). Shares and scores are "
            f"not scaled.",
            html=table(header, metric_rows(comparison)),
        ),
        Section("Over time", "The daily series of A and B overlaid.", series_figure(comparison)),
        Section(
            "What differs",
            "The scenario keys whose values differ between A and B.",
            html=table(("key", "A", "B"), differences, numeric_from=3, css="params")
            if differences
            else "<p>The two scenarios are identical.</p>",
        ),
    ]
    seeds = f"{comparison.seeds[0]}..{comparison.seeds[-1]}"
    meta: list[tuple[str, object]] = [
        ("A", a.origin),
        ("B", b.origin),
        ("seeds", seeds),
        ("CRN", crn),
        ("scslab", __version__),
    ]
    description = f"A: {a.params.description}\nB: {b.params.description}"
    footer = f"scslab {__version__}. Synthetic populations: no real person's records were used."
    return page(f"scslab compare: {a.name} vs {b.name}", description, meta, sections, footer)


def write_compare(comparison: Comparison, directory: str | Path) -> Path:
    """Write compare.html and compare.parquet (each run's figures) into a new directory, atomically."""
    with new_directory(directory) as staging:
        (staging / COMPARE_FILE).write_text(compare_html(comparison), encoding="utf-8")
        comparison.figures.to_parquet(staging / FIGURES_FILE, index=False)
    return Path(directory)
