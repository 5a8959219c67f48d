"""Global sensitivity (SALib): which parameter matters for each metric, by Sobol indices or Morris screening.

Sobol: first-order (S1) and total (ST) indices with their 95% confidence half-widths, from
Saltelli/Sobol' sampling of N * (D + 2) points. Morris: mu* (the mean absolute elementary
effect, a screening measure of total effect) with its 95% half-width, and sigma (interactions
and non-linearity), from N trajectories of D + 1 points. Each point runs with `seeds` replicate
seeds, the same at every point, and its metrics are averaged over them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab.atomic import write_parquet
from scslab.errors import ScslabError
from scslab.experiments.common import (
    Options,
    Shown,
    as_scenario,
    check_count,
    check_disk,
    check_run_count,
    experiment,
    run_matrix,
    seed_tasks,
    using,
)
from scslab.experiments.design import Param, check_points, design_seed, parse_params, points_from_matrix, run_seeds
from scslab.experiments.metrics import HEADLINE_METRICS, check_metrics
from scslab.report.experiments import write_sensitivity_report
from scslab.scenario import Scenario

METHODS = ("sobol", "morris")
MORRIS_LEVELS = 4
RESAMPLES = 200


@dataclass(repr=False)
class SensitivityResult(Shown):
    """One row per (metric, parameter): S1, S1_conf, ST, ST_conf (sobol) or mu_star, mu_star_conf, sigma, mu."""

    experiment_id: str
    directory: Path
    method: str
    runs: int
    executed: int
    indices: pd.DataFrame

    def main(self) -> tuple[str, pd.DataFrame]:
        return f"{self.method} indices of each metric and parameter (indices.parquet)", self.indices


def sensitivity(
    scenario: Scenario | str | Path,
    params: Sequence[str],
    *,
    method: str = "sobol",
    n: int = 64,
    seeds: int = 1,
    seed: int = 1,
    metrics: Sequence[str] = HEADLINE_METRICS,
    options: Options | None = None,
) -> SensitivityResult:
    """Sample the `params` ranges with SALib, run every point, and analyse each metric."""
    opts = options or Options()
    sc = as_scenario(scenario)
    chosen = check_metrics(metrics, sc)
    if method not in METHODS:
        raise ScslabError(f"--method: {method!r} (allowed: {', '.join(METHODS)})")
    check_count(n, "--n", 2)
    check_count(seeds, "--seeds")
    if method == "sobol" and n & (n - 1):
        raise ScslabError(f"--n: {n} is not a power of 2 (allowed for sobol: 2, 4, 8, ..., e.g. 64)")
    specs = parse_params(params, sc, need="range")
    check_run_count(n * (len(specs) + 2) * seeds, "--n x --seeds")  # SALib's samples, before drawing them
    problem = {"num_vars": len(specs), "names": [p.key for p in specs], "bounds": [[p.low, p.high] for p in specs]}
    rng_seed = design_seed(seed)
    samples = sample(method, problem, n, rng_seed)
    points, rows = points_from_matrix(specs, samples)
    check_points(sc, points)
    check_disk(len(points) * seeds, sc, opts.root, "--n x --seeds")  # before spawning the seeds
    tasks = seed_tasks(points, run_seeds(seed, seeds))
    spec = {"seed": seed, "seeds": seeds, "method": method, "n": n, "params": [asdict(p) for p in specs]}
    with experiment("sensitivity", sc, spec, len(tasks), opts, tasks) as exp:
        with using(opts.executor) as executor:
            values = run_matrix(exp, tasks, executor, opts, chosen)
        per_point = values.reshape(len(points), seeds, len(chosen)).mean(axis=1)
        y = per_point[rows]  # one row per SALib sample
        indices = analyse(method, problem, samples, y, specs, chosen, rng_seed)
        write_parquet(indices, exp.directory / "indices.parquet")
        write_sensitivity_report(exp.directory, exp.experiment_id, sc.name, method, len(tasks), indices)
    return SensitivityResult(exp.experiment_id, exp.directory, method, len(tasks), exp.executed, indices)


def sample(method: str, problem: dict[str, Any], n: int, seed: int) -> np.ndarray:
    """SALib's sample matrix: one row per point, one column per parameter."""
    if method == "sobol":
        from SALib.sample import sobol

        return np.asarray(sobol.sample(problem, n, calc_second_order=False, seed=seed))
    from SALib.sample import morris

    return np.asarray(morris.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed))


def analyse(method: str, problem: dict[str, Any], x: np.ndarray, y: np.ndarray, params: Sequence[Param],
            metrics: Sequence[str], seed: int) -> pd.DataFrame:  # fmt: skip
    """The indices of each metric (NaN for a metric that does not vary)."""
    rows = []
    for m, metric in enumerate(metrics):
        ym = y[:, m]
        flat = not np.isfinite(ym).all() or np.ptp(ym) == 0
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = None if flat else _analyse_one(method, problem, x, ym, seed)
        for j, p in enumerate(params):
            row: dict[str, Any] = {"metric": metric, "parameter": p.key}
            for name in _columns(method):
                row[name] = np.nan if result is None else float(result[name][j])
            rows.append(row)
    return pd.DataFrame(rows, columns=["metric", "parameter", *_columns(method)])


def _analyse_one(method: str, problem: dict[str, Any], x: np.ndarray, y: np.ndarray, seed: int) -> Any:
    if method == "sobol":
        from SALib.analyze import sobol

        return sobol.analyze(problem, y, calc_second_order=False, num_resamples=RESAMPLES, seed=seed)
    from SALib.analyze import morris

    return morris.analyze(problem, x, y, num_resamples=RESAMPLES, num_levels=MORRIS_LEVELS, seed=seed)


def _columns(method: str) -> tuple[str, ...]:
    return ("S1", "S1_conf", "ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf", "sigma", "mu")
