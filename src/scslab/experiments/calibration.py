"""Calibration (optuna TPE): fit parameters to reported figures, and write the fitted scenario.

The loss of a trial is the sum over targets of ((simulated - target) / tolerance)^2, the
simulated figure averaged over `seeds` replicate seeds (the same in every trial). Trials are
asked in batches of a fixed size, so the fit is the same on any executor and any number of
workers. The fitted scenario is a TOML file that `extends` the original and sets only the
fitted keys (and any key the original was overridden with); where the loader's rules keep
`extends` from reaching the original (a file outside the fitted file's folder), it holds
every key itself. Either way it loads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab.atomic import write_parquet
from scslab.errors import ScslabError
from scslab.experiments.common import Options, Shown, as_scenario, check_count, experiment, using
from scslab.experiments.design import Param, Point, check_points, design_seed, parse_params, run_seeds
from scslab.experiments.executors import Task
from scslab.experiments.fitted import original_reference, write_fitted
from scslab.experiments.metrics import figure_at
from scslab.experiments.store import Record
from scslab.experiments.targets import Target, check_target, load_targets
from scslab.report.experiments import write_calibration_report
from scslab.scenario import Scenario

__all__ = ["CalibrationResult", "Target", "calibrate"]


@dataclass(repr=False)
class CalibrationResult(Shown):
    """The best parameters, every trial, each target at the best trial, and the fitted scenario file."""

    experiment_id: str
    directory: Path
    runs: int
    executed: int
    best: Point
    best_loss: float
    trials: pd.DataFrame
    targets: pd.DataFrame
    fitted_path: Path

    def main(self) -> tuple[str, pd.DataFrame]:
        best = ", ".join(f"{k} = {v:g}" for k, v in self.best.items())
        return f"each target at the best trial ({best}; loss {self.best_loss:.4g})", self.targets


def calibrate(
    scenario: Scenario | str | Path,
    targets: str | Path | Sequence[Target],
    params: Sequence[str] = (),
    *,
    trials: int = 50,
    seeds: int = 1,
    batch: int = 4,
    seed: int = 1,
    out: str | Path | None = None,
    options: Options | None = None,
) -> CalibrationResult:
    """Fit `params` (KEY=LOW:HIGH, and those of the targets file) to `targets` in `trials` trials."""
    opts = options or Options()
    sc = as_scenario(scenario)
    file_params: list[str] = []
    if isinstance(targets, (str, Path)):
        goals, file_params = load_targets(targets, sc)
    else:
        goals = [check_target(t, sc, f"targets[{i}]") for i, t in enumerate(targets)]
    if not goals:
        raise ScslabError("targets: none given (allowed: one or more targets)")
    specs = parse_params([*params, *file_params], sc, need="range")
    for option, value in (("--trials", trials), ("--seeds", seeds), ("--batch", batch)):
        check_count(value, option)
    reference = original_reference(sc)
    if out is not None and Path(out).exists():
        raise ScslabError(f"{out}: already exists (allowed: a new file for the fitted scenario)")
    spec = {
        "seed": seed, "seeds": seeds, "trials": trials, "batch": batch,
        "params": [asdict(p) for p in specs], "targets": [asdict(t) for t in goals],
    }  # fmt: skip
    study = _study(design_seed(seed))
    replicate_seeds = run_seeds(seed, seeds)
    rows: list[dict[str, Any]] = []
    with experiment("calibrate", sc, spec, trials * seeds, opts) as exp:
        with using(opts.executor) as executor:
            for start in range(0, trials, batch):
                asked = [study.ask() for _ in range(min(batch, trials - start))]
                points = [{p.key: _suggest(trial, p) for p in specs} for trial in asked]
                check_points(sc, points)
                tasks = [
                    Task(trial.number * seeds + r, s, tuple(sorted(point.items())), trial.number, r)
                    for trial, point in zip(asked, points, strict=True)
                    for r, s in enumerate(replicate_seeds)
                ]
                sims = np.full((len(asked), seeds, len(goals)), np.nan)
                done = start * seeds

                def progress(d: int, _total: int, done: int = done) -> None:
                    if opts.progress:
                        opts.progress(done + d, trials * seeds)

                for record in exp.run(tasks, executor, progress, opts.work):
                    sims[record.task.point - start, record.task.replicate] = simulated(goals, record)
                exp.check_failures()
                for trial, point, sim in zip(asked, points, sims.mean(axis=1), strict=True):
                    trial_loss = loss(goals, sim)
                    study.tell(trial, trial_loss)
                    rows.append({"trial": trial.number, "loss": trial_loss, **point}
                                | {f"sim_{t.label}": v for t, v in zip(goals, sim, strict=True)})  # fmt: skip
        table = pd.DataFrame(rows)
        best_row = table.loc[table["loss"].idxmin()]
        best = {p.key: p.cast(float(best_row[p.key])) for p in specs}
        target_table = pd.DataFrame(
            [
                {"target": t.label, "metric": t.metric, "day": t.day, "real": t.real, "value": t.value,
                 "tolerance": t.tolerance, "simulated": float(best_row[f"sim_{t.label}"]),
                 "z": (float(best_row[f"sim_{t.label}"]) - t.value) / t.tolerance}
                for t in goals
            ]
        )  # fmt: skip
        write_parquet(table, exp.directory / "trials.parquet")
        write_calibration_report(exp.directory, exp.experiment_id, sc.name, table, target_table, best,
                                 float(best_row["loss"]))  # fmt: skip
        header = [
            f"Fitted by scslab calibrate: experiment {exp.experiment_id}, {trials} trials x {seeds} seeds,",
            f"loss {float(best_row['loss']):.6g} (sum of squared (simulated - target) / tolerance).",
        ]
        path = Path(out) if out is not None else exp.directory / "fitted.toml"
        write_fitted(sc, best, reference, path, header)
    return CalibrationResult(
        exp.experiment_id,
        exp.directory,
        trials * seeds,
        exp.executed,
        best,
        float(best_row["loss"]),
        table,
        target_table,
        path,
    )


def simulated(targets: Sequence[Target], record: Record) -> list[float]:
    """Each target's figure in one run: the summary figure, or as if the run ended on the target's day."""
    timeseries = record.timeseries() if any(t.day is not None for t in targets) else None
    values = []
    for t in targets:
        value = (
            record.figures[t.metric] if timeseries is None or t.day is None else figure_at(timeseries, t.metric, t.day)
        )
        values.append(value * float(record.summary["scale"]) if t.real else value)
    return values


def loss(targets: Sequence[Target], simulated: Sequence[float]) -> float:
    """The sum over targets of ((simulated - value) / tolerance)^2."""
    total = sum(((s - t.value) / t.tolerance) ** 2 for t, s in zip(targets, simulated, strict=True))
    return float(total) if math.isfinite(total) else float("inf")


def _study(seed: int) -> Any:
    """A minimising optuna study with a seeded TPE sampler, and optuna's log quiet."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))


def _suggest(trial: Any, p: Param) -> int | float:
    if p.integer:
        return int(trial.suggest_int(p.key, math.ceil(p.low), math.floor(p.high)))
    return float(trial.suggest_float(p.key, p.low, p.high))
