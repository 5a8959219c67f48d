"""What the experiment commands share: loading the scenario, the progress bar, tables of DataFrames."""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table

from scslab.errors import ScslabError
from scslab.experiments.catalog import Catalog
from scslab.experiments.common import Options
from scslab.experiments.executors import DaskExecutor, make_executor
from scslab.experiments.metrics import HEADLINE_METRICS
from scslab.progress_bars import runs_bar
from scslab.scenario import Scenario, load_scenario, parse_set_option
from scslab.signals import Stopped

MAX_ROWS = 60
STOP_HINT = "complete runs are kept; to finish, the same command with --resume"


@contextmanager
def session(
    scenario: str,
    sets: Sequence[str] | None,
    executor: str,
    scheduler: str | None,
    workers: int | None,
    root: Path,
    experiment_id: str | None,
    resume: bool,
    quiet: bool,
) -> Iterator[tuple[Scenario, Options]]:
    """The scenario with its `--set` overrides, and the options of an experiment command (with a progress bar)."""
    sc = load_scenario(scenario)
    if sets:
        sc = sc.with_overrides(dict(parse_set_option(item) for item in sets))
    ex = make_executor(executor, workers, scheduler)
    try:
        with ex, runs_bar(not quiet and sys.stderr.isatty()) as progress:
            if isinstance(ex, DaskExecutor) and scheduler:
                ex.client()  # a scheduler that cannot be reached is a bad input: say so before writing anything
            yield sc, Options(ex, root, experiment_id, resume, progress)
    except Stopped as stop:
        stop.hint = STOP_HINT
        raise


def cell(value: Any) -> str:
    """A table cell: counts with separators, other numbers with 4 significant digits, NaN as a dash."""
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value.is_integer() and abs(value) < 1e15:
            return f"{value:,.0f}"
        return f"{value:,.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items())
    if value is None or value is pd.NaT:
        return "—"
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def intervals_view(intervals: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    """An ensemble's intervals as the terminal shows them: each metric's mean over the seeds with its 95% interval
    at the precision the interval supports (counts scaled by `scale` to the real population), and the spread."""
    from scslab.report.experiments import interval_rows

    rows = interval_rows(intervals, scale)
    return pd.DataFrame(
        {
            "metric": intervals["metric"],
            "runs": intervals["runs"],
            "mean (95% interval), real population": [r[2] for r in rows],
            "10-90% of the seeds": [r[3] for r in rows],
        }
    )


def frame_table(frame: pd.DataFrame, title: str, max_rows: int = MAX_ROWS) -> Table:
    """A DataFrame as a rich table (the first `max_rows` rows)."""
    table = Table(title=title)
    for i, col in enumerate(frame.columns):
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(str(col), justify="right" if numeric else "left", no_wrap=i == 0)
    for row in frame.head(max_rows).itertuples(index=False):
        table.add_row(*(cell(v) for v in row))
    if len(frame) > max_rows:
        table.caption = f"first {max_rows} of {len(frame):,} rows"
    return table


def runs_frame(root: Path, experiment: str | None, sql: str | None, limit: int = MAX_ROWS) -> tuple[pd.DataFrame, str]:
    """What `scslab runs` shows: the experiments, one experiment's runs, or a query's first `limit` rows."""
    catalog = Catalog(root)
    if sql:
        frame, cut = catalog.user_query(sql, limit)
        return frame, f"query: the first {limit:,} rows; more were cut (allowed: a larger --limit)" if cut else "query"
    if experiment is None:
        return catalog.experiments(), f"experiments in {catalog.path}"
    runs = catalog.query(
        "SELECT run_index, point, replicate, seed, params, wall_seconds FROM runs WHERE experiment_id = ? "
        "ORDER BY run_index",
        [experiment],
    )
    if runs.empty:
        raise ScslabError(
            f"--experiment {experiment}: no runs in {catalog.path} (allowed: an id that scslab runs lists)"
        )
    metrics = catalog.query(
        "SELECT run_index, metric, value FROM metrics WHERE experiment_id = ? AND list_contains(?, metric)",
        [experiment, list(HEADLINE_METRICS)],
    )
    wide = metrics.pivot(index="run_index", columns="metric", values="value")
    wide = wide[[m for m in HEADLINE_METRICS if m in wide.columns]].reset_index()
    return runs.merge(wide, on="run_index", how="left"), f"runs of {experiment}"
