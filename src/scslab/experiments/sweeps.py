"""Sweeps: headline metrics against parameters, over a grid or a Latin hypercube, with replicate seeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scslab.atomic import write_parquet
from scslab.errors import ScslabError
from scslab.experiments.common import (
    RUN_OPTIONS,
    Options,
    Shown,
    as_scenario,
    check_count,
    check_disk,
    experiment,
    run_matrix,
    seed_tasks,
    using,
)
from scslab.experiments.design import Param, design_seed, grid_points, lhs_points, parse_params, run_seeds
from scslab.experiments.metrics import HEADLINE_METRICS, check_metrics
from scslab.report.experiments import point_intervals, write_sweep_report
from scslab.scenario import Scenario

DESIGNS = ("grid", "lhs")


@dataclass(repr=False)
class SweepResult(Shown):
    """One row per design point (parameters, then each metric's mean and sd over seeds); rank correlations."""

    experiment_id: str
    directory: Path
    runs: int
    executed: int
    params: list[Param]
    points: pd.DataFrame
    correlations: pd.DataFrame

    def main(self) -> tuple[str, pd.DataFrame]:
        return "each design point's parameters and metrics (points.parquet)", self.points


def sweep(
    scenario: Scenario | str | Path,
    params: Sequence[str],
    *,
    design: str = "grid",
    n: int = 10,
    seeds: int = 1,
    seed: int = 1,
    metrics: Sequence[str] = HEADLINE_METRICS,
    options: Options | None = None,
) -> SweepResult:
    """Run every design point with `seeds` replicate seeds; `n` is the number of points of an lhs design."""
    opts = options or Options()
    sc = as_scenario(scenario)
    chosen = check_metrics(metrics, sc)
    if design not in DESIGNS:
        raise ScslabError(f"--design: {design!r} (allowed: {', '.join(DESIGNS)})")
    check_count(seeds, "--seeds")
    specs = parse_params(params, sc, need="grid" if design == "grid" else "range")
    if design == "grid":
        points = grid_points(specs)
    else:
        points = lhs_points(specs, check_count(n, "--n"), design_seed(seed))
    check_disk(len(points) * seeds, sc, opts.root, RUN_OPTIONS["sweep"])  # before spawning the seeds
    tasks = seed_tasks(points, run_seeds(seed, seeds))
    spec = {"seed": seed, "seeds": seeds, "design": design, "n": len(points), "params": [asdict(p) for p in specs]}
    with experiment("sweep", sc, spec, len(tasks), opts, tasks) as exp:
        with using(opts.executor) as executor:
            values = run_matrix(exp, tasks, executor, opts, chosen)
        by_point = values.reshape(len(points), seeds, len(chosen))
        table = point_table(specs, points, by_point, chosen)
        spans = point_intervals(by_point, chosen)
        if seeds > 1:
            for metric in chosen:
                table[f"{metric}_low"], table[f"{metric}_high"] = spans[metric][:, 0], spans[metric][:, 1]
        corr = rank_correlations(table, specs, chosen)
        write_parquet(table, exp.directory / "points.parquet")
        write_parquet(corr, exp.directory / "correlations.parquet")
        write_sweep_report(exp.directory, exp.experiment_id, sc.name, seeds, table, corr, [p.key for p in specs],
                           chosen, spans)  # fmt: skip
    return SweepResult(exp.experiment_id, exp.directory, len(tasks), exp.executed, specs, table, corr)


def point_table(params: Sequence[Param], points: Sequence[dict[str, float]], values: np.ndarray,
                metrics: Sequence[str]) -> pd.DataFrame:  # fmt: skip
    """Parameters of each point, then each metric's mean over replicates (and sd, with more than one; the sweep adds
    the 95% interval over the replicates as `METRIC_low` and `METRIC_high`)."""
    frame = pd.DataFrame({"point": np.arange(len(points))})
    for p in params:
        frame[p.key] = [point[p.key] for point in points]
    replicates = values.shape[1]
    for m, metric in enumerate(metrics):
        frame[metric] = values[:, :, m].mean(axis=1)
        if replicates > 1:
            frame[f"{metric}_sd"] = values[:, :, m].std(axis=1, ddof=1)
    return frame


def rank_correlations(table: pd.DataFrame, params: Sequence[Param], metrics: Sequence[str]) -> pd.DataFrame:
    """Spearman's rank correlation of each metric's mean with each parameter over the points (NaN if constant)."""
    from scipy.stats import spearmanr

    rows = []
    for metric in metrics:
        y = table[metric].to_numpy()
        row: dict[str, object] = {"metric": metric}
        for p in params:
            x = table[p.key].to_numpy(dtype=float)
            flat = len(table) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0
            row[p.key] = np.nan if flat else float(spearmanr(x, y).statistic)
        rows.append(row)
    return pd.DataFrame(rows, columns=["metric", *(p.key for p in params)])
