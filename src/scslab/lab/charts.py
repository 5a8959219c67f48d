"""A plotly chart on a page: plotly.js loaded once from this server, and only the figure's JSON per update.

Solara's `FigurePlotly` uses plotly's FigureWidget, an anywidget that ships its 5 MB bundle with
every chart; the lab's chart sends the figure only (tens of kilobytes). In a notebook, where the
server's /static/assets is not there, the lab falls back to `FigurePlotly`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import solara

from scslab.lab.live import PLOTLY_JS, figure_json

PLOTLY_SRC = f"/static/assets/{PLOTLY_JS}"
NOTEBOOK = {"on": False}  # set by `Lab()`: charts as FigurePlotly


@solara.component_vue(str(Path(__file__).with_name("plotly.vue")))
def PlotlyChart(figure: dict[str, Any], src: str = PLOTLY_SRC) -> None:
    """One chart from its figure's JSON."""


@solara.component
def Chart(fig: go.Figure, name: str) -> None:
    """A figure in a Div classed `scs-chart scs-chart-NAME`, which the tests and the docs refer to."""
    data = solara.use_memo(lambda: figure_json(fig), dependencies=[fig])
    with solara.Div(classes=["scs-chart", f"scs-chart-{name}"]):
        if NOTEBOOK["on"]:
            solara.FigurePlotly(fig)
        else:
            PlotlyChart(figure=data)


@solara.component
def PlotlyPreload() -> None:
    """plotly.js fetched as the page opens (a hidden chart with no figure), so the first Run's chart is quick."""
    if not NOTEBOOK["on"]:
        with solara.Div(style="display: none"):
            PlotlyChart(figure={})
