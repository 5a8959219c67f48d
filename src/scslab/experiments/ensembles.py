"""Ensembles: one scenario, many seeds; daily quantile bands and headline metrics with intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scslab.atomic import write_parquet
from scslab.experiments.catalog import Catalog
from scslab.experiments.common import Options, as_scenario, check_count, check_disk, experiment, using
from scslab.experiments.design import run_seeds
from scslab.experiments.executors import Task
from scslab.experiments.metrics import HEADLINE_METRICS, check_metrics, is_count
from scslab.experiments.store import Experiment
from scslab.scenario import Scenario

QUANTILES = (0.1, 0.5, 0.9)
CONFIDENCE = 0.95


@dataclass
class EnsembleResult:
    """An ensemble's bands (one row per metric and day) and intervals (one row per headline metric)."""

    experiment_id: str
    directory: Path
    runs: int
    executed: int
    bands: pd.DataFrame
    intervals: pd.DataFrame


def ensemble(
    scenario: Scenario | str | Path,
    seeds: int = 100,
    *,
    seed: int = 0,
    metrics: Sequence[str] = HEADLINE_METRICS,
    options: Options | None = None,
) -> EnsembleResult:
    """Run `scenario` with `seeds` seeds spawned from `seed`; write bands.parquet and intervals.parquet."""
    opts = options or Options()
    sc = as_scenario(scenario)
    chosen = check_metrics(metrics, sc)
    check_count(seeds, "--seeds")
    check_disk(seeds, sc, opts.root, "--seeds")  # before spawning the seeds
    tasks = [Task(i, s, (), 0, i) for i, s in enumerate(run_seeds(seed, seeds))]
    with experiment("ensemble", sc, {"seed": seed, "seeds": seeds}, seeds, opts, tasks) as exp:
        with using(opts.executor) as executor:
            for _ in exp.run(tasks, executor, opts.progress, opts.work):
                pass
        exp.flush()
        exp.check_failures()
        bands = quantile_bands(exp)
        intervals = metric_intervals(exp.catalog, exp.experiment_id, chosen, sc.params.population.scale)
        write_parquet(bands, exp.directory / "bands.parquet")
        write_parquet(intervals, exp.directory / "intervals.parquet")
    return EnsembleResult(exp.experiment_id, exp.directory, seeds, exp.executed, bands, intervals)


def quantile_bands(exp: Experiment) -> pd.DataFrame:
    """The 10/50/90% quantiles, mean, min and max of every daily column over the complete runs.

    DuckDB streams over the runs' Parquet files, so the runs are never all in memory at once.
    """
    import duckdb

    files = sorted(str(p / "timeseries.parquet") for p in (exp.directory / "runs").iterdir() if p.is_dir())
    q10, q50, q90 = QUANTILES
    with duckdb.connect() as con:
        return con.execute(
            f"""WITH long AS (
                    UNPIVOT (SELECT * FROM read_parquet(?)) ON COLUMNS(* EXCLUDE (day)) INTO NAME metric VALUE value
                )
                SELECT metric, day, count(*) AS runs,
                       quantile_cont(value, {q10}) AS p10, quantile_cont(value, {q50}) AS p50,
                       quantile_cont(value, {q90}) AS p90, avg(value) AS mean, min(value) AS min, max(value) AS max
                FROM long GROUP BY metric, day ORDER BY metric, day""",
            [files],
        ).df()


def metric_intervals(catalog: Catalog, experiment_id: str, metrics: Sequence[str], scale: float) -> pd.DataFrame:
    """Each metric over the runs: mean with its 95% confidence interval, and the 10/50/90% quantiles."""
    from scipy import stats

    q10, q50, q90 = QUANTILES
    frame = catalog.query(
        f"""SELECT metric, count(*) AS runs, avg(value) AS mean, stddev_samp(value) AS sd,
                   quantile_cont(value, {q10}) AS p10, quantile_cont(value, {q50}) AS p50,
                   quantile_cont(value, {q90}) AS p90
            FROM metrics WHERE experiment_id = ? AND list_contains(?, metric) GROUP BY metric""",
        [experiment_id, list(metrics)],
    )
    frame = frame.set_index("metric").reindex(list(metrics)).reset_index()
    n = frame["runs"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * frame["sd"].to_numpy(dtype=float) / np.sqrt(n)
    frame.insert(3, "ci_low", frame["mean"] - half)
    frame.insert(4, "ci_high", frame["mean"] + half)
    frame["mean_real"] = [
        m * scale if is_count(k) else np.nan for k, m in zip(frame["metric"], frame["mean"], strict=True)
    ]
    return frame
