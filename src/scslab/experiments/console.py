"""What the experiment commands share: loading the scenario, the progress bar, tables of DataFrames."""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab.errors import ScslabError
from scslab.experiments.catalog import Catalog
from scslab.experiments.common import Options
from scslab.experiments.executors import DaskExecutor, make_executor
from scslab.experiments.metrics import HEADLINE_METRICS
from scslab.preflight import check_folder, check_output
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
    directory: Path | None = None,
    trusted: Sequence[Path] = (),
    baseline: bool = True,
) -> Iterator[tuple[Scenario, Options]]:
    """The scenario with its `--set` overrides, and the options of an experiment command (with a progress bar);
    the folders it writes are checked first."""
    sc = load_scenario(scenario, trusted)
    if sets:
        sc = sc.with_overrides(dict(parse_set_option(item) for item in sets))
    check_folder(root, "--root")
    if directory is not None and not resume:
        if directory.exists():
            raise ScslabError(f"--out {directory}: already exists (allowed: a new folder, or --resume to finish it)")
        check_output(directory)
    ex = make_executor(executor, workers, scheduler)
    try:
        with ex, runs_bar(not quiet and sys.stderr.isatty()) as progress:
            if isinstance(ex, DaskExecutor) and scheduler:
                ex.client()  # a scheduler that cannot be reached is a bad input: say so before writing anything
            yield sc, Options(ex, root, experiment_id, resume, progress, directory=directory, baseline=baseline)
    except Stopped as stop:
        stop.hint = STOP_HINT
        raise


def cell(value: Any) -> str:
    """A table cell: counts with separators, other numbers with 4 significant digits (never in scientific
    notation), NaN as a dash."""
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value.is_integer() or abs(value) >= 1e3:
            return f"{value:,.0f}"
        if abs(value) >= 1e-3 or value == 0:
            return f"{value:,.4g}"
        return str(np.format_float_positional(value, precision=3, unique=False, fractional=False, trim="-"))
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


def runs_frame(root: Path, experiment: str | None, sql: str | None, limit: int = MAX_ROWS) -> tuple[pd.DataFrame, str]:
    """What `scslab runs` shows: the experiments, one experiment's runs, or a query's first `limit` rows."""
    catalog = Catalog(root)
    if sql:
        frame, cut = catalog.user_query(sql, limit)
        return frame, f"query: the first {limit:,} rows; more were cut (allowed: a larger --limit)" if cut else "query"
    if experiment is None:
        return catalog.experiments(), f"experiments and single runs in {catalog.path}"
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
