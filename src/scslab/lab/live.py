"""What the lab draws: the report's plotly figures (report/figures.py) and the comparison's (report/compare.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from scslab.report import CHARTS, RunData, build_figures
from scslab.report.compare import Comparison, metric_rows, series_figure

PLOTLY_JS = "plotly.min.js"  # served from plotly's own package data (server.configure), once per page
COMPARE_COLUMNS = ("figure", "A", "B", "B − A", "95% interval", "B − A scaled")


def chart_figures(data: RunData) -> dict[str, go.Figure]:
    """The report's charts of a run (so far), by name, in the report's order."""
    figures = build_figures(data)
    return {name: figures[name] for name in CHARTS}


def compare_rows(comparison: Comparison) -> pd.DataFrame:
    """The comparison's headline table, as `scslab compare` prints it."""
    return pd.DataFrame(metric_rows(comparison), columns=list(COMPARE_COLUMNS))


def compare_figure(comparison: Comparison) -> go.Figure:
    """A's and B's daily series overlaid, with their spread over the seeds."""
    return series_figure(comparison)


def plotly_assets() -> Path:
    """The folder of plotly.min.js inside the installed plotly package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data"


def figure_json(fig: go.Figure) -> dict[str, Any]:
    """A figure as plain JSON data (dates as ISO text, arrays as lists): what one chart update sends."""
    return dict(json.loads(fig.to_json()))
