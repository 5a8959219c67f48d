"""Ensembles: one scenario, many seeds; daily quantile bands and headline metrics with intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scslab.atomic import write_parquet
from scslab.errors import ScslabError
from scslab.experiments.catalog import Catalog
from scslab.experiments.common import Options, Shown, as_scenario, check_count, check_disk, experiment, using
from scslab.experiments.design import run_seeds
from scslab.experiments.executors import Task
from scslab.experiments.metrics import HEADLINE_METRICS, check_metrics, is_count
from scslab.experiments.store import Experiment
from scslab.intervals import seeds_count_interval, t_interval
from scslab.outputs import metric_columns
from scslab.report.experiments import write_ensemble_report
from scslab.scenario import Scenario

QUANTILES = (0.1, 0.5, 0.9)
CONFIDENCE = 0.95
BAND_BYTES = 256 << 20  # values read at once to compute the bands


@dataclass(repr=False)
class EnsembleResult(Shown):
    """An ensemble's bands (one row per metric and day) and intervals (one row per headline metric)."""

    experiment_id: str
    directory: Path
    runs: int
    executed: int
    bands: pd.DataFrame
    intervals: pd.DataFrame
    scale: float = 1.0  # of the counts, to the real population

    def main(self) -> tuple[str, pd.DataFrame]:
        return "each metric's mean over the runs with its 95% interval (intervals.parquet)", self.intervals


def ensemble(
    scenario: Scenario | str | Path,
    seeds: int = 100,
    *,
    seed: int = 1,
    metrics: Sequence[str] = HEADLINE_METRICS,
    options: Options | None = None,
) -> EnsembleResult:
    """Run `scenario` with seeds `seed` .. `seed + seeds - 1`; write bands.parquet and intervals.parquet."""
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
        write_ensemble_report(exp.directory, exp.experiment_id, sc.name, seeds, bands, intervals,
                              sc.params.population.scale, chosen)  # fmt: skip
    return EnsembleResult(exp.experiment_id, exp.directory, seeds, exp.executed, bands, intervals,
                          sc.params.population.scale)  # fmt: skip


def quantile_bands(exp: Experiment) -> pd.DataFrame:
    """The 10/50/90% quantiles, mean, min and max of every daily column over the complete runs.

    The runs are reduced in the order of their indexes, whatever order they finished in, so the
    bands are the same bytes on any executor. Columns are read a few at a time, at most about
    BAND_BYTES of values at once, so the runs are never all in memory.
    """
    import pyarrow.parquet as pq

    runs = sorted((p for p in (exp.directory / "runs").iterdir() if p.is_dir() and p.name.isdigit()),
                  key=lambda p: int(p.name))  # fmt: skip
    files = [p / "timeseries.parquet" for p in runs]
    first = pq.read_table(files[0])
    days = first.column("day").to_numpy()
    metrics = sorted(metric_columns(first.column_names))
    step = max(1, BAND_BYTES // (8 * len(files) * max(1, len(days))))
    parts = []
    for start in range(0, len(metrics), step):
        chunk = metrics[start : start + step]
        values = np.stack([_columns(f, chunk, len(days)) for f in files])  # runs x days x metrics
        for j, metric in enumerate(chunk):
            parts.append(_band(metric, days, values[:, :, j]))
    return pd.concat(parts, ignore_index=True)


def _columns(path: Path, names: Sequence[str], days: int) -> np.ndarray:
    """Some daily columns of one run, as a days x columns array of floats."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=list(names))
    if table.num_rows != days:
        raise ScslabError(f"{path}: {table.num_rows} days, not {days} like the other runs (allowed: --resume)")
    return np.column_stack([table.column(n).to_numpy().astype(np.float64) for n in names])


def _band(metric: str, days: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """One metric's rows of the bands, from its runs x days values."""
    q10, q50, q90 = np.quantile(values, QUANTILES, axis=0)
    return pd.DataFrame(
        {"metric": metric, "day": days, "runs": np.full(len(days), len(values), dtype=np.int64),
         "p10": q10, "p50": q50, "p90": q90, "mean": values.mean(axis=0),
         "min": values.min(axis=0), "max": values.max(axis=0)}
    )  # fmt: skip


def metric_intervals(catalog: Catalog, experiment_id: str, metrics: Sequence[str], scale: float) -> pd.DataFrame:
    """Each metric over the runs: mean with its 95% confidence interval, and the 10/50/90% quantiles.

    A count's interval is the t interval of the square roots, squared back (`intervals.seeds_count_interval`:
    never below 0, honest with few seeds); another figure's is the t interval. The values are reduced in the
    order of the runs' indexes, not of the catalogue's rows.
    """
    frame = catalog.query(
        "SELECT metric, value FROM metrics WHERE experiment_id = ? AND list_contains(?, metric) "
        "ORDER BY metric, run_index",
        [experiment_id, list(metrics)],
    )
    by_metric = {m: g["value"].to_numpy(dtype=np.float64) for m, g in frame.groupby("metric", sort=False)}
    rows = []
    for metric in metrics:
        v = by_metric.get(metric, np.empty(0))
        n = len(v)
        mean = float(v.mean()) if n else np.nan
        sd = float(v.std(ddof=1)) if n > 1 else np.nan
        q10, q50, q90 = np.quantile(v, QUANTILES) if n else (np.nan,) * 3
        count = is_count(metric)
        low, high = (seeds_count_interval if count and (v >= 0).all() else t_interval)(list(v), CONFIDENCE)
        rows.append({"metric": metric, "runs": n, "mean": mean, "ci_low": low, "ci_high": high,
                     "method": ("t interval of the square roots, squared" if count else "t interval") + " over seeds",
                     "sd": sd, "p10": float(q10), "p50": float(q50), "p90": float(q90),
                     "mean_real": mean * scale if count else np.nan,
                     "ci_low_real": low * scale if count else np.nan,
                     "ci_high_real": high * scale if count else np.nan})  # fmt: skip
    return pd.DataFrame(rows)
